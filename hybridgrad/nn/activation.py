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
from hybridgrad.ops.gpt_fused import gelu as fused_gelu

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
        # One fused primitive (forward and closed-form backward in a few array passes), not the
        # five-primitive composite x * 0.5 * (erf(x / sqrt 2) + 1): 5x faster on a transformer's
        # MLP activation (benchmarks/gpt_attention.py).
        return fused_gelu(input)
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


# ----------------------------------------------------------------------------------------------
# More of PyTorch's activations (functional forms, then modules), all compositions.


def relu6(input, inplace: bool = False):
    """``min(max(input, 0), 6)``.

    Example:
        >>> import hybridgrad as hg
        >>> relu6(hg.tensor([-1.0, 3.0, 9.0])).tolist()
        [0.0, 3.0, 6.0]
    """
    return api.clamp(input, 0.0, 6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """``clamp(input, min_val, max_val)``.

    Example:
        >>> import hybridgrad as hg
        >>> hardtanh(hg.tensor([-3.0, 0.5])).tolist()
        [-1.0, 0.5]
    """
    return api.clamp(input, float(min_val), float(max_val))


def hardsigmoid(input, inplace: bool = False):
    """``relu6(input + 3) / 6``.

    Example:
        >>> import hybridgrad as hg
        >>> hardsigmoid(hg.tensor([-4.0, 0.0, 4.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    return api.clamp(input + 3.0, 0.0, 6.0) / 6.0


def hardswish(input, inplace: bool = False):
    """``input * hardsigmoid(input)``.

    Example:
        >>> import hybridgrad as hg
        >>> hardswish(hg.tensor([-4.0, 4.0])).tolist()
        [-0.0, 4.0]
    """
    return input * hardsigmoid(input)


def mish(input, inplace: bool = False):
    """``input * tanh(softplus(input))``.

    Example:
        >>> import hybridgrad as hg
        >>> mish(hg.tensor([0.0])).tolist()
        [0.0]
    """
    return input * api.tanh(api.softplus(input))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace: bool = False):
    """``scale * elu(input, alpha)`` with the self-normalising constants.

    Example:
        >>> import hybridgrad as hg
        >>> float(f"{selu(hg.tensor([1.0])).item():.4f}")
        1.0507
    """
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def celu(input, alpha: float = 1.0, inplace: bool = False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Example:
        >>> import hybridgrad as hg
        >>> celu(hg.tensor([2.0])).tolist()
        [2.0]
    """
    negative = api.clamp(input, None, 0.0)
    return api.relu(input) + (api.exp(negative / alpha) - 1) * alpha


def softsign(input):
    """``input / (1 + |input|)``.

    Example:
        >>> import hybridgrad as hg
        >>> softsign(hg.tensor([1.0, -3.0])).tolist()
        [0.5, -0.75]
    """
    return input / (api.abs(input) + 1)


def logsigmoid(input):
    """``log(sigmoid(input))`` without overflow (``-softplus(-input)``).

    Example:
        >>> import hybridgrad as hg
        >>> float(f"{logsigmoid(hg.tensor([-100.0])).item():.1f}")
        -100.0
    """
    return -api.softplus(-input)


def softmin(input, dim: int | None = None):
    """``softmax(-input, dim)``.

    Example:
        >>> import hybridgrad as hg
        >>> softmin(hg.tensor([0.0, 0.0]), 0).tolist()
        [0.5, 0.5]
    """
    return api.softmax(-input, -1 if dim is None else dim)


def glu(input, dim: int = -1):
    """Gated linear unit: the first half of ``dim`` times the sigmoid of the second half.

    Example:
        >>> import hybridgrad as hg
        >>> glu(hg.tensor([2.0, 0.0])).tolist()
        [1.0]
    """
    first, second = api.chunk(input, 2, dim)
    return first * api.sigmoid(second)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """``input`` where above ``threshold``, else ``value``.

    Example:
        >>> import hybridgrad as hg
        >>> threshold(hg.tensor([0.5, 2.0]), 1.0, -1.0).tolist()
        [-1.0, 2.0]
    """
    return api.where(input > threshold, input, float(value))


def tanhshrink(input):
    """``input - tanh(input)``.

    Example:
        >>> import hybridgrad as hg
        >>> tanhshrink(hg.tensor([0.0])).tolist()
        [0.0]
    """
    return input - api.tanh(input)


def prelu(input, weight):
    """``input`` where positive, else ``weight * input`` (one weight per channel, dim 1).

    Example:
        >>> import hybridgrad as hg
        >>> prelu(hg.tensor([[-2.0, 2.0]]), hg.tensor([0.5])).tolist()
        [[-1.0, 2.0]]
    """
    if weight.shape[0] > 1 and len(input.shape) >= 2:
        weight = api.reshape(weight, (-1,) + (1,) * (len(input.shape) - 2))
    return api.where(input > 0, input, input * weight)


def _simple_module(name: str, function, doc_example: str, **defaults):
    """A Module class applying ``function`` with keyword settings (PyTorch's argument names)."""

    def __init__(self, *args, **kwargs):  # noqa: N807 - the class body's __init__
        Module.__init__(self)
        settings = dict(defaults)
        settings.update(zip(defaults, args))
        settings.update(kwargs)
        for key, value in settings.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_settings", tuple(settings))

    def forward(self, input):
        return function(input, **{key: getattr(self, key) for key in self._settings
                                  if key != "inplace"})

    def extra_repr(self):
        return ", ".join(f"{key}={getattr(self, key)}" for key in self._settings)

    doc = f"Applies :func:`{function.__name__}` elementwise.\n\n    Example:\n{doc_example}"
    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__doc__": doc,
                                  "__module__": __name__})


