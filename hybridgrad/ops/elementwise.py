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
from hybridgrad.ops import api
from hybridgrad.ops.kernels import cast_out, clamp_out, where_out
from hybridgrad.ops.registry import ELEMENTWISE, Spec, apply, elementwise_rule, register

# Why the elementwise primitives that need more than one NumPy call have no ufunc form.
_NO_UFUNC = {"ufunc": "several NumPy calls (a numerically safe form), not one ufunc",
             "out_kernel": "several NumPy calls allocating their own temporaries"}
# Why comparisons and tests (boolean results) allocate their own: a planned buffer is held
# between calls, while relu's gradient mask (x > 0) lives for one step; planned, it cost the
# CNN training benchmark 1.5 MiB (0.46 -> 0.51 of eager's peak). Bools never join float chains.
BOOLEAN_RESULT = {"ufunc": "a boolean result (fused chains are float)",
                  "out_kernel": "a short-lived boolean mask: cheaper allocated than planned"}


def _unary(name, forward, vjp, formula, derivative, float_only=True, ufunc=None, onnx_type="",
           why_not=None, gradcheck=""):
    """Register an elementwise unary primitive; ``ufunc`` (a NumPy ufunc or ``fn(out, a)``)
    gives it its out-kernel and a place in fused elementwise chains."""
    register(
        name,
        shape=elementwise_rule(name, "float" if float_only else "promote"),
        vjp=vjp,
        formula=formula,
        derivatives=(derivative,),
        float_only=float_only,
        arg_names=("a",),
        ufunc=ufunc, rows=ELEMENTWISE, aliasing="fresh", onnx_type=onnx_type,
        why_not=why_not or {}, gradcheck=gradcheck,
    )(forward)


_unary("neg", lambda xp, a: xp.negative(a), lambda g, i, out, needs: (-g,),
       "-{a}", "-1", float_only=False, ufunc=np.negative, onnx_type="Neg")
_unary("exp", lambda xp, a: xp.exp(a), lambda g, i, out, needs: (g * out,),
       "exp({a})", "exp({a})", ufunc=np.exp, onnx_type="Exp")
_unary("log", lambda xp, a: xp.log(a), lambda g, i, out, needs: (g / i[0],),
       "log({a})", "1/{a}", ufunc=np.log, onnx_type="Log")
_unary("sqrt", lambda xp, a: xp.sqrt(a), lambda g, i, out, needs: (g / (out * 2),),
       "sqrt({a})", "1/(2*sqrt({a}))", ufunc=np.sqrt, onnx_type="Sqrt")
_unary("abs", lambda xp, a: xp.abs(a), lambda g, i, out, needs: (g * api.sign(i[0]),),
       "|{a}|", "sign({a})", float_only=False, ufunc=np.absolute, onnx_type="Abs")
_unary("sign", lambda xp, a: xp.sign(a), lambda g, i, out, needs: (g * 0,),
       "sign({a})", "0", float_only=False, ufunc=np.sign, onnx_type="Sign")
_unary("sin", lambda xp, a: xp.sin(a), lambda g, i, out, needs: (g * api.cos(i[0]),),
       "sin({a})", "cos({a})", ufunc=np.sin, onnx_type="Sin")
_unary("cos", lambda xp, a: xp.cos(a), lambda g, i, out, needs: (-(g * api.sin(i[0])),),
       "cos({a})", "-sin({a})", ufunc=np.cos, onnx_type="Cos")
_unary("tanh", lambda xp, a: xp.tanh(a), lambda g, i, out, needs: (g * (1 - out * out),),
       "tanh({a})", "1 - tanh({a})^2", ufunc=np.tanh, onnx_type="Tanh")


def _sigmoid(xp, a):
    # exp(-|a|) never overflows; pick the algebraically equal form for each sign.
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


_unary("sigmoid", _sigmoid, lambda g, i, out, needs: (g * out * (1 - out),),
       "sigmoid({a})", "sigmoid({a}) * (1 - sigmoid({a}))", onnx_type="Sigmoid",
       why_not=_NO_UFUNC)
