"""More of PyTorch's elementwise and cumulative math (``hg.floor``, ``hg.log1p``, ``hg.atan2``,
``hg.cumprod``, ``hg.remainder``, ``hg.bitwise_and``...), each a primitive or a composition of
primitives, so gradients (where PyTorch has them) come from the existing VJPs.

Example:
    >>> import hybridgrad as hg
    >>> hg.floor(hg.tensor([1.5, -1.5])).tolist(), hg.log1p(hg.tensor([0.0])).tolist()
    ([1.0, -2.0], [0.0])
"""

# ruff: noqa: A001, A002 - PyTorch names its arguments input, min, max, sorted
from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops import api, elementwise
from hybridgrad.ops.elementwise import ceil, floor, trunc  # noqa: F401 - hg.floor etc.
from hybridgrad.ops.registry import apply


def _axis(dim, ndim: int) -> int:
    return api._axis(dim, ndim)


# Rounding (zero gradient, as PyTorch).
def round(input, *, decimals: int = 0):  # noqa: A001 - PyTorch's name
    """Round half to even (to ``decimals`` places).

    Example:
        >>> import hybridgrad as hg
        >>> hg.round(hg.tensor([2.5, 0.125]), decimals=0).tolist()
        [2.0, 0.0]
    """
    if decimals == 0:
        return elementwise.round(input)
    scale = 10.0 ** decimals
    return elementwise.round(input * scale) / scale


fix = trunc


def frac(input):
    """The fractional part, ``input - trunc(input)`` (gradient 1).

    Example:
        >>> import hybridgrad as hg
        >>> hg.frac(hg.tensor([1.25, -1.25])).tolist()
        [0.25, -0.25]
    """
    return input - trunc(input)


# Trigonometric and hyperbolic functions.
def tan(input):
    """Tangent. Example: ``hg.tan(hg.tensor([0.0])).tolist() == [0.0]``."""
    return apply("tan", input)


def asin(input):
    """Arcsine. Example: ``hg.asin(hg.tensor([0.0])).tolist() == [0.0]``."""
    return apply("asin", input)


def acos(input):
    """Arccosine. Example: ``hg.acos(hg.tensor([1.0])).tolist() == [0.0]``."""
    return apply("acos", input)


def atan(input):
    """Arctangent. Example: ``hg.atan(hg.tensor([0.0])).tolist() == [0.0]``."""
    return apply("atan", input)


def sinh(input):
    """Hyperbolic sine. Example: ``hg.sinh(hg.tensor([0.0])).tolist() == [0.0]``."""
    return apply("sinh", input)


def cosh(input):
    """Hyperbolic cosine. Example: ``hg.cosh(hg.tensor([0.0])).tolist() == [1.0]``."""
    return apply("cosh", input)


def asinh(input):
    """Inverse hyperbolic sine. Example: ``hg.asinh(hg.tensor([0.0])).tolist() == [0.0]``."""
    return apply("asinh", input)


def acosh(input):
    """Inverse hyperbolic cosine. Example: ``hg.acosh(hg.tensor([1.0])).tolist() == [0.0]``."""
    return apply("acosh", input)


def atanh(input):
    """Inverse hyperbolic tangent. Example: ``hg.atanh(hg.tensor([0.0])).tolist() == [0.0]``."""
    return apply("atanh", input)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def atan2(input, other):
    """The angle of the point (other, input), in (-pi, pi]: ``atan2(y, x)``.

    Example:
        >>> import hybridgrad as hg
        >>> angles = hg.atan2(hg.tensor([1.0, 1.0, -1.0, 0.0]), hg.tensor([1.0, -1.0, -1.0, -1.0]))
        >>> [float(f"{v:.4f}") for v in angles.tolist()]
        [0.7854, 2.3562, -2.3562, 3.1416]
    """
    y, x = input, other
    safe_x = api.where(x == 0, 1.0, x)  # keeps the unused branches (and their gradients) finite
    base = atan(y / safe_x)
    upper = api.where(y >= 0, base + math.pi, base - math.pi)
    vertical = api.where(y > 0, math.pi / 2, api.where(y < 0, -math.pi / 2, 0.0))
    return api.where(x > 0, base, api.where(x < 0, upper, vertical))