ReLU6 = _simple_module("ReLU6", relu6, """        >>> import hybridgrad as hg
        >>> hg.nn.ReLU6()(hg.tensor([7.0])).tolist()
        [6.0]
    """, inplace=False)
Hardtanh = _simple_module("Hardtanh", hardtanh, """        >>> import hybridgrad as hg
        >>> hg.nn.Hardtanh(-2, 2)(hg.tensor([3.0])).tolist()
        [2.0]
    """, min_val=-1.0, max_val=1.0, inplace=False)
Hardsigmoid = _simple_module("Hardsigmoid", hardsigmoid, """        >>> import hybridgrad as hg
        >>> hg.nn.Hardsigmoid()(hg.tensor([0.0])).tolist()
        [0.5]
    """, inplace=False)
Hardswish = _simple_module("Hardswish", hardswish, """        >>> import hybridgrad as hg
        >>> hg.nn.Hardswish()(hg.tensor([4.0])).tolist()
        [4.0]
    """, inplace=False)
Mish = _simple_module("Mish", mish, """        >>> import hybridgrad as hg
        >>> hg.nn.Mish()(hg.tensor([0.0])).tolist()
        [0.0]
    """, inplace=False)
SELU = _simple_module("SELU", selu, """        >>> import hybridgrad as hg
        >>> hg.nn.SELU()(hg.tensor([0.0])).tolist()
        [0.0]
    """, inplace=False)
CELU = _simple_module("CELU", celu, """        >>> import hybridgrad as hg
        >>> hg.nn.CELU()(hg.tensor([1.0])).tolist()
        [1.0]
    """, alpha=1.0, inplace=False)
Softsign = _simple_module("Softsign", softsign, """        >>> import hybridgrad as hg
        >>> hg.nn.Softsign()(hg.tensor([1.0])).tolist()
        [0.5]
    """)
LogSigmoid = _simple_module("LogSigmoid", logsigmoid, """        >>> import hybridgrad as hg
        >>> hg.nn.LogSigmoid()(hg.tensor([0.0])).tolist()[0] < 0
        True
    """)
Softmin = _simple_module("Softmin", softmin, """        >>> import hybridgrad as hg
        >>> hg.nn.Softmin(dim=0)(hg.tensor([0.0, 0.0])).tolist()
        [0.5, 0.5]
    """, dim=None)
GLU = _simple_module("GLU", glu, """        >>> import hybridgrad as hg
        >>> hg.nn.GLU()(hg.tensor([2.0, 0.0])).tolist()
        [1.0]
    """, dim=-1)
Threshold = _simple_module("Threshold", threshold, """        >>> import hybridgrad as hg
        >>> hg.nn.Threshold(1.0, 0.0)(hg.tensor([0.5, 2.0])).tolist()
        [0.0, 2.0]
    """, threshold=0.0, value=0.0, inplace=False)
Tanhshrink = _simple_module("Tanhshrink", tanhshrink, """        >>> import hybridgrad as hg
        >>> hg.nn.Tanhshrink()(hg.tensor([0.0])).tolist()
        [0.0]
    """)


