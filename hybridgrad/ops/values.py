"""Wrapping computed arrays as eager tensors from the operator layer, without importing the
tensor module (dependencies point one way): ``hybridgrad.tensor`` registers its wrapper here
when it loads, as the autograd engine registers the eager handler with the registry.

Used by the value-level functions (``sort``'s indices, ``nonzero``, ``unique``...), whose
results are computed with NumPy and carry no gradient.

Example:
    >>> import numpy as np, hybridgrad as hg
    >>> wrap(np.arange(3)).tolist()
    [0, 1, 2]
"""

from __future__ import annotations

import numpy as np

_wrapper = None


def set_tensor_wrapper(wrapper) -> None:
    """Install the function that turns an array into an eager tensor (``Tensor._wrap``)."""
    global _wrapper
    _wrapper = wrapper


def wrap(array):
    """An eager tensor holding ``array`` (no copy, no gradient)."""
    return _wrapper(np.asarray(array))


def is_eager(value) -> bool:
    """True for an eager tensor (not a symbol, not a plain array or number)."""
    from hybridgrad.ops.registry import SymbolicValue

    return (not isinstance(value, SymbolicValue)
            and isinstance(getattr(value, "_array", None), np.ndarray))