arctan2 = atan2


# Exponentials and logarithms.
def log1p(input):
    """``log(1 + x)``, accurate for small x (gradient ``1/(1+x)``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.log1p(hg.tensor([1e-10], dtype=hg.float64)).item() == float(np.log1p(1e-10))
        True
    """
    return _accurate(input, api.log(input + 1), np.log1p)


def expm1(input):
    """``exp(x) - 1``, accurate for small x (gradient ``exp(x)``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.expm1(hg.tensor([1e-10], dtype=hg.float64)).item() == float(np.expm1(1e-10))
        True
    """
    return _accurate(input, api.exp(input) - 1, np.expm1)


def _accurate(input, composed, exact):
    """The composition's graph with NumPy's accurate values (their difference is a constant)."""
    from hybridgrad.ops.values import is_eager, wrap

    if not is_eager(composed):
        return composed  # a symbol: the composition itself
    array = composed._array
    source = input._array if is_eager(input) else np.asarray(input)
    correction = exact(source).astype(array.dtype) - array
    return composed + wrap(correction)


def log2(input):
    """Base-2 logarithm. Example: ``hg.log2(hg.tensor([8.0])).tolist() == [3.0]``."""
    return api.log(input) / math.log(2.0)


def log10(input):
    """Base-10 logarithm. Example: ``hg.log10(hg.tensor([100.0])).tolist() == [2.0]``."""
    return api.log(input) / math.log(10.0)


def exp2(input):
    """``2 ** x``. Example: ``hg.exp2(hg.tensor([3.0])).tolist() == [8.0]``."""
    return api.exp(input * math.log(2.0))


def rsqrt(input):
    """``1 / sqrt(x)``. Example: ``hg.rsqrt(hg.tensor([4.0])).tolist() == [0.5]``."""
    return 1.0 / api.sqrt(input)


def reciprocal(input):
    """``1 / x``. Example: ``hg.reciprocal(hg.tensor([4.0])).tolist() == [0.25]``."""
    return 1.0 / input


def square(input):
    """``x * x``. Example: ``hg.square(hg.tensor([3.0])).tolist() == [9.0]``."""
    return input * input


# The primitive (one overflow-free kernel, exported to ONNX as Max + Softplus).
logaddexp = api.logaddexp