class PReLU(Module):
    """Leaky ReLU with a learnt slope (one, or one per channel), initialised to ``init``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.PReLU()(hg.tensor([-4.0, 1.0])).tolist()
        [-1.0, 1.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        import numpy as np

        from hybridgrad.device import check_device
        from hybridgrad.nn.module import Parameter

        super().__init__()
        check_device(device)
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, dtype=np.dtype(dtype or "float32")))

    def forward(self, input):
        return prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


__all__ += [
    "CELU", "GLU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "PReLU",
    "ReLU6", "SELU", "Softmin", "Softsign", "Tanhshrink", "Threshold", "celu", "glu",
    "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish", "prelu", "relu6", "selu",
    "softmin", "softsign", "tanhshrink", "threshold",
]


def hardshrink(input, lambd: float = 0.5):
    """``input`` where ``|input| > lambd``, else 0.

    Example:
        >>> import hybridgrad as hg
        >>> hardshrink(hg.tensor([0.25, -1.0])).tolist()
        [0.0, -1.0]
    """
    return api.where(api.abs(input) > lambd, input, 0.0)


def softshrink(input, lambd: float = 0.5):
    """Shrink towards 0 by ``lambd`` (0 inside [-lambd, lambd]).

    Example:
        >>> import hybridgrad as hg
        >>> softshrink(hg.tensor([0.25, -1.0])).tolist()
        [0.0, -0.5]
    """
    return api.where(input > lambd, input - lambd, api.where(input < -lambd, input + lambd, 0.0))


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    """Randomised leaky ReLU: a slope drawn from U(lower, upper) per element while training,
    their mean in evaluation.

    Example:
        >>> import hybridgrad as hg
        >>> rrelu(hg.tensor([-3.0]), 0.5, 0.5).tolist()
        [-1.5]
    """
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    from hybridgrad.random import default_generator
    from hybridgrad.tensor import Tensor

    slopes = default_generator().uniform(lower, upper, tuple(input.shape))
    return api.where(input >= 0, input, input * Tensor._wrap(slopes.astype(input.dtype)))


def gumbel_softmax(logits, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1):
    """Softmax of ``(logits + Gumbel noise) / tau``; ``hard`` returns one-hot samples with the
    soft sample's gradient (straight-through).

    Example:
        >>> import hybridgrad as hg
        >>> sample = gumbel_softmax(hg.zeros(2, 3), hard=True)
        >>> sample.sum(-1).tolist()
        [1.0, 1.0]
    """
    import numpy as np

    from hybridgrad.random import default_generator
    from hybridgrad.tensor import Tensor

    noise = -np.log(default_generator().exponential(size=tuple(logits.shape)))
    soft = api.softmax((logits + Tensor._wrap(noise.astype(logits.dtype))) / tau, dim)
    if not hard:
        return soft
    index = np.argmax(soft._array, axis=dim)
    one_hot = np.zeros(tuple(soft.shape), dtype=soft.dtype)
    np.put_along_axis(one_hot, np.expand_dims(index, dim), 1.0, axis=dim)
    return Tensor._wrap(one_hot) - soft.detach() + soft


def _inplace_functional(function):
    """``api.relu_(x)``-style functions: the activation written into ``x``."""

    def inplace(input, *args, **kwargs):
        from hybridgrad.inplace import apply_inplace

        return apply_inplace(input, function.__name__ + "_",
                             lambda x: function(x, *args, **kwargs))

    inplace.__name__ = function.__name__ + "_"
    inplace.__doc__ = (f"In-place :func:`{function.__name__}`.\n\n    Example:\n"
                       f"        >>> import hybridgrad as hg\n"
                       f"        >>> x = hg.tensor([-1.0]); hg.nn.functional.relu_(x) is x\n"
                       f"        True\n")
    return inplace


relu_ = _inplace_functional(relu)
elu_ = _inplace_functional(elu)
leaky_relu_ = _inplace_functional(leaky_relu)
hardtanh_ = _inplace_functional(hardtanh)
threshold_ = _inplace_functional(threshold)
selu_ = _inplace_functional(selu)
celu_ = _inplace_functional(celu)
rrelu_ = _inplace_functional(rrelu)

Hardshrink = _simple_module("Hardshrink", hardshrink, """        >>> import hybridgrad as hg
        >>> hg.nn.Hardshrink()(hg.tensor([0.25, 1.0])).tolist()
        [0.0, 1.0]
    """, lambd=0.5)
Softshrink = _simple_module("Softshrink", softshrink, """        >>> import hybridgrad as hg
        >>> hg.nn.Softshrink(1.0)(hg.tensor([3.0])).tolist()
        [2.0]
    """, lambd=0.5)
RReLU = _simple_module("RReLU", rrelu, """        >>> import hybridgrad as hg
        >>> hg.nn.RReLU(0.5, 0.5)(hg.tensor([-2.0])).tolist()
        [-1.0]
    """, lower=1.0 / 8, upper=1.0 / 3, inplace=False)


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) inputs.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Softmax2d()(hg.zeros(1, 2, 1, 1)).tolist()
        [[[[0.5]], [[0.5]]]]
    """

    def forward(self, input):
        return api.softmax(input, -3)


__all__ += ["Hardshrink", "RReLU", "Softmax2d", "Softshrink", "celu_", "elu_", "gumbel_softmax",
            "hardshrink", "hardtanh_", "leaky_relu_", "relu_", "rrelu", "rrelu_", "selu_",
            "softshrink", "threshold_"]