_unary("relu", lambda xp, a: xp.maximum(a, 0),
       lambda g, i, out, needs: (api.where(i[0] > 0, g, 0),), "relu({a})",
       "1 if {a} > 0 else 0", float_only=False,
       ufunc=lambda out, a: np.maximum(a, 0, out=out), onnx_type="Relu")
_unary("softplus", lambda xp, a: xp.logaddexp(0, a),
       lambda g, i, out, needs: (g * api.sigmoid(i[0]),),
       "log(1 + exp({a}))", "sigmoid({a})", ufunc=lambda out, a: np.logaddexp(0, a, out=out),
       onnx_type="Softplus")

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


_unary("erf", _erf, lambda g, i, out, needs: (g * _ERF_SCALE * api.exp(-(i[0] * i[0])),),
       "erf({a})", "2/sqrt(pi) * exp(-{a}^2)", onnx_type="Erf", why_not=_NO_UFUNC)


@register("cast", shape=lambda a, dtype: Spec(a.shape, dtypes.to_dtype(dtype)),
          formula="{a}", derivatives=("1",), arg_names=("a",), aliasing="fresh",
          out_kernel=cast_out, rows=ELEMENTWISE,
          why_not={"ufunc": "a dtype attribute (fused chains keep one dtype)"},
          vjp=lambda g, i, out, needs, dtype: (
              api.to(g, i[0].dtype) if i[0].dtype.kind == "f" else None,))
def _cast(xp, a, dtype):
    """Convert to another dtype."""
    return a.astype(dtype)


# ----------------------------------------------------------------------------------------------
# Binary arithmetic.


def _binary(name, forward, vjp, formula, derivatives, float_only=False, ufunc=None,
            onnx_type="", gradcheck=""):
    """Register an elementwise binary primitive (see :func:`_unary` for ``ufunc``)."""
    register(
        name,
        shape=elementwise_rule(name, "float" if float_only else "promote"),
        vjp=vjp,
        formula=formula,
        derivatives=derivatives,
        float_only=float_only,
        promotes=True,
        arg_names=("a", "b"),
        ufunc=ufunc, rows=ELEMENTWISE, aliasing="fresh", onnx_type=onnx_type,
        gradcheck=gradcheck,
    )(forward)


_binary("add", lambda xp, a, b: xp.add(a, b), lambda g, i, out, needs: (g, g),
        "{a} + {b}", ("1", "1"), ufunc=np.add, onnx_type="Add")
_binary("sub", lambda xp, a, b: xp.subtract(a, b), lambda g, i, out, needs: (g, -g),
        "{a} - {b}", ("1", "-1"), ufunc=np.subtract, onnx_type="Sub")
_binary("mul", lambda xp, a, b: xp.multiply(a, b),
        lambda g, i, out, needs: (g * i[1] if needs[0] else None, g * i[0] if needs[1] else None),
        "{a} * {b}", ("{b}", "{a}"), ufunc=np.multiply, onnx_type="Mul")
_binary("div", lambda xp, a, b: xp.true_divide(a, b),
        lambda g, i, out, needs: (g / i[1] if needs[0] else None,
                                  -(g * out) / i[1] if needs[1] else None),
        "{a} / {b}", ("1/{b}", "-{a}/{b}^2"), float_only=True, ufunc=np.true_divide,
        onnx_type="Div")


def _pow_vjp(g, inputs, out, needs):
    a, b = inputs
    grad_a = g * b * a ** (b - 1) if needs[0] else None
    # d(a^b)/db = a^b * log(a); defined as 0 where a == 0 (as PyTorch does), NaN for a < 0.
    grad_b = api.where(a == 0, 0, g * out * api.log(api.where(a == 0, 1, a))) if needs[1] else None
    return grad_a, grad_b


_binary("pow", lambda xp, a, b: xp.power(a, b), _pow_vjp,
        "{a}^{b}", ("{b} * {a}^({b} - 1)", "{a}^{b} * log({a})"), ufunc=np.power)


def _tie_vjp(g, inputs, out, needs, pick):
    a, b = inputs
    # Ties share the gradient evenly, so the sum over both inputs stays g.
    half = g * 0.5
    first = api.where(pick(a, b), g, api.where(a == b, half, 0)) if needs[0] else None
    second = api.where(pick(b, a), g, api.where(a == b, half, 0)) if needs[1] else None
    return first, second


