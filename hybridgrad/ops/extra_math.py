"""More elementwise primitives: rounding, inverse/hyperbolic trigonometry, remainders, bitwise
logic and cumulative sums (needed by ONNX import, usable everywhere).

Rounding functions have a zero gradient (like PyTorch); bitwise and integer operators have none.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops.extra_math import floor, cumsum
    >>> floor(hg.tensor([1.5, -1.5])).tolist()
    [1.0, -2.0]
    >>> cumsum(hg.tensor([1.0, 2.0, 3.0]), 0).tolist()
    [1.0, 3.0, 6.0]
"""

from __future__ import annotations

import numpy as np

from hybridgrad.ops import api as F
from hybridgrad.ops.registry import Spec, apply, elementwise_rule, register

_CHECKS = "tests/onnx/test_extra_math.py"


def _register(name: str, **kwargs):
    """Register a primitive whose gradient checks live in this module's test file."""
    if kwargs.get("vjp") is not None:
        kwargs.setdefault("gradcheck", _CHECKS)
    return register(name, **kwargs)


def _unary(name, forward, vjp, formula, derivative, float_only=True):
    _register(
        name, shape=elementwise_rule(name, "float" if float_only else "promote"), vjp=vjp,
        formula=formula, derivatives=(derivative,), float_only=float_only, arg_names=("a",),
    )(forward)


def _zero_grad(g, inputs, out, needs):
    return (g * 0,)


_unary("floor", lambda xp, a: xp.floor(a), _zero_grad, "floor({a})", "0", float_only=False)
_unary("ceil", lambda xp, a: xp.ceil(a), _zero_grad, "ceil({a})", "0", float_only=False)
# NumPy's round is round-half-to-even, as ONNX's Round and PyTorch's round.
_unary("round", lambda xp, a: xp.round(a), _zero_grad, "round({a})", "0", float_only=False)
_unary("trunc", lambda xp, a: xp.trunc(a), _zero_grad, "trunc({a})", "0", float_only=False)
_unary("tan", lambda xp, a: xp.tan(a), lambda g, i, out, needs: (g * (1 + out * out),),
       "tan({a})", "1 + tan({a})^2")
_unary("asin", lambda xp, a: xp.arcsin(a),
       lambda g, i, out, needs: (g / F.sqrt(1 - i[0] * i[0]),), "asin({a})", "1/sqrt(1 - {a}^2)")
_unary("acos", lambda xp, a: xp.arccos(a),
       lambda g, i, out, needs: (-(g / F.sqrt(1 - i[0] * i[0])),), "acos({a})",
       "-1/sqrt(1 - {a}^2)")
_unary("atan", lambda xp, a: xp.arctan(a), lambda g, i, out, needs: (g / (1 + i[0] * i[0]),),
       "atan({a})", "1/(1 + {a}^2)")
_unary("sinh", lambda xp, a: xp.sinh(a), lambda g, i, out, needs: (g * apply("cosh", i[0]),),
       "sinh({a})", "cosh({a})")
_unary("cosh", lambda xp, a: xp.cosh(a), lambda g, i, out, needs: (g * apply("sinh", i[0]),),
       "cosh({a})", "sinh({a})")
_unary("asinh", lambda xp, a: xp.arcsinh(a),
       lambda g, i, out, needs: (g / F.sqrt(i[0] * i[0] + 1),), "asinh({a})",
       "1/sqrt({a}^2 + 1)")
_unary("acosh", lambda xp, a: xp.arccosh(a),
       lambda g, i, out, needs: (g / F.sqrt(i[0] * i[0] - 1),), "acosh({a})",
       "1/sqrt({a}^2 - 1)")
_unary("atanh", lambda xp, a: xp.arctanh(a), lambda g, i, out, needs: (g / (1 - i[0] * i[0]),),
       "atanh({a})", "1/(1 - {a}^2)")


def _binary(name, forward, vjp, formula, derivatives):
    _register(name, shape=elementwise_rule(name), vjp=vjp, formula=formula,
                   derivatives=derivatives, promotes=True, arg_names=("a", "b"))(forward)


# remainder: Python's/NumPy's mod (sign of the divisor); fmod: C's (sign of the dividend).
_binary("remainder", lambda xp, a, b: xp.mod(a, b),
        lambda g, i, out, needs: (g if needs[0] else None,
                                  -(g * floor(i[0] / i[1])) if needs[1] else None),
        "{a} mod {b}", ("1", "-floor({a}/{b})"))
_binary("fmod", lambda xp, a, b: xp.fmod(a, b),
        lambda g, i, out, needs: (g if needs[0] else None,
                                  -(g * trunc(i[0] / i[1])) if needs[1] else None),
        "fmod({a}, {b})", ("1", "-trunc({a}/{b})"))


def _int_div(xp, a, b):
    # C-style division truncating toward zero (ONNX's and PyTorch's integer division).
    if a.dtype.kind in "iu":
        quotient = xp.abs(a) // xp.where(b == 0, 1, xp.abs(b))
        return (xp.sign(a) * xp.sign(b) * quotient).astype(a.dtype)
    return xp.trunc(a / b)


_register("trunc_div", shape=elementwise_rule("trunc_div"), formula="trunc({a} / {b})",
               promotes=True, arg_names=("a", "b"))(_int_div)

