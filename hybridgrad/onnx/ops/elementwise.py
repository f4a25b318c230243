"""ONNX elementwise operators: unary math, binary arithmetic, logic, Where, Clip.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

from typing import Callable

from hybridgrad.onnx.ops.core import NodeContext, _axis, _cast, _like, _ndim, onnx_op
from hybridgrad.ops import api, elementwise
from hybridgrad.ops.registry import apply

# ----------------------------------------------------------------------------------------------
# Elementwise.

_UNARY = {
    "Abs": lambda x: api.abs(x), "Neg": lambda x: api.neg(x), "Exp": api.exp, "Log": api.log,
    "Sqrt": api.sqrt, "Sin": api.sin, "Cos": api.cos, "Tanh": api.tanh, "Sigmoid": api.sigmoid,
    "Relu": api.relu, "Sign": api.sign, "Erf": api.erf,
    "Floor": elementwise.floor, "Ceil": elementwise.ceil, "Round": elementwise.round,
    "Tan": lambda x: apply("tan", x), "Asin": lambda x: apply("asin", x),
    "Acos": lambda x: apply("acos", x), "Atan": lambda x: apply("atan", x),
    "Sinh": lambda x: apply("sinh", x), "Cosh": lambda x: apply("cosh", x),
    "Asinh": lambda x: apply("asinh", x), "Acosh": lambda x: apply("acosh", x),
    "Atanh": lambda x: apply("atanh", x),
    "Not": api.logical_not, "IsNaN": api.isnan, "BitwiseNot": lambda x: apply("bitwise_not", x),
    "Reciprocal": lambda x: _like(1, x) / x,
    "Softsign": lambda x: x / (api.abs(x) + _like(1, x)),
    "Softplus": lambda x: api.softplus(x),
}


def _unary_handler(function: Callable) -> Callable:
    def handler(ctx: NodeContext):
        x = ctx.inputs[0]
        out = function(x)
        # hybridgrad computes integer inputs of float functions in float; ONNX keeps the type.
        if x.dtype.kind in "iuf" and out.dtype != x.dtype and ctx.op_type not in ("IsNaN",):
            out = _cast(out, x.dtype)
        return out

    return handler


for _op_type, _function in _UNARY.items():
    onnx_op(_op_type)(_unary_handler(_function))


@onnx_op("Identity")
def _identity(ctx):
    # A list of outputs: the value itself may be a sequence (a Python list).
    return [ctx.inputs[0]]


@onnx_op("IsInf")
def _isinf(ctx):
    x = ctx.inputs[0]
    infinite = apply("isinf", x)
    if not ctx.attr("detect_negative", 1):
        infinite = api.logical_and(infinite, x > _like(0, x))
    if not ctx.attr("detect_positive", 1):
        infinite = api.logical_and(infinite, x < _like(0, x))
    return infinite


def _binary_inputs(ctx):
    a, b = ctx.inputs[0], ctx.inputs[1]
    if ctx.version < 7 and ctx.attr("broadcast", 0) and ctx.attr("axis") is not None:
        # Legacy broadcasting (opset < 7): b's dimensions line up with a's from ``axis``.
        axis = _axis(ctx.attr("axis"), _ndim(a))
        b = api.reshape(b, tuple(b.shape) + (1,) * (_ndim(a) - axis - _ndim(b)))
    return a, b


_BINARY = {
    "Add": api.add, "Sub": api.sub, "Mul": api.mul,
    "Equal": api.eq, "Less": api.lt, "LessOrEqual": api.le, "Greater": api.gt,
    "GreaterOrEqual": api.ge,
    "And": api.logical_and, "Or": api.logical_or, "Xor": lambda a, b: apply("logical_xor", a, b),
    "BitwiseAnd": lambda a, b: apply("bitwise_and", a, b),
    "BitwiseOr": lambda a, b: apply("bitwise_or", a, b),
    "BitwiseXor": lambda a, b: apply("bitwise_xor", a, b),
}


def _binary_handler(function: Callable) -> Callable:
    def handler(ctx: NodeContext):
        a, b = _binary_inputs(ctx)
        return function(a, b)

    return handler


for _op_type, _function in _BINARY.items():
    onnx_op(_op_type)(_binary_handler(_function))


@onnx_op("Div")
def _div(ctx):
    a, b = _binary_inputs(ctx)
    if a.dtype.kind in "iu":
        return apply("trunc_div", a, b)
    return a / b


@onnx_op("Pow")
def _pow(ctx):
    a, b = _binary_inputs(ctx)
    if a.dtype.kind == "f" and b.dtype != a.dtype:
        b = _cast(b, a.dtype)
    elif a.dtype.kind in "iu" and b.dtype.kind == "f":
        return _cast(api.pow(_cast(a, b.dtype), b), a.dtype)
    elif a.dtype.kind in "iu" and b.dtype != a.dtype:
        b = _cast(b, a.dtype)
    return api.pow(a, b)


@onnx_op("Mod")
def _mod(ctx):
    a, b = _binary_inputs(ctx)
    if ctx.attr("fmod", 0):
        return apply("fmod", a, b)
    return apply("remainder", a, b)


@onnx_op("BitShift")
def _bitshift(ctx):
    a, b = _binary_inputs(ctx)
    direction = ctx.attr("direction", "")
    if direction not in ("LEFT", "RIGHT"):
        raise ctx.error(f"direction must be LEFT or RIGHT, got {direction!r}")
    return apply("left_shift" if direction == "LEFT" else "right_shift", a, b)


def _variadic(function: Callable) -> Callable:
    def handler(ctx: NodeContext):
        values = [v for v in ctx.inputs if v is not None]
        out = values[0]
        for value in values[1:]:
            out = function(out, value)
        return out

    return handler


onnx_op("Max")(_variadic(api.maximum))
onnx_op("Min")(_variadic(api.minimum))
onnx_op("Sum")(_variadic(api.add))


@onnx_op("Mean")
def _mean(ctx):
    total = _variadic(api.add)(ctx)
    return total / _like(len([v for v in ctx.inputs if v is not None]), total)


@onnx_op("Where")
def _where(ctx):
    return api.where(ctx.inputs[0], ctx.inputs[1], ctx.inputs[2])


@onnx_op("Clip")
def _clip(ctx):
    x = ctx.inputs[0]
    if ctx.version < 11:
        low, high = ctx.attr("min"), ctx.attr("max")
        low = None if low is None else _like(low, x)
        high = None if high is None else _like(high, x)
    else:
        low, high = ctx.input(1), ctx.input(2)
    out = x
    if low is not None:
        out = api.maximum(out, _cast(low, x.dtype))
    if high is not None:
        out = api.minimum(out, _cast(high, x.dtype))
    return out