_binary("maximum", lambda xp, a, b: xp.maximum(a, b),
        lambda g, i, out, needs: _tie_vjp(g, i, out, needs, lambda x, y: x > y),
        "max({a}, {b})", ("1 if {a} > {b} else 0", "1 if {b} > {a} else 0"),
        ufunc=np.maximum, onnx_type="Max")
_binary("minimum", lambda xp, a, b: xp.minimum(a, b),
        lambda g, i, out, needs: _tie_vjp(g, i, out, needs, lambda x, y: x < y),
        "min({a}, {b})", ("1 if {a} < {b} else 0", "1 if {b} < {a} else 0"),
        ufunc=np.minimum, onnx_type="Min")
# log(exp(a) + exp(b)) without overflow (NumPy's ufunc); d/da = exp(a - out), a softmax weight.
_binary("logaddexp", lambda xp, a, b: xp.logaddexp(a, b),
        lambda g, i, out, needs: (g * api.exp(i[0] - out) if needs[0] else None,
                                  g * api.exp(i[1] - out) if needs[1] else None),
        "log(exp({a}) + exp({b}))",
        ("exp({a}) / (exp({a}) + exp({b}))", "exp({b}) / (exp({a}) + exp({b}))"),
        float_only=True, ufunc=np.logaddexp)


# ----------------------------------------------------------------------------------------------
# Comparisons and logic: no gradient.

# Each forward looks its ufunc up by name on the array module it is given (xp), never on NumPy.
for _name, _function, _symbol, _onnx_type in [
    ("eq", "equal", "==", "Equal"), ("ne", "not_equal", "!=", ""), ("lt", "less", "<", "Less"),
    ("le", "less_equal", "<=", "LessOrEqual"), ("gt", "greater", ">", "Greater"),
    ("ge", "greater_equal", ">=", "GreaterOrEqual"),
    ("logical_and", "logical_and", "and", "And"), ("logical_or", "logical_or", "or", "Or"),
]:
    register(_name, shape=elementwise_rule(_name, "bool"), formula="{a} " + _symbol + " {b}",
             promotes=True, arg_names=("a", "b"), rows=ELEMENTWISE, aliasing="fresh",
             onnx_type=_onnx_type, why_not=BOOLEAN_RESULT)(
        (lambda function: lambda xp, a, b: getattr(xp, function)(a, b))(_function))

for _name, _function, _onnx_type in [("logical_not", "logical_not", "Not"),
                                     ("isnan", "isnan", "IsNaN"), ("isfinite", "isfinite", "")]:
    register(_name, shape=elementwise_rule(_name, "bool"), formula=_name + "({a})",
             arg_names=("a",), rows=ELEMENTWISE, aliasing="fresh", onnx_type=_onnx_type,
             why_not=BOOLEAN_RESULT)(
        (lambda function: lambda xp, a: getattr(xp, function)(a))(_function))


def _where_shape(condition, a, b):
    from hybridgrad.ops.registry import broadcast_shape, promote

    return Spec(broadcast_shape("where", condition.shape, a.shape, b.shape),
                promote(a.dtype, b.dtype))


@register("where", shape=_where_shape, formula="{b} if {a} else {c}",
          derivatives=("0", "1 where condition", "1 where not condition"),
          arg_names=("condition", "a", "b"), aliasing="fresh", out_kernel=where_out,
          inplace=(2,), rows=ELEMENTWISE, why_not={"ufunc": "a bit-pattern select, not a ufunc"},
          vjp=lambda g, i, out, needs: (None,
                                        api.where(i[0], g, 0) if needs[1] else None,
                                        api.where(i[0], 0, g) if needs[2] else None))
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
        g = api.where(a < low, 0, g)
    if high is not None:
        g = api.where(a > high, 0, g)
    return (g,)


