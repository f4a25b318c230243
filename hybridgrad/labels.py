"""PyTorch's ``one_hot``: integer class indices to one-hot rows. It lives at the tensor layer
(it reads index values; for symbols it composes primitives), below ``nn.functional`` and
``data``, which both re-export it.

Example:
    >>> import hybridgrad as hg
    >>> one_hot(hg.tensor([1, 0]), num_classes=3).tolist()
    [[0, 1, 0], [1, 0, 0]]
"""

from __future__ import annotations

import numpy as np

from hybridgrad.ops import api
from hybridgrad.ops.registry import SymbolicValue
from hybridgrad.tensor import Tensor, arange


def one_hot(tensor, num_classes: int = -1):
    """One-hot encode integer class indices: shape ``(*, num_classes)``, dtype int64.

    As ``torch.nn.functional.one_hot``: ``num_classes=-1`` means ``max(tensor) + 1``; indices
    must be non-negative and below ``num_classes``. Not differentiable (integer output); cast
    with ``.float()`` for losses.

    Example:
        >>> import hybridgrad as hg
        >>> one_hot(hg.tensor([0, 2, 1])).tolist()
        [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
        >>> one_hot(hg.tensor([1]), num_classes=4).dtype
        dtype('int64')
    """
    if isinstance(tensor, SymbolicValue):
        return _one_hot_graph(tensor, num_classes)
    array = tensor._array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if array.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to integer index tensors, got dtype "
                        f"{array.dtype}")
    if isinstance(num_classes, bool) or int(num_classes) != num_classes:
        raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
    num_classes = int(num_classes)
    if array.size and array.min() < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(array.min())}")
    if num_classes == -1:
        if array.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = int(array.max()) + 1
    elif num_classes < 0:
        raise RuntimeError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    elif array.size and array.max() >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                           f"({num_classes}), got {int(array.max())}")
    out = (array[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out)


def _one_hot_graph(indices, num_classes: int):
    """one_hot composed of primitives (eq, cast), for symbols and tracers: values unknown yet."""
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 0:
        raise ValueError(f"one_hot: a symbolic input needs an explicit num_classes >= 0 (it "
                         f"cannot be inferred before the values exist), got {num_classes!r}")
    classes = arange(int(num_classes))
    return api.to(api.eq(api.unsqueeze(indices, -1), classes), np.int64)
