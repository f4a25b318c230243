"""Activation functions: PyTorch's modules (``nn.ReLU``, ``nn.GELU``, ...) and functionals.

Every function is a composition of registered primitives, so gradients (and gradients of
gradients) come from the primitives' VJPs.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.ReLU()(hg.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

import math

from hybridgrad.nn.module import Module
from hybridgrad.ops import api

__all__ = [
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus",
    "Tanh", "elu", "gelu", "leaky_relu", "log_softmax", "relu", "sigmoid", "silu", "softmax",
    "softplus", "tanh",
]


# ----------------------------------------------------------------------------------------------
# Functional forms.


def relu(input, inplace: bool = False):
    """``max(input, 0)`` elementwise (``inplace`` is accepted for PyTorch compatibility).

    Example:
        >>> import hybridgrad as hg
        >>> relu(hg.tensor([-3.0, 0.5])).tolist()
        [0.0, 0.5]
    """
    return api.relu(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """``input`` where positive, else ``negative_slope * input``.

    Example:
        >>> import hybridgrad as hg
        >>> leaky_relu(hg.tensor([-2.0, 3.0]), 0.5).tolist()
        [-1.0, 3.0]
    """
    return api.where(input > 0, input, input * float(negative_slope))


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """``input`` where positive, else ``alpha * (exp(input) - 1)``.

    Example:
        >>> import hybridgrad as hg
        >>> [round(v, 4) for v in elu(hg.tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """
    # exp of the clamped value: the unselected branch must not overflow (inf * 0 = nan in the
    # gradient of where).
    negative = (api.exp(api.clamp(input, max=0.0)) - 1.0) * float(alpha)
    return api.where(input > 0, input, negative)


def gelu(input, approximate: str = "none"):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula.

    Example:
        >>> import hybridgrad as hg
        >>> round(gelu(hg.tensor([1.0])).item(), 4), round(gelu(hg.tensor([1.0]), 'tanh').item(), 4)
        (0.8413, 0.8412)
    """
    if approximate == "none":
        return input * 0.5 * (api.erf(input * (1.0 / math.sqrt(2.0))) + 1.0)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (api.tanh(inner) + 1.0)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace: bool = False):
    """Sigmoid-weighted linear unit (swish) ``x * sigmoid(x)``.

    Example:
        >>> import hybridgrad as hg
        >>> round(silu(hg.tensor([1.0])).item(), 4)
        0.7311
    """
    return input * api.sigmoid(input)


def sigmoid(input):
    """Logistic function ``1 / (1 + exp(-x))``.

    Example:
        >>> import hybridgrad as hg
        >>> sigmoid(hg.tensor([0.0])).tolist()
        [0.5]
    """
    return api.sigmoid(input)


def tanh(input):
    """Hyperbolic tangent.

    Example:
        >>> import hybridgrad as hg
        >>> tanh(hg.tensor([0.0])).tolist()
        [0.0]
    """
    return api.tanh(input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, computed stably.

    Example:
        >>> import hybridgrad as hg
        >>> round(softplus(hg.tensor([0.0])).item(), 4)
        0.6931
    """
    return api.softplus(input, beta=beta, threshold=threshold)


def _softmax_dim(ndim: int, dim) -> int:
    if dim is not None:
        return dim
    # PyTorch's legacy implicit choice when dim is omitted.
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, dtype=None):
    """Softmax along ``dim`` (stable for large inputs).

    Example:
        >>> import hybridgrad as hg
        >>> softmax(hg.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
    """
    if dtype is not None:
        input = input.to(dtype)
    return api.softmax(input, dim=_softmax_dim(len(input.shape), dim))


def log_softmax(input, dim=None, dtype=None):
    """Logarithm of softmax along ``dim``, computed without taking the log of tiny numbers.

    Example:
        >>> import hybridgrad as hg
        >>> round(log_softmax(hg.tensor([0.0, 0.0]), dim=0)[0].item(), 4)
        -0.6931
    """
    if dtype is not None:
        input = input.to(dtype)
    return api.log_softmax(input, dim=_softmax_dim(len(input.shape), dim))


# ----------------------------------------------------------------------------------------------
# Modules.


class ReLU(Module):
    """Applies :func:`relu` elementwise.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.ReLU()(hg.tensor([-1.0, 1.0])).tolist()
        [0.0, 1.0]
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """Applies :func:`leaky_relu` with ``negative_slope``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.LeakyReLU(0.1)(hg.tensor([-10.0, 1.0])).tolist()
        [-1.0, 1.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """Applies :func:`elu` with ``alpha``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.ELU()(hg.tensor([0.0, 1.0])).tolist()
        [0.0, 1.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """Applies :func:`gelu` (``approximate='none'`` exact through erf, or ``'tanh'``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.GELU()(hg.tensor([0.0])).tolist()
        [0.0]
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Applies :func:`silu` (swish).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.SiLU()(hg.tensor([0.0])).tolist()
        [0.0]
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return silu(input)


class Sigmoid(Module):
    """Applies the logistic function.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Sigmoid()(hg.tensor([0.0])).tolist()
        [0.5]
    """

    def forward(self, input):
        return api.sigmoid(input)


class Tanh(Module):
    """Applies the hyperbolic tangent.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Tanh()(hg.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, input):
        return api.tanh(input)


class Softplus(Module):
    """Applies :func:`softplus`.

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.nn.Softplus()(hg.tensor([0.0])).item(), 4)
        0.6931
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Softmax(dim=-1)(hg.zeros(1, 4)).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.nn.LogSoftmax(dim=1)(hg.zeros(1, 2))[0, 0].item(), 4)
        -0.6931
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
