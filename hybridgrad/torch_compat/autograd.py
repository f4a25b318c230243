"""``torch.autograd`` for PyTorch programs: hybridgrad's autograd functions plus the legacy
``Variable`` wrapper that old tutorials still call.

Example:
    >>> import hybridgrad as hg
    >>> x = Variable(hg.tensor([2.0]), requires_grad=True)
    >>> (y,) = grad((x * x).sum(), x)
    >>> y.tolist()
    [4.0]
"""

from __future__ import annotations

from hybridgrad.autograd import (  # noqa: F401 - re-exported under PyTorch's names
    backward,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from hybridgrad.tensor import Tensor


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802
    """PyTorch's pre-0.4 ``Variable``: since 0.4 a Variable is a Tensor, so this returns the
    tensor (asking for gradients when ``requires_grad``), as PyTorch does.

    Example:
        >>> import hybridgrad as hg
        >>> Variable(hg.ones(2)).requires_grad
        False
    """
    tensor = data if isinstance(data, Tensor) else Tensor._wrap(__import__("numpy").asarray(data))
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor
