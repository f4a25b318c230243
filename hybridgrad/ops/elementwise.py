"""Elementwise primitives: unary math, binary arithmetic, comparisons, where, clamp, cast.

Each VJP is written with framework operators (``F``), so it also differentiates itself.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.tensor(0.0, requires_grad=True)
    >>> hg.sigmoid(x).backward()
    >>> x.grad.item()
    0.25
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops import api as F
from hybridgrad.ops.registry import Spec, elementwise_rule, register


def _unary(name, forward, vjp, formula, derivative, float_only=True):
    register(
        name,
        shape=elementwise_rule(name, "float" if float_only else "promote"),
        vjp=vjp,
        formula=formula,
        derivatives=(derivative,),
        float_only=float_only,
        arg_names=("a",),
    )(forward)


_unary("neg", lambda xp, a: xp.negative(a), lambda g, i, out, needs: (-g,),
       "-{a}", "-1", float_only=False)
_unary("exp", lambda xp, a: xp.exp(a), lambda g, i, out, needs: (g * out,),
       "exp({a})", "exp({a})")
_unary("log", lambda xp, a: xp.log(a), lambda g, i, out, needs: (g / i[0],),
       "log({a})", "1/{a}")
_unary("sqrt", lambda xp, a: xp.sqrt(a), lambda g, i, out, needs: (g / (out * 2),),
       "sqrt({a})", "1/(2*sqrt({a}))")
_unary("abs", lambda xp, a: xp.abs(a), lambda g, i, out, needs: (g * F.sign(i[0]),),
       "|{a}|", "sign({a})", float_only=False)
_unary("sign", lambda xp, a: xp.sign(a), lambda g, i, out, needs: (g * 0,),
       "sign({a})", "0", float_only=False)
_unary("sin", lambda xp, a: xp.sin(a), lambda g, i, out, needs: (g * F.cos(i[0]),),
       "sin({a})", "cos({a})")
_unary("cos", lambda xp, a: xp.cos(a), lambda g, i, out, needs: (-(g * F.sin(i[0])),),
       "cos({a})", "-sin({a})")
_unary("tanh", lambda xp, a: xp.tanh(a), lambda g, i, out, needs: (g * (1 - out * out),),
       "tanh({a})", "1 - tanh({a})^2")


def _sigmoid(xp, a):
    # exp(-|a|) never overflows; pick the algebraically equal form for each sign.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


_unary("sigmoid", _sigmoid, lambda g, i, out, needs: (g * out * (1 - out),),
       "sigmoid({a})", "sigmoid({a}) * (1 - sigmoid({a}))")
_unary("relu", lambda xp, a: xp.maximum(a, 0), lambda g, i, out, needs: (F.where(i[0] > 0, g, 0),),
       "relu({a})", "1 if {a} > 0 else 0", float_only=False)
_unary("softplus", lambda xp, a: xp.logaddexp(0, a),
       lambda g, i, out, needs: (g * F.sigmoid(i[0]),),
       "log(1 + exp({a}))", "sigmoid({a})")

_ERF_SCALE = 2.0 / math.sqrt(math.pi)


def _erf(xp, a):
    # float64: the exact libm routine per element. Other dtypes: Abramowitz & Stegun 7.1.26
    # evaluated in float64 (absolute error below 1.5e-7, i.e. within about 2 units in the last
    # place of float32), vectorised, for every size, so a value's result never depends on the
    # size of the array it sits in.
    if a.dtype == xp.float64 and hasattr(xp, "frompyfunc"):  # array modules on the host
        return xp.asarray(xp.frompyfunc(math.erf, 1, 1)(a), dtype=xp.float64)
    sign = xp.sign(a).astype(xp.float64)
    x = xp.abs(a).astype(xp.float64)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                         + t * 1.061405429))))
    return (sign * (1.0 - poly * xp.exp(-x * x))).astype(a.dtype)


_unary("erf", _erf, lambda g, i, out, needs: (g * _ERF_SCALE * F.exp(-(i[0] * i[0])),),
       "erf({a})", "2/sqrt(pi) * exp(-{a}^2)")


@register("cast", shape=lambda a, dtype: Spec(a.shape, dtypes.to_dtype(dtype)),
          formula="{a}", derivatives=("1",), arg_names=("a",),
          vjp=lambda g, i, out, needs, dtype: (
              F.to(g, i[0].dtype) if i[0].dtype.kind == "f" else None,))
def _cast(xp, a, dtype):
    """Convert to another dtype."""
    return a.astype(dtype)


# ----------------------------------------------------------------------------------------------
# Binary arithmetic.


def _binary(name, forward, vjp, formula, derivatives, float_only=False):
    register(
        name,
        shape=elementwise_rule(name, "float" if float_only else "promote"),
        vjp=vjp,
        formula=formula,
        derivatives=derivatives,
        float_only=float_only,
        promotes=True,
        arg_names=("a", "b"),
    )(forward)


_binary("add", lambda xp, a, b: xp.add(a, b), lambda g, i, out, needs: (g, g),
        "{a} + {b}", ("1", "1"))
_binary("sub", lambda xp, a, b: xp.subtract(a, b), lambda g, i, out, needs: (g, -g),
        "{a} - {b}", ("1", "-1"))
_binary("mul", lambda xp, a, b: xp.multiply(a, b),
        lambda g, i, out, needs: (g * i[1] if needs[0] else None, g * i[0] if needs[1] else None),
        "{a} * {b}", ("{b}", "{a}"))
_binary("div", lambda xp, a, b: xp.true_divide(a, b),
        lambda g, i, out, needs: (g / i[1] if needs[0] else None,
                                  -(g * out) / i[1] if needs[1] else None),
        "{a} / {b}", ("1/{b}", "-{a}/{b}^2"), float_only=True)


def _pow_vjp(g, inputs, out, needs):
    a, b = inputs
    grad_a = g * b * a ** (b - 1) if needs[0] else None
    # d(a^b)/db = a^b * log(a); defined as 0 where a == 0 (as PyTorch does), NaN for a < 0.
    grad_b = F.where(a == 0, 0, g * out * F.log(F.where(a == 0, 1, a))) if needs[1] else None
    return grad_a, grad_b


_binary("pow", lambda xp, a, b: xp.power(a, b), _pow_vjp,
        "{a}^{b}", ("{b} * {a}^({b} - 1)", "{a}^{b} * log({a})"))


def _tie_vjp(g, inputs, out, needs, pick):
    a, b = inputs
    # Ties share the gradient evenly, so the sum over both inputs stays g.
    half = g * 0.5
    first = F.where(pick(a, b), g, F.where(a == b, half, 0)) if needs[0] else None
    second = F.where(pick(b, a), g, F.where(a == b, half, 0)) if needs[1] else None
    return first, second


_binary("maximum", lambda xp, a, b: xp.maximum(a, b),
        lambda g, i, out, needs: _tie_vjp(g, i, out, needs, lambda x, y: x > y),
        "max({a}, {b})", ("1 if {a} > {b} else 0", "1 if {b} > {a} else 0"))
_binary("minimum", lambda xp, a, b: xp.minimum(a, b),
        lambda g, i, out, needs: _tie_vjp(g, i, out, needs, lambda x, y: x < y),
        "min({a}, {b})", ("1 if {a} < {b} else 0", "1 if {b} < {a} else 0"))


# ----------------------------------------------------------------------------------------------
# Comparisons and logic: no gradient.

# Each forward looks its ufunc up by name on the array module it is given (xp), never on NumPy.
for _name, _function, _symbol in [
    ("eq", "equal", "=="), ("ne", "not_equal", "!="), ("lt", "less", "<"),
    ("le", "less_equal", "<="), ("gt", "greater", ">"), ("ge", "greater_equal", ">="),
    ("logical_and", "logical_and", "and"), ("logical_or", "logical_or", "or"),
]:
    register(_name, shape=elementwise_rule(_name, "bool"), formula="{a} " + _symbol + " {b}",
             promotes=True, arg_names=("a", "b"))(
        (lambda function: lambda xp, a, b: getattr(xp, function)(a, b))(_function))

for _name, _function in [("logical_not", "logical_not"), ("isnan", "isnan"),
                         ("isfinite", "isfinite")]:
    register(_name, shape=elementwise_rule(_name, "bool"), formula=_name + "({a})",
             arg_names=("a",))((lambda function: lambda xp, a: getattr(xp, function)(a))(_function))


def _where_shape(condition, a, b):
    from hybridgrad.ops.registry import broadcast_shape, promote

    return Spec(broadcast_shape("where", condition.shape, a.shape, b.shape),
                promote(a.dtype, b.dtype))


@register("where", shape=_where_shape, formula="{b} if {a} else {c}",
          derivatives=("0", "1 where condition", "1 where not condition"),
          arg_names=("condition", "a", "b"),
          vjp=lambda g, i, out, needs: (None,
                                        F.where(i[0], g, 0) if needs[1] else None,
                                        F.where(i[0], 0, g) if needs[2] else None))
def _where(xp, condition, a, b):
    """Select from a where condition holds, else from b."""
    if condition.dtype != xp.bool_:
        condition = condition.astype(bool)
    if a.dtype != b.dtype:
        from hybridgrad.ops.registry import promote

        common = promote(a.dtype, b.dtype)
        a, b = a.astype(common, copy=False), b.astype(common, copy=False)
    # where(mask, g, 0) is every masked gradient (relu, clamp, ...). np.where branches per
    # element: 7 ms for a random mask over 1.4M floats. Multiplying g's bit pattern (as
    # unsigned integers) by the mask is branch-free and bit-identical (+0.0 where the mask is
    # off; NaN, inf and -0.0 kept where it is on).
    if a.dtype.kind == "f" and max(a.size, b.size) >= _WHERE_MULTIPLY_MIN_SIZE:
        if b.ndim == 0 and a.dtype.itemsize in _UINT and b == 0 and not xp.signbit(b):
            return xp.multiply(a.view(_UINT[a.dtype.itemsize]), condition).view(a.dtype)
        if a.ndim == 0 and b.dtype.itemsize in _UINT and a == 0 and not xp.signbit(a):
            return xp.multiply(b.view(_UINT[b.dtype.itemsize]), ~condition).view(b.dtype)
    return xp.where(condition, a, b)


_WHERE_MULTIPLY_MIN_SIZE = 4096
_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _clamp_vjp(g, inputs, out, needs, low, high):
    a = inputs[0]
    if low is not None:
        g = F.where(a < low, 0, g)
    if high is not None:
        g = F.where(a > high, 0, g)
    return (g,)


@register("clamp", shape=lambda a, low, high: Spec(a.shape, a.dtype), vjp=_clamp_vjp,
          formula="clamp({a}, {low}, {high})", derivatives=("1 if {low} <= {a} <= {high} else 0",),
          arg_names=("a",))
def _clamp(xp, a, low, high):
    """Clip into [low, high]; a bound may be None."""
    out = a
    if low is not None:
        out = xp.maximum(out, xp.asarray(low, dtype=a.dtype))
    if high is not None:
        out = xp.minimum(out, xp.asarray(high, dtype=a.dtype))
    return out