def sgn(input):
    """The sign (PyTorch's ``sgn``, equal to ``sign`` for real tensors)."""
    return api.sign(input)


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None):
    """Replace NaN by ``nan`` and infinities by ``posinf``/``neginf`` (the dtype's extremes).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nan_to_num(hg.tensor([float("nan"), 1.0])).tolist()
        [0.0, 1.0]
    """
    info = np.finfo(input.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    result = api.where(api.isnan(input), nan, input)
    result = api.where(isposinf(input), float(posinf), result)
    return api.where(isneginf(input), float(neginf), result)


# Division, remainders.
def div(input, other, *, rounding_mode: str | None = None):
    """Division; ``rounding_mode`` ``"trunc"`` or ``"floor"`` rounds the quotient (PyTorch's
    ``div``; integer inputs keep their dtype when rounded).

    Example:
        >>> import hybridgrad as hg
        >>> hg.div(hg.tensor([-7, 7]), 2, rounding_mode="floor").tolist()
        [-4, 3]
    """
    if rounding_mode is None:
        return api.div(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    integral = all(getattr(v, "dtype", np.dtype(type(v))).kind in "iu"
                   for v in (input, other) if not isinstance(v, bool))
    if integral:
        quotient = apply("trunc_div", input, other)
        if rounding_mode == "trunc":
            return quotient
        # Floor differs from truncation where the remainder is non-zero and of the other sign.
        remainder = input - quotient * other
        adjust = api.logical_and(remainder != 0, (remainder < 0) != (other < 0))
        return quotient - api.to(adjust, quotient.dtype)
    quotient = api.div(input, other)
    return floor(quotient) if rounding_mode == "floor" else trunc(quotient)


divide = div
true_divide = api.div
multiply = api.mul
subtract = api.sub
negative = api.neg


def floor_divide(input, other):
    """Division rounded down (``//``). Example: ``hg.floor_divide(hg.tensor([7]), 2) -> [3]``."""
    return div(input, other, rounding_mode="floor")


def remainder(input, other):
    """Python's modulo (sign of the divisor). Example: ``remainder(-3, 2) == 1``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.remainder(hg.tensor([-3.0, 3.0]), 2).tolist()
        [1.0, 1.0]
    """
    return apply("remainder", input, other)


def fmod(input, other):
    """C's modulo (sign of the dividend).

    Example:
        >>> import hybridgrad as hg
        >>> hg.fmod(hg.tensor([-3.0, 3.0]), 2).tolist()
        [-1.0, 1.0]
    """
    return apply("fmod", input, other)


# Tests and bitwise operations (no gradient).
def isinf(input):
    """Elementwise infinity test. Example: ``hg.isinf(hg.tensor([float("inf")]))``."""
    return apply("isinf", input)


def isposinf(input):
    """Elementwise +infinity test."""
    return api.logical_and(isinf(input), input > 0)


def isneginf(input):
    """Elementwise -infinity test."""
    return api.logical_and(isinf(input), input < 0)


def isreal(input):
    """True everywhere (hybridgrad tensors are real)."""
    return input == input if input.dtype.kind != "f" else api.logical_or(input == input,
                                                                       api.isnan(input))


def logical_xor(input, other):
    """Elementwise exclusive or of truth values.

    Example:
        >>> import hybridgrad as hg
        >>> hg.logical_xor(hg.tensor([True, False]), hg.tensor([True, True])).tolist()
        [False, True]
    """
    return apply("logical_xor", input, other)


def _bitwise(name, input, other=None):
    for value in (input, other):
        dtype = getattr(value, "dtype", None)
        if dtype is not None and dtype.kind == "f":
            raise RuntimeError(f"{name}: bitwise operations need integer or bool tensors, got "
                               f"{dtype}")
    return apply(name, input) if other is None else apply(name, input, other)


def bitwise_and(input, other):
    """Elementwise ``&``. Example: ``hg.bitwise_and(hg.tensor([6]), 3).tolist() == [2]``."""
    return _bitwise("bitwise_and", input, other)


def bitwise_or(input, other):
    """Elementwise ``|``. Example: ``hg.bitwise_or(hg.tensor([4]), 1).tolist() == [5]``."""
    return _bitwise("bitwise_or", input, other)


def bitwise_xor(input, other):
    """Elementwise ``^``. Example: ``hg.bitwise_xor(hg.tensor([6]), 3).tolist() == [5]``."""
    return _bitwise("bitwise_xor", input, other)


def bitwise_not(input):
    """Elementwise ``~`` (logical not for bool tensors)."""
    return _bitwise("bitwise_not", input)


def bitwise_left_shift(input, other):
    """Elementwise ``<<``."""
    return _bitwise("left_shift", input, other)


def bitwise_right_shift(input, other):
    """Elementwise ``>>``."""
    return _bitwise("right_shift", input, other)


# Clamping, interpolation.
def clamp_min(input, min):  # noqa: A002 - PyTorch's names
    """``max(input, min)``. Example: ``hg.clamp_min(hg.tensor([-1.0]), 0).tolist() == [0.0]``."""
    return api.clamp(input, min, None)


def clamp_max(input, max):  # noqa: A002
    """``min(input, max)``. Example: ``hg.clamp_max(hg.tensor([3.0]), 1).tolist() == [1.0]``."""
    return api.clamp(input, None, max)


def lerp(input, end, weight):
    """``input + weight * (end - input)``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.lerp(hg.tensor([0.0]), hg.tensor([10.0]), 0.25).tolist()
        [2.5]
    """
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    return input + value * (tensor1 * tensor2)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``."""
    return input + value * (tensor1 / tensor2)


# Cumulative operations.
def cumsum(input, dim: int, *, dtype=None):
    """Running sum along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.cumsum(hg.tensor([[1, 2], [3, 4]]), dim=0).tolist()
        [[1, 2], [4, 6]]
    """
    if dtype is not None:
        input = api.to(input, dtype)
    elif input.dtype.kind in "bu" or (input.dtype.kind == "i" and input.dtype != np.int64):
        input = api.to(input, np.int64)  # PyTorch accumulates integers in int64
    return apply("cumsum", input, axis=_axis(dim, len(input.shape)), exclusive=False,
                 reverse=False)


def cumprod(input, dim: int, *, dtype=None):
    """Running product along ``dim`` (differentiable, zeros included: built from products).

    Example:
        >>> import hybridgrad as hg
        >>> hg.cumprod(hg.tensor([1.0, 2.0, 3.0, 0.0, 5.0]), dim=0).tolist()
        [1.0, 2.0, 6.0, 0.0, 0.0]
    """
    if dtype is not None:
        input = api.to(input, dtype)
    axis = _axis(dim, len(input.shape))
    length = input.shape[axis]
    if length == 0:
        return input
    prefix = [slice(None)] * axis
    running = api.getitem(input, tuple(prefix + [slice(0, 1)]))
    pieces = [running]
    for position in range(1, length):
        running = running * api.getitem(input, tuple(prefix + [slice(position, position + 1)]))
        pieces.append(running)
    return api.cat(pieces, axis)


def cummax(input, dim: int):
    """Running maximum along ``dim``: ``(values, indices)``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.cummax(hg.tensor([1.0, 3.0, 2.0]), 0).indices.tolist()
        [0, 1, 1]
    """
    axis = _axis(dim, len(input.shape))
    array = input._array
    values = np.maximum.accumulate(array, axis=axis)
    positions = np.arange(array.shape[axis]).reshape(
        [-1 if i == axis else 1 for i in range(array.ndim)])
    hits = np.where(array == values, positions, -1)
    indices = np.maximum.accumulate(hits, axis=axis).astype(np.int64)
    return api.ReductionResult(api.gather(input, dim, type(input)._wrap(indices)),
                             type(input)._wrap(indices))


def diff(input, n: int = 1, dim: int = -1):
    """Differences of neighbours along ``dim``, ``n`` times.

    Example:
        >>> import hybridgrad as hg
        >>> hg.diff(hg.tensor([1, 4, 9, 16])).tolist()
        [3, 5, 7]
    """
    axis = _axis(dim, len(input.shape))
    prefix = [slice(None)] * axis
    for _ in range(n):
        input = (api.getitem(input, tuple(prefix + [slice(1, None)]))
                 - api.getitem(input, tuple(prefix + [slice(None, -1)])))
    return input


__all__ = [
    "acos", "acosh", "addcdiv", "addcmul", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "ceil", "clamp_max", "clamp_min", "cosh", "cummax", "cumprod", "cumsum", "diff", "div",
    "divide", "exp2", "expm1", "fix", "floor", "floor_divide", "fmod", "frac", "isinf",
    "isneginf", "isposinf", "isreal", "lerp", "log10", "log1p", "log2", "logaddexp",
    "logical_xor", "multiply", "nan_to_num", "negative", "reciprocal", "remainder", "round",
    "rsqrt", "sgn", "sinh", "square", "subtract", "tan", "trunc", "true_divide",
]