@register("clamp", shape=lambda a, low, high: Spec(a.shape, a.dtype), vjp=_clamp_vjp,
          aliasing="fresh", out_kernel=clamp_out, rows=ELEMENTWISE,
          why_not={"ufunc": "bound attributes (fused programs hold attribute-free steps)"},
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


# ----------------------------------------------------------------------------------------------
# Rounding, inverse and hyperbolic trigonometry, remainders, bitwise logic (first needed by ONNX
# import; usable everywhere). Rounding has a zero gradient (as in PyTorch); bitwise and integer
# operators have none. Their gradient checks live in one file:
_CHECKS = "tests/ops/test_math_primitives.py"


def _zero_grad(g, inputs, out, needs):
    return (g * 0,)


_unary("floor", lambda xp, a: xp.floor(a), _zero_grad, "floor({a})", "0", float_only=False,
       gradcheck=_CHECKS, ufunc=np.floor, onnx_type="Floor")
_unary("ceil", lambda xp, a: xp.ceil(a), _zero_grad, "ceil({a})", "0", float_only=False,
       gradcheck=_CHECKS, ufunc=np.ceil, onnx_type="Ceil")
# NumPy's round is round-half-to-even, as ONNX's Round and PyTorch's round.
_unary("round", lambda xp, a: xp.round(a), _zero_grad, "round({a})", "0", float_only=False,
       gradcheck=_CHECKS, ufunc=lambda out, a: np.round(a, out=out), onnx_type="Round")
_unary("trunc", lambda xp, a: xp.trunc(a), _zero_grad, "trunc({a})", "0", float_only=False,
       gradcheck=_CHECKS, ufunc=np.trunc)
_unary("tan", lambda xp, a: xp.tan(a), lambda g, i, out, needs: (g * (1 + out * out),),
       "tan({a})", "1 + tan({a})^2", ufunc=np.tan, onnx_type="Tan",
       gradcheck=_CHECKS)
_unary("asin", lambda xp, a: xp.arcsin(a),
       lambda g, i, out, needs: (g / api.sqrt(1 - i[0] * i[0]),), "asin({a})", "1/sqrt(1 - {a}^2)",
       ufunc=np.arcsin, onnx_type="Asin",
       gradcheck=_CHECKS)
_unary("acos", lambda xp, a: xp.arccos(a),
       lambda g, i, out, needs: (-(g / api.sqrt(1 - i[0] * i[0])),), "acos({a})",
       "-1/sqrt(1 - {a}^2)", ufunc=np.arccos, onnx_type="Acos",
       gradcheck=_CHECKS)
_unary("atan", lambda xp, a: xp.arctan(a), lambda g, i, out, needs: (g / (1 + i[0] * i[0]),),
       "atan({a})", "1/(1 + {a}^2)", ufunc=np.arctan, onnx_type="Atan",
       gradcheck=_CHECKS)
_unary("sinh", lambda xp, a: xp.sinh(a), lambda g, i, out, needs: (g * apply("cosh", i[0]),),
       "sinh({a})", "cosh({a})", ufunc=np.sinh, onnx_type="Sinh",
       gradcheck=_CHECKS)
_unary("cosh", lambda xp, a: xp.cosh(a), lambda g, i, out, needs: (g * apply("sinh", i[0]),),
       "cosh({a})", "sinh({a})", ufunc=np.cosh, onnx_type="Cosh",
       gradcheck=_CHECKS)
_unary("asinh", lambda xp, a: xp.arcsinh(a),
       lambda g, i, out, needs: (g / api.sqrt(i[0] * i[0] + 1),), "asinh({a})",
       "1/sqrt({a}^2 + 1)", ufunc=np.arcsinh, onnx_type="Asinh",
       gradcheck=_CHECKS)
_unary("acosh", lambda xp, a: xp.arccosh(a),
       lambda g, i, out, needs: (g / api.sqrt(i[0] * i[0] - 1),), "acosh({a})",
       "1/sqrt({a}^2 - 1)", ufunc=np.arccosh, onnx_type="Acosh",
       gradcheck=_CHECKS)
_unary("atanh", lambda xp, a: xp.arctanh(a), lambda g, i, out, needs: (g / (1 - i[0] * i[0]),),
       "atanh({a})", "1/(1 - {a}^2)", ufunc=np.arctanh, onnx_type="Atanh",
       gradcheck=_CHECKS)


# remainder: Python's/NumPy's mod (sign of the divisor); fmod: C's (sign of the dividend).
_binary("remainder", lambda xp, a, b: xp.mod(a, b),
        lambda g, i, out, needs: (g if needs[0] else None,
                                -(g * floor(i[0] / i[1])) if needs[1] else None),
        "{a} mod {b}", ("1", "-floor({a}/{b})"), ufunc=np.mod, gradcheck=_CHECKS)
_binary("fmod", lambda xp, a, b: xp.fmod(a, b),
        lambda g, i, out, needs: (g if needs[0] else None,
                                -(g * trunc(i[0] / i[1])) if needs[1] else None),
        "fmod({a}, {b})", ("1", "-trunc({a}/{b})"), ufunc=np.fmod, gradcheck=_CHECKS)


def _int_div(xp, a, b):
    # C-style division truncating toward zero (ONNX's and PyTorch's integer division).
    if a.dtype.kind in "iu":
        quotient = xp.abs(a) // xp.where(b == 0, 1, xp.abs(b))
        return (xp.sign(a) * xp.sign(b) * quotient).astype(a.dtype)
    return xp.trunc(a / b)


register("trunc_div", shape=elementwise_rule("trunc_div"), formula="trunc({a} / {b})",
         promotes=True, arg_names=("a", "b"), rows=ELEMENTWISE, aliasing="fresh",
         onnx_type="Div", why_not={"ufunc": "integer and float forms differ (several calls)",
                                  "out_kernel": "several NumPy calls allocating temporaries"},
         )(_int_div)

for _name, _function, _symbol, _onnx_type in [
    ("bitwise_and", np.bitwise_and, "&", "BitwiseAnd"), ("bitwise_or", np.bitwise_or, "|",
                                                       "BitwiseOr"),
    ("bitwise_xor", np.bitwise_xor, "^", "BitwiseXor"), ("left_shift", np.left_shift, "<<", ""),
    ("right_shift", np.right_shift, ">>", ""),
]:
    register(_name, shape=elementwise_rule(_name), formula="{a} " + _symbol + " {b}",
             promotes=True, arg_names=("a", "b"), ufunc=_function, rows=ELEMENTWISE,
             aliasing="fresh", onnx_type=_onnx_type)(
        (lambda name: lambda xp, a, b: getattr(xp, name)(a, b))(_function.__name__))
register("logical_xor", shape=elementwise_rule("logical_xor", "bool"),
         formula="{a} xor {b}", promotes=True, arg_names=("a", "b"), rows=ELEMENTWISE,
         aliasing="fresh", onnx_type="Xor", why_not=BOOLEAN_RESULT)(
    lambda xp, a, b: xp.logical_xor(a, b))
register("bitwise_not", shape=elementwise_rule("bitwise_not"), formula="~{a}",
         arg_names=("a",), ufunc=np.invert, rows=ELEMENTWISE, aliasing="fresh",
         onnx_type="BitwiseNot")(lambda xp, a: xp.invert(a))
register("isinf", shape=elementwise_rule("isinf", "bool"), formula="isinf({a})",
         arg_names=("a",), rows=ELEMENTWISE, aliasing="fresh", onnx_type="IsInf",
         why_not=BOOLEAN_RESULT)(lambda xp, a: xp.isinf(a))


def floor(input):  # noqa: A002 - PyTorch's keyword
    """Round down elementwise (``hg.floor``; zero gradient, as PyTorch).

    Example:
        >>> import hybridgrad as hg
        >>> floor(hg.tensor([1.5, -1.5])).tolist()
        [1.0, -2.0]
    """
    return apply("floor", input)


def ceil(input):  # noqa: A002 - PyTorch's keyword
    """Round up elementwise (``hg.ceil``).

    Example:
        >>> import hybridgrad as hg
        >>> ceil(hg.tensor([1.5])).tolist()
        [2.0]
    """
    return apply("ceil", input)


def round(input):  # noqa: A001, A002 - PyTorch's names
    """Round half to even elementwise (``hg.round`` adds ``decimals``).

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.tensor([2.5])).tolist()
        [2.0]
    """
    return apply("round", input)


def trunc(input):  # noqa: A002 - PyTorch's keyword
    """Round toward zero elementwise (``hg.trunc``).

    Example:
        >>> import hybridgrad as hg
        >>> trunc(hg.tensor([-1.5])).tolist()
        [-1.0]
    """
    return apply("trunc", input)