# Each forward looks its ufunc up by name on the array module it is given (xp), never on NumPy.
for _name, _function, _symbol in [
    ("bitwise_and", "bitwise_and", "&"), ("bitwise_or", "bitwise_or", "|"),
    ("bitwise_xor", "bitwise_xor", "^"), ("left_shift", "left_shift", "<<"),
    ("right_shift", "right_shift", ">>"),
]:
    _register(_name, shape=elementwise_rule(_name), formula="{a} " + _symbol + " {b}",
                   promotes=True, arg_names=("a", "b"))(
        (lambda function: lambda xp, a, b: getattr(xp, function)(a, b))(_function))
_register("logical_xor", shape=elementwise_rule("logical_xor", "bool"),
               formula="{a} xor {b}", promotes=True, arg_names=("a", "b"))(
    lambda xp, a, b: xp.logical_xor(a, b))
_register("bitwise_not", shape=elementwise_rule("bitwise_not"), formula="~{a}",
               arg_names=("a",))(lambda xp, a: xp.invert(a))
_register("isinf", shape=elementwise_rule("isinf", "bool"), formula="isinf({a})",
               arg_names=("a",))(lambda xp, a: xp.isinf(a))


def _cumsum_forward(xp, a, axis, exclusive, reverse):
    if reverse:
        a = xp.flip(a, axis)
    out = xp.cumsum(a, axis=axis, dtype=a.dtype)
    if exclusive:
        out = out - a
    if reverse:
        out = xp.flip(out, axis)
    return out


def _cumsum_vjp(g, inputs, out, needs, axis, exclusive, reverse):
    # The adjoint of a running sum is the running sum in the other direction.
    return (apply("cumsum", g, axis=axis, exclusive=exclusive, reverse=not reverse),)


_register("cumsum", shape=lambda a, axis, exclusive, reverse: Spec(a.shape, a.dtype),
               vjp=_cumsum_vjp, formula="cumsum({a})", derivatives=("1",),
               arg_names=("a",))(_cumsum_forward)


def floor(a):
    """Round down elementwise. Example: ``floor(hg.tensor([1.5])).tolist() == [1.0]``."""
    return apply("floor", a)


def ceil(a):
    """Round up elementwise. Example: ``ceil(hg.tensor([1.5])).tolist() == [2.0]``."""
    return apply("ceil", a)


def round(a):  # noqa: A001 - PyTorch's name
    """Round half to even. Example: ``round(hg.tensor([2.5])).tolist() == [2.0]``."""
    return apply("round", a)


def trunc(a):
    """Round toward zero. Example: ``trunc(hg.tensor([-1.5])).tolist() == [-1.0]``."""
    return apply("trunc", a)


def cumsum(a, dim: int, *, exclusive: bool = False, reverse: bool = False):
    """Cumulative sum along ``dim`` (optionally exclusive and/or from the end).

    Example:
        >>> import hybridgrad as hg
        >>> cumsum(hg.tensor([1.0, 2.0, 3.0]), 0, exclusive=True, reverse=True).tolist()
        [5.0, 3.0, 0.0]
    """
    ndim = len(a.shape)
    return apply("cumsum", a, axis=int(dim) % max(ndim, 1), exclusive=bool(exclusive),
                 reverse=bool(reverse))


def _fft_forward(xp, a, length, inverse, onesided):
    signal = a[..., 0] + 1j * a[..., 1]
    if inverse:
        out = xp.fft.ifft(signal, n=length, axis=-1)
    else:
        out = xp.fft.fft(signal, n=length, axis=-1)
    if onesided:
        out = out[..., :length // 2 + 1]
    real_dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    return xp.stack([out.real, out.imag], -1).astype(real_dtype, copy=False)


def _fft_vjp(g, inputs, out, needs, length, inverse, onesided):
    # The DFT is complex-linear; its adjoint is the conjugate transform: L * ifft for the
    # forward DFT, fft / L for the inverse (zero-padding the one-sided gradient first).
    size = inputs[0].shape[-2]
    if onesided:
        g = F.pad(g, (0, 0, 0, length - g.shape[-2]))
    grad = apply("fft", g, length=length, inverse=not inverse, onesided=False)
    grad = grad * (length if not inverse else 1.0 / length)
    if size < length:
        grad = grad[..., :size, :]
    elif size > length:
        grad = F.pad(grad, (0, 0, 0, size - length))
    return (grad,)


def _fft_shape(a, length, inverse, onesided):
    bins = length // 2 + 1 if onesided else length
    return Spec(tuple(a.shape[:-2]) + (bins, 2), a.dtype)


_register("fft", shape=_fft_shape, vjp=_fft_vjp, formula="fft({a})",
               derivatives=("conjugate transform",), arg_names=("a",))(_fft_forward)


def fft(a, length: int | None = None, *, inverse: bool = False, onesided: bool = False):
    """Discrete Fourier transform along axis -2 of a complex signal stored as (..., n, 2)
    (real, imaginary); ``inverse`` divides by ``length``; ``onesided`` keeps length // 2 + 1
    bins. Differentiable (the adjoint of a DFT is the conjugate DFT).

    Example:
        >>> import hybridgrad as hg
        >>> fft(hg.tensor([[1.0, 0.0], [0.0, 0.0]])).tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """
    length = a.shape[-2] if length is None else int(length)
    return apply("fft", a, length=length, inverse=bool(inverse), onesided=bool(onesided))
