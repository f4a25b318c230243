"""ONNX operators implemented with hybridgrad operators (so imported models are differentiable).

Every ONNX operator the importer runs is one entry of :data:`OPS`, registered with
:func:`onnx_op`. A handler receives a :class:`NodeContext` (the node's inputs as hybridgrad
tensors, its attributes, the opset version of the operator) and returns the node's outputs.
:data:`SUPPORTED` is derived from this table, so the list of supported operators can never
drift from the implementations.

Shape-like inputs (``Reshape``'s shape, ``Slice``'s starts, ``Reduce*``'s axes from opset 13/18)
are read as concrete values; eagerly they always are.

Example:
    >>> from hybridgrad.onnx.ops import SUPPORTED
    >>> "MatMul" in SUPPORTED and "Gemm" in SUPPORTED
    True
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hybridgrad import limits
from hybridgrad.ops import api as F
from hybridgrad.ops import elementwise, reduction
from hybridgrad.ops.registry import apply
from hybridgrad.tensor import Tensor


class OnnxImportError(ValueError):
    """An ONNX model cannot be loaded or run by hybridgrad (the message says why)."""


class UnsupportedError(OnnxImportError):
    """The model uses operators, domains, opsets or element types hybridgrad does not support."""


# ONNX element types hybridgrad tensors can hold (NumPy dtypes of kind b, i, u, f).
SUPPORTED_ELEMENT_TYPES = {
    onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
    onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32,
    onnx.TensorProto.INT64, onnx.TensorProto.UINT8, onnx.TensorProto.UINT16,
    onnx.TensorProto.UINT32, onnx.TensorProto.UINT64, onnx.TensorProto.BOOL,
}


def element_type_name(elem_type: int) -> str:
    """ONNX's name for an element type number. Example: ``element_type_name(1) == 'FLOAT'``."""
    try:
        return onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"<element type {elem_type}>"


def np_dtype(elem_type: int) -> np.dtype:
    """NumPy dtype of a supported ONNX element type (error naming it otherwise).

    Example:
        >>> np_dtype(1)
        dtype('float32')
    """
    if elem_type not in SUPPORTED_ELEMENT_TYPES:
        raise UnsupportedError(f"unsupported ONNX element type {element_type_name(elem_type)}")
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def const(array: Any, dtype: Any = None) -> Tensor:
    """A constant tensor holding exactly ``array`` (its dtype kept, no float64 -> float32).

    Example:
        >>> import numpy as np
        >>> const(np.zeros(2, np.float64)).dtype
        dtype('float64')
    """
    array = np.asarray(array, dtype=dtype)
    if not array.flags.writeable:
        array = array.copy()
    return Tensor._wrap(array)


def check_alloc(shape, itemsize: int, what: str) -> None:
    """Refuse to allocate an array of ``shape`` above :func:`hybridgrad.limits.max_alloc_bytes`
    (a crafted model can declare any size); ``what`` names the node or tensor.

    Example:
        >>> check_alloc((2, 3), 4, "demo")
        >>> try:
        ...     check_alloc((2 ** 40, 2 ** 40), 4, "Expand node 'e'")
        ... except OnnxImportError as error:
        ...     print(str(error)[:40])
        Expand node 'e': shape (1099511627776, 1
    """
    if limits.exceeds(shape, itemsize):
        if any(int(d) < 0 for d in shape):
            raise OnnxImportError(f"{what}: negative dimension in shape "
                                  f"{tuple(int(d) for d in shape)}")
        raise OnnxImportError(f"{what}: {limits.describe(shape, itemsize)}")


_FIELD_OF_TYPE = {
    onnx.TensorProto.FLOAT: "float_data", onnx.TensorProto.DOUBLE: "double_data",
    onnx.TensorProto.INT64: "int64_data", onnx.TensorProto.UINT64: "uint64_data",
    onnx.TensorProto.UINT32: "uint64_data",
}


# Element types stored one value per element (4-bit and string types are left to onnx).
_COUNTED_TYPES = SUPPORTED_ELEMENT_TYPES | {onnx.TensorProto.BFLOAT16}


def tensor_to_array(tensor: onnx.TensorProto, what: str = "") -> np.ndarray:
    """``numpy_helper.to_array`` after checking the declared dims against the limit and the
    data actually present (an initializer declaring 2^40 elements with 4 bytes of data is an
    error here, not an allocation).

    Example:
        >>> from onnx import numpy_helper
        >>> tensor_to_array(numpy_helper.from_array(np.arange(3, dtype=np.int64))).tolist()
        [0, 1, 2]
    """
    what = what or f"tensor {tensor.name!r}"
    dims = [int(d) for d in tensor.dims]
    elem_type = tensor.data_type
    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize
    except (KeyError, ValueError, TypeError):
        raise UnsupportedError(f"{what}: unsupported ONNX element type "
                               f"{element_type_name(elem_type)}") from None
    check_alloc(dims, itemsize, what)
    count = math.prod(dims)
    if tensor.data_location != onnx.TensorProto.EXTERNAL and elem_type in _COUNTED_TYPES:
        if tensor.HasField("raw_data"):
            present = len(tensor.raw_data) / itemsize
        else:
            present = len(getattr(tensor, _FIELD_OF_TYPE.get(elem_type, "int32_data")))
        if present != count:
            raise OnnxImportError(f"{what}: declares shape {tuple(dims)} ({count} values) but "
                                  f"holds {present} values (corrupt or truncated model)")
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError, MemoryError, OverflowError) as error:
        raise OnnxImportError(f"{what}: cannot be decoded: {error}") from None


@dataclass
class NodeContext:
    """What an operator handler sees of one node."""

    node: onnx.NodeProto
    inputs: list  # hybridgrad tensors; None for omitted optional inputs
    attrs: dict
    version: int  # since_version of the operator schema in effect (opset differences)
    n_outputs: int
    extra: dict = field(default_factory=dict)

    @property
    def op_type(self) -> str:
        return self.node.op_type

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def input(self, index: int):
        return self.inputs[index] if index < len(self.inputs) else None

    def static(self, index: int, default: Any = None) -> np.ndarray | None:
        """The concrete value of a shape-like input (or ``default`` when it is omitted)."""
        value = self.input(index)
        if value is None:
            return default
        data = value._array if isinstance(value, Tensor) else None
        if not isinstance(data, np.ndarray):
            raise OnnxImportError(
                f"{self.op_type} node {self.node.name!r}: input {index} "
                f"({self.node.input[index]!r}) must have a concrete value (it sets a shape, axes "
                "or sizes), but it is computed symbolically")
        return data

    def error(self, message: str) -> OnnxImportError:
        return OnnxImportError(f"{self.op_type} node {self.node.name!r}: {message}")


@dataclass
class OnnxOpEntry:
    """One supported ONNX operator: its handler and the operator-set versions it runs."""

    op_type: str
    handler: Callable
    domain: str = ""
    # Earliest since_version the handler implements (older semantics are rejected clearly).
    min_version: int = 1


OPS: dict[str, OnnxOpEntry] = {}


def onnx_op(*op_types: str, min_version: int = 1) -> Callable:
    """Register a handler for one or more ONNX operator types (default domain).

    Example:
        >>> @onnx_op("DemoDouble")
        ... def _demo(ctx):
        ...     return ctx.inputs[0] * 2
        >>> "DemoDouble" in OPS
        True
        >>> del OPS["DemoDouble"]
    """

    def decorate(handler: Callable) -> Callable:
        for op_type in op_types:
            OPS[op_type] = OnnxOpEntry(op_type, handler, "", min_version)
        return handler

    return decorate


# ----------------------------------------------------------------------------------------------
# Helpers.


def _ndim(x) -> int:
    return len(x.shape)


def _axis(axis: int, ndim: int) -> int:
    return int(axis) + ndim if axis < 0 else int(axis)


def _like(value, x) -> Tensor:
    """A constant of x's dtype (ONNX attributes are floats; the tensor may be float16/64)."""
    return const(np.asarray(value, dtype=x.dtype))


def _cast(x, dtype) -> Any:
    dtype = np.dtype(dtype)
    return x if x.dtype == dtype else apply("cast", x, dtype=dtype)


def _float(x):
    return x if x.dtype.kind == "f" else _cast(x, np.float32)


# ----------------------------------------------------------------------------------------------
# Elementwise.

_UNARY = {
    "Abs": lambda x: F.abs(x), "Neg": lambda x: F.neg(x), "Exp": F.exp, "Log": F.log,
    "Sqrt": F.sqrt, "Sin": F.sin, "Cos": F.cos, "Tanh": F.tanh, "Sigmoid": F.sigmoid,
    "Relu": F.relu, "Sign": F.sign, "Erf": F.erf,
    "Floor": elementwise.floor, "Ceil": elementwise.ceil, "Round": elementwise.round,
    "Tan": lambda x: apply("tan", x), "Asin": lambda x: apply("asin", x),
    "Acos": lambda x: apply("acos", x), "Atan": lambda x: apply("atan", x),
    "Sinh": lambda x: apply("sinh", x), "Cosh": lambda x: apply("cosh", x),
    "Asinh": lambda x: apply("asinh", x), "Acosh": lambda x: apply("acosh", x),
    "Atanh": lambda x: apply("atanh", x),
    "Not": F.logical_not, "IsNaN": F.isnan, "BitwiseNot": lambda x: apply("bitwise_not", x),
    "Reciprocal": lambda x: _like(1, x) / x,
    "Softsign": lambda x: x / (F.abs(x) + _like(1, x)),
    "Softplus": lambda x: F.softplus(x),
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
        infinite = F.logical_and(infinite, x > _like(0, x))
    if not ctx.attr("detect_positive", 1):
        infinite = F.logical_and(infinite, x < _like(0, x))
    return infinite


def _binary_inputs(ctx):
    a, b = ctx.inputs[0], ctx.inputs[1]
    if ctx.version < 7 and ctx.attr("broadcast", 0) and ctx.attr("axis") is not None:
        # Legacy broadcasting (opset < 7): b's dimensions line up with a's from ``axis``.
        axis = _axis(ctx.attr("axis"), _ndim(a))
        b = F.reshape(b, tuple(b.shape) + (1,) * (_ndim(a) - axis - _ndim(b)))
    return a, b


_BINARY = {
    "Add": F.add, "Sub": F.sub, "Mul": F.mul,
    "Equal": F.eq, "Less": F.lt, "LessOrEqual": F.le, "Greater": F.gt, "GreaterOrEqual": F.ge,
    "And": F.logical_and, "Or": F.logical_or, "Xor": lambda a, b: apply("logical_xor", a, b),
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
        return _cast(F.pow(_cast(a, b.dtype), b), a.dtype)
    elif a.dtype.kind in "iu" and b.dtype != a.dtype:
        b = _cast(b, a.dtype)
    return F.pow(a, b)


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


onnx_op("Max")(_variadic(F.maximum))
onnx_op("Min")(_variadic(F.minimum))
onnx_op("Sum")(_variadic(F.add))


@onnx_op("Mean")
def _mean(ctx):
    total = _variadic(F.add)(ctx)
    return total / _like(len([v for v in ctx.inputs if v is not None]), total)


@onnx_op("Where")
def _where(ctx):
    return F.where(ctx.inputs[0], ctx.inputs[1], ctx.inputs[2])


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
        out = F.maximum(out, _cast(low, x.dtype))
    if high is not None:
        out = F.minimum(out, _cast(high, x.dtype))
    return out


# ----------------------------------------------------------------------------------------------
# Activations.


@onnx_op("LeakyRelu")
def _leaky_relu(ctx):
    x = ctx.inputs[0]
    return F.where(x >= _like(0, x), x, x * _like(ctx.attr("alpha", 0.01), x))


@onnx_op("PRelu")
def _prelu(ctx):
    x, slope = ctx.inputs[0], ctx.inputs[1]
    if ctx.version < 7 and _ndim(slope) == 1 and _ndim(x) > 2 and slope.shape[0] == x.shape[1]:
        # PRelu-6 and older: a 1-D slope holds one value per channel (axis 1).
        slope = F.reshape(slope, (-1,) + (1,) * (_ndim(x) - 2))
    return F.where(x >= _like(0, x), x, x * slope)


@onnx_op("ThresholdedRelu")
def _thresholded_relu(ctx):
    x = ctx.inputs[0]
    return F.where(x > _like(ctx.attr("alpha", 1.0), x), x, _like(0, x))


def _elu(x, alpha):
    negative = (F.exp(F.minimum(x, _like(0, x))) - _like(1, x)) * _like(alpha, x)
    return F.where(x > _like(0, x), x, negative)


@onnx_op("Elu")
def _elu_op(ctx):
    return _elu(ctx.inputs[0], ctx.attr("alpha", 1.0))


@onnx_op("Celu")
def _celu(ctx):
    x, alpha = ctx.inputs[0], ctx.attr("alpha", 1.0)
    return F.maximum(x, _like(0, x)) + F.minimum(
        _like(0, x), (F.exp(x / _like(alpha, x)) - _like(1, x)) * _like(alpha, x))


@onnx_op("Selu")
def _selu(ctx):
    x = ctx.inputs[0]
    alpha = ctx.attr("alpha", 1.67326319217681884765625)
    gamma = ctx.attr("gamma", 1.05070102214813232421875)
    return _elu(x, alpha) * _like(gamma, x)


@onnx_op("HardSigmoid")
def _hard_sigmoid(ctx):
    x = ctx.inputs[0]
    linear = x * _like(ctx.attr("alpha", 0.2), x) + _like(ctx.attr("beta", 0.5), x)
    return F.clamp(linear, 0.0, 1.0)


@onnx_op("HardSwish")
def _hard_swish(ctx):
    x = ctx.inputs[0]
    return x * F.clamp(x * _like(1 / 6, x) + _like(0.5, x), 0.0, 1.0)


@onnx_op("Mish")
def _mish(ctx):
    x = ctx.inputs[0]
    return x * F.tanh(F.softplus(x))


@onnx_op("Gelu")
def _gelu(ctx):
    x = ctx.inputs[0]
    if ctx.attr("approximate", "none") == "tanh":
        inner = (x + x * x * x * _like(0.044715, x)) * _like(math.sqrt(2 / math.pi), x)
        return x * _like(0.5, x) * (F.tanh(inner) + _like(1, x))
    return x * _like(0.5, x) * (F.erf(x * _like(1 / math.sqrt(2), x)) + _like(1, x))


@onnx_op("Shrink")
def _shrink(ctx):
    x = ctx.inputs[0]
    bias, lambd = _like(ctx.attr("bias", 0.0), x), _like(ctx.attr("lambd", 0.5), x)
    return F.where(x < -lambd, x + bias, F.where(x > lambd, x - bias, _like(0, x)))


def _softmax_like(ctx, function: Callable):
    x = ctx.inputs[0]
    ndim = _ndim(x)
    if ctx.version < 13:
        # Before opset 13 the input is coerced to 2-D [prod(d[:axis]), prod(d[axis:])].
        axis = _axis(ctx.attr("axis", 1), ndim)
        shape = x.shape
        flat = F.reshape(x, (int(np.prod(shape[:axis], dtype=np.int64)), -1))
        return F.reshape(function(flat, 1), shape)
    return function(x, _axis(ctx.attr("axis", -1), ndim))


@onnx_op("Softmax")
def _softmax(ctx):
    return _softmax_like(ctx, lambda x, axis: F.softmax(x, axis))


@onnx_op("LogSoftmax")
def _log_softmax(ctx):
    return _softmax_like(ctx, lambda x, axis: F.log_softmax(x, axis))


def _hardmax(x, axis):
    index = F.argmax(x, axis, keepdim=True)
    positions = const(np.arange(x.shape[axis]).reshape(
        [-1 if d == axis else 1 for d in range(_ndim(x))]))
    return _cast(F.eq(index, positions), x.dtype)


@onnx_op("Hardmax")
def _hardmax_op(ctx):
    return _softmax_like(ctx, _hardmax)


# ----------------------------------------------------------------------------------------------
# Reductions.


def _reduce_axes(ctx, axes_input_from: int):
    """Axes as a sorted tuple, or None for "all"; () means "reduce nothing" (noop)."""
    x = ctx.inputs[0]
    if ctx.version >= axes_input_from:
        axes = ctx.static(1)
    else:
        axes = ctx.attr("axes")
    if axes is None or len(axes) == 0:
        if ctx.attr("noop_with_empty_axes", 0) and ctx.version >= axes_input_from:
            return ()
        return None
    return tuple(sorted({_axis(int(a), _ndim(x)) for a in np.asarray(axes).reshape(-1)}))


def _register_reduce(op_type, function, axes_input_from=18, identity=None, noop=None):
    def handler(ctx: NodeContext):
        x = ctx.inputs[0]
        axes = _reduce_axes(ctx, axes_input_from)
        keepdims = bool(ctx.attr("keepdims", 1))
        if axes == ():
            return noop(x) if noop is not None else x
        all_axes = tuple(range(_ndim(x))) if axes is None else axes
        if keepdims:
            reduced_shape = tuple(1 if i in all_axes else s for i, s in enumerate(x.shape))
        else:
            reduced_shape = tuple(s for i, s in enumerate(x.shape) if i not in all_axes)
        if builtins.any(x.shape[a] == 0 for a in all_axes) and identity is not None:
            return const(np.full(reduced_shape, identity(x.dtype), dtype=x.dtype))
        source = _cast(x, np.int8) if x.dtype.kind == "b" else x
        out = function(source, all_axes, keepdims)
        if out.dtype != x.dtype:
            out = _cast(out, x.dtype)
        return out

    onnx_op(op_type)(handler)


def _lowest(dtype):
    if dtype.kind == "b":
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    if dtype.kind == "b":
        return True
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _mean_reduce(x, axes, keepdims):
    return F.mean(_float(x), axes, keepdims)


_register_reduce("ReduceSum", lambda x, a, k: F.sum(x, a, k), 13, lambda d: 0)
_register_reduce("ReduceMean", _mean_reduce, 18, lambda d: np.nan)
_register_reduce("ReduceMax", lambda x, a, k: F.amax(x, a, k), 18, _lowest)
_register_reduce("ReduceMin", lambda x, a, k: F.amin(x, a, k), 18, _highest)
_register_reduce("ReduceProd", lambda x, a, k: F.prod(x, a, k), 18, lambda d: 1)
_register_reduce("ReduceL1", lambda x, a, k: F.sum(F.abs(x), a, k), 18, lambda d: 0,
                 noop=lambda x: F.abs(x))
_register_reduce("ReduceL2", lambda x, a, k: F.sqrt(F.sum(_float(x) * _float(x), a, k)), 18,
                 lambda d: 0, noop=lambda x: F.abs(x))
_register_reduce("ReduceSumSquare", lambda x, a, k: F.sum(x * x, a, k), 18, lambda d: 0,
                 noop=lambda x: x * x)
_register_reduce("ReduceLogSum", lambda x, a, k: F.log(F.sum(_float(x), a, k)), 18,
                 lambda d: -np.inf, noop=lambda x: F.log(x))
_register_reduce("ReduceLogSumExp", lambda x, a, k: F.logsumexp(_float(x), a, k), 18,
                 lambda d: -np.inf, noop=lambda x: x)


def _arg_reduce(largest: bool):
    def handler(ctx: NodeContext):
        x = ctx.inputs[0]
        axis = _axis(ctx.attr("axis", 0), _ndim(x))
        keepdims = bool(ctx.attr("keepdims", 1))
        source = x if largest else -x if x.dtype.kind != "u" else _cast(x, np.int64) * -1
        if ctx.attr("select_last_index", 0):
            # Flip the axis so that the first hit is the last index, then map back.
            length = x.shape[axis]
            flipped = F.getitem(source, (slice(None),) * axis + (slice(None, None, -1),))
            index = F.argmax(flipped, axis, keepdims)
            return const(np.asarray(length - 1, dtype=np.int64)) - index
        return F.argmax(source, axis, keepdims)

    return handler


onnx_op("ArgMax")(_arg_reduce(True))
onnx_op("ArgMin")(_arg_reduce(False))


# ----------------------------------------------------------------------------------------------
# Linear algebra.


@onnx_op("MatMul")
def _matmul(ctx):
    return F.matmul(ctx.inputs[0], ctx.inputs[1])


@onnx_op("Gemm")
def _gemm(ctx):
    a, b, c = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
    if ctx.attr("transA", 0):
        a = F.transpose(a, 0, 1)
    if ctx.attr("transB", 0):
        b = F.transpose(b, 0, 1)
    out = F.matmul(a, b)
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if alpha != 1.0:
        out = out * _like(alpha, out)
    if c is not None:
        out = out + (c if beta == 1.0 else c * _like(beta, c))
    return out


@onnx_op("Einsum")
def _einsum(ctx):
    return einsum(ctx.attr("equation"), *ctx.inputs)


def _take_diagonal(x, subs: str):
    """Resolve a repeated index (``ii``) by taking the diagonal (advanced indexing)."""
    while len(set(subs)) != len(subs):
        letter = next(c for c in subs if subs.count(c) > 1)
        first = subs.index(letter)
        second = subs.index(letter, first + 1)
        rest = [i for i in range(len(subs)) if i not in (first, second)]
        x = F.permute(x, [first, second] + rest)
        positions = np.arange(builtins.min(x.shape[0], x.shape[1]))
        x = F.getitem(x, (positions, positions))
        subs = letter + "".join(subs[i] for i in rest)
    return x, subs


def einsum(equation: str, *operands):
    """Einsum by broadcasting multiplies and sums (differentiable), with ellipses and
    repeated indices (diagonals).

    Example:
        >>> import hybridgrad as hg
        >>> einsum("ij,jk->ik", hg.ones(2, 3), hg.ones(3, 4)).shape
        (2, 4)
        >>> einsum("...ii->...i", hg.ones(5, 3, 3)).shape
        (5, 3)
    """
    equation = equation.replace(" ", "")
    inputs_part, arrow, output = equation.partition("->")
    subscripts = inputs_part.split(",")
    if len(subscripts) != len(operands):
        raise OnnxImportError(f"Einsum: {equation!r} names {len(subscripts)} operands, "
                              f"got {len(operands)}")
    used = set(equation)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    ellipsis_dims = builtins.max(
        [_ndim(x) - (len(subs) - 3) for subs, x in zip(subscripts, operands) if "..." in subs],
        default=0)
    ellipsis_letters = "".join(spare[:ellipsis_dims])
    expanded = []
    for subs, operand in zip(subscripts, operands):
        if "..." in subs:
            count = _ndim(operand) - (len(subs) - 3)
            subs = subs.replace("...", ellipsis_letters[ellipsis_dims - count:])
        if len(subs) != _ndim(operand):
            raise OnnxImportError(f"Einsum: subscripts {subs!r} do not match an operand of "
                                  f"shape {tuple(operand.shape)}")
        expanded.append(subs)
    if arrow:
        output = output.replace("...", ellipsis_letters)
    else:
        joined = "".join(subscripts)
        singles = sorted(c for c in set(joined) if joined.count(c) == 1 and c != ".")
        output = ellipsis_letters + "".join(singles)
    letters = sorted(set("".join(expanded)))
    sizes: dict = {}
    aligned = []
    for subs, operand in zip(expanded, operands):
        operand, subs = _take_diagonal(operand, subs)
        for letter, size in zip(subs, operand.shape):
            sizes[letter] = builtins.max(sizes.get(letter, 1), size)
        order = [subs.index(letter) for letter in letters if letter in subs]
        x = F.permute(operand, order) if order else operand
        shape = [operand.shape[subs.index(letter)] if letter in subs else 1 for letter in letters]
        aligned.append(F.reshape(x, tuple(shape)))
    product = aligned[0]
    for x in aligned[1:]:
        product = product * x
    summed = tuple(i for i, letter in enumerate(letters) if letter not in output)
    if summed:
        product = F.sum(product, summed)
    kept = [letter for letter in letters if letter in output]
    shape = tuple(sizes[letter] for letter in kept)
    product = F.broadcast_to(product, shape) if tuple(product.shape) != shape else product
    order = [kept.index(letter) for letter in output]
    return F.permute(product, order) if order else product


# ----------------------------------------------------------------------------------------------
# Shapes and movement.


@onnx_op("Shape")
def _shape(ctx):
    shape = np.asarray(ctx.inputs[0].shape, dtype=np.int64)
    ndim = len(shape)
    start = ctx.attr("start", 0)
    end = ctx.attr("end", ndim)
    start = builtins.min(builtins.max(start + ndim if start < 0 else start, 0), ndim)
    end = builtins.min(builtins.max(end + ndim if end < 0 else end, 0), ndim)
    return const(shape[start:end])


@onnx_op("Size")
def _size(ctx):
    return const(np.asarray(int(np.prod(ctx.inputs[0].shape, dtype=np.int64)), dtype=np.int64))


@onnx_op("Reshape")
def _reshape(ctx):
    x = ctx.inputs[0]
    if ctx.version < 5:
        shape = list(ctx.attr("shape"))
    else:
        shape = [int(s) for s in ctx.static(1).reshape(-1)]
    if not ctx.attr("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return F.reshape(x, tuple(shape))


@onnx_op("Flatten")
def _flatten(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 1), _ndim(x))
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis:], dtype=np.int64))
    return F.reshape(x, (outer, inner))


@onnx_op("Squeeze")
def _squeeze(ctx):
    x = ctx.inputs[0]
    axes = ctx.static(1) if ctx.version >= 13 else ctx.attr("axes")
    if axes is None:
        return F.reshape(x, tuple(s for s in x.shape if s != 1))
    axes = {_axis(int(a), _ndim(x)) for a in np.asarray(axes).reshape(-1)}
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.error(f"cannot squeeze axis {a} of size {x.shape[a]} (shape {x.shape})")
    return F.reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


@onnx_op("Unsqueeze")
def _unsqueeze(ctx):
    x = ctx.inputs[0]
    axes = np.asarray(ctx.static(1) if ctx.version >= 13 else ctx.attr("axes")).reshape(-1)
    out_ndim = _ndim(x) + len(axes)
    axes = sorted(_axis(int(a), out_ndim) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return F.reshape(x, tuple(shape))


@onnx_op("Transpose")
def _transpose(ctx):
    x = ctx.inputs[0]
    perm = ctx.attr("perm")
    if perm is None:
        perm = list(range(_ndim(x)))[::-1]
    return F.permute(x, [int(p) for p in perm])


@onnx_op("Concat")
def _concat(ctx):
    values = [v for v in ctx.inputs if v is not None]
    # Concat-1 made the axis optional (default 1); from Concat-4 it is required.
    axis = _axis(ctx.attr("axis", 1), _ndim(values[0]))
    nonempty = [v for v in values if v.shape[axis] != 0] or values[:1]
    if len(nonempty) == 1:
        return nonempty[0]
    return F.cat(nonempty, axis)


@onnx_op("Split")
def _split(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 0), _ndim(x))
    length = x.shape[axis]
    sizes = ctx.static(1) if ctx.version >= 13 else ctx.attr("split")
    if sizes is None or len(sizes) == 0:
        parts = ctx.attr("num_outputs", ctx.n_outputs)
        size = -(-length // parts)
        sizes = [builtins.min(size, length - i * size) for i in range(parts)]
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    outputs, start = [], 0
    for size in sizes:
        outputs.append(F.getitem(x, (slice(None),) * axis + (slice(start, start + size),)))
        start += size
    return outputs


@onnx_op("Slice")
def _slice(ctx):
    x = ctx.inputs[0]
    ndim = _ndim(x)
    if ctx.version < 10:
        starts, ends = ctx.attr("starts"), ctx.attr("ends")
        axes, steps = ctx.attr("axes"), None
    else:
        starts, ends = ctx.static(1), ctx.static(2)
        axes, steps = ctx.static(3), ctx.static(4)
    starts = [int(s) for s in np.asarray(starts).reshape(-1)]
    ends = [int(s) for s in np.asarray(ends).reshape(-1)]
    axes = list(range(len(starts))) if axes is None else [
        _axis(int(a), ndim) for a in np.asarray(axes).reshape(-1)]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.asarray(steps).reshape(-1)]
    index = [slice(None)] * ndim
    for axis, start, end, step in zip(axes, starts, ends, steps):
        length = x.shape[axis]
        # ONNX clamps with INT64 extremes; Python slices clamp the same way once in range.
        start = builtins.max(builtins.min(start, length), -length - 1)
        end = builtins.max(builtins.min(end, length), -length - 1)
        if step < 0 and end < -length:
            end = None
        if step < 0 and start < -length:
            start = -length - 1
        index[axis] = slice(start, end, step)
    return F.getitem(x, tuple(index))


def _normalise_indices(indices: np.ndarray, length: int) -> np.ndarray:
    indices = indices.astype(np.int64)
    return np.where(indices < 0, indices + length, indices)


@onnx_op("Gather")
def _gather(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 0), _ndim(x))
    indices = _normalise_indices(ctx.static(1), x.shape[axis])
    if indices.ndim == 0:
        return F.getitem(x, (slice(None),) * axis + (int(indices),))
    return F.getitem(x, (slice(None),) * axis + (indices,))


@onnx_op("GatherElements")
def _gather_elements(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 0), _ndim(x))
    indices = _normalise_indices(ctx.static(1), x.shape[axis])
    return F.gather(x, axis, const(indices))


@onnx_op("GatherND")
def _gather_nd(ctx):
    x = ctx.inputs[0]
    batch = ctx.attr("batch_dims", 0)
    indices = ctx.static(1).astype(np.int64)
    depth = indices.shape[-1]
    batch_shape = x.shape[:batch]
    index = []
    grids = np.indices(indices.shape[:-1])[:batch] if batch else []
    for b in range(batch):
        index.append(grids[b])
    for d in range(depth):
        index.append(_normalise_indices(indices[..., d], x.shape[batch + d]))
    del batch_shape
    return F.getitem(x, tuple(index))


@onnx_op("Expand")
def _expand(ctx):
    x = ctx.inputs[0]
    shape = tuple(int(s) for s in ctx.static(1).reshape(-1))
    target = np.broadcast_shapes(tuple(x.shape), shape)
    check_alloc(target, x.dtype.itemsize, f"Expand node {ctx.node.name!r}")
    return F.broadcast_to(x, tuple(target))


@onnx_op("Tile")
def _tile(ctx):
    repeats = [int(r) for r in ctx.static(1).reshape(-1)]
    x = ctx.inputs[0]
    shape = (1,) * (len(repeats) - len(x.shape)) + tuple(x.shape)
    check_alloc([r * s for r, s in zip(repeats, shape[-len(repeats):])] if repeats else shape,
                x.dtype.itemsize, f"Tile node {ctx.node.name!r}")
    return F.repeat(ctx.inputs[0], *repeats)


@onnx_op("Pad")
def _pad(ctx):
    x = ctx.inputs[0]
    ndim = _ndim(x)
    mode = ctx.attr("mode", "constant")
    if ctx.version < 11:
        pads = list(ctx.attr("pads", ctx.attr("paddings")))
        value = ctx.attr("value", 0.0)
        axes = list(range(ndim))
    else:
        pads = [int(p) for p in ctx.static(1).reshape(-1)]
        constant = ctx.static(2)
        value = 0 if constant is None or constant.size == 0 else constant.reshape(-1)[0].item()
        raw_axes = ctx.static(3)
        axes = list(range(ndim)) if raw_axes is None else [
            _axis(int(a), ndim) for a in raw_axes.reshape(-1)]
    half = len(pads) // 2
    widths = [[0, 0] for _ in range(ndim)]
    for i, axis in enumerate(axes):
        widths[axis] = [int(pads[i]), int(pads[half + i])]
    check_alloc([builtins.max(s + b + a, 0) for s, (b, a) in zip(x.shape, widths)],
                x.dtype.itemsize, f"Pad node {ctx.node.name!r}")
    # Negative pads crop first.
    crop = tuple(slice(builtins.max(-b, 0), s - builtins.max(-a, 0) if a < 0 else None)
                 for (b, a), s in zip(widths, x.shape))
    if builtins.any(b < 0 or a < 0 for b, a in widths):
        x = F.getitem(x, crop)
        widths = [[builtins.max(b, 0), builtins.max(a, 0)] for b, a in widths]
    return pad_nd(x, widths, mode, value)


def pad_nd(x, widths, mode: str = "constant", value: float = 0.0):
    """Pad with per-axis (before, after) widths: ``constant``, ``reflect``, ``edge`` or
    ``wrap`` (composed of slices and concatenation, so it is differentiable).

    Example:
        >>> import hybridgrad as hg
        >>> pad_nd(hg.tensor([1.0, 2.0, 3.0]), [[2, 1]], "reflect").tolist()
        [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
    """
    if mode == "constant":
        if not builtins.any(b or a for b, a in widths):
            return x
        return apply("pad", x, widths=tuple(tuple(w) for w in widths), value=float(value))
    for axis, (before, after) in enumerate(widths):
        if not (before or after):
            continue
        length = x.shape[axis]
        if mode == "reflect":
            left = np.arange(before, 0, -1)
            right = np.arange(length - 2, length - 2 - after, -1)
        elif mode == "edge":
            left = np.zeros(before, dtype=np.int64)
            right = np.full(after, length - 1)
        elif mode == "wrap":
            left = np.arange(length - before, length) % length
            right = np.arange(after) % length
        else:
            raise OnnxImportError(f"Pad: unsupported mode {mode!r}")
        index = np.concatenate([left, np.arange(length), right]).astype(np.int64)
        x = F.getitem(x, (slice(None),) * axis + (index,))
    return x


@onnx_op("Constant")
def _constant(ctx):
    for name in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if name in ctx.attrs:
            value = ctx.attrs[name]
            if name == "value":
                return const(value)
            dtype = np.float32 if "float" in name else np.int64
            return const(np.asarray(value, dtype=dtype))
    raise UnsupportedError(f"Constant node {ctx.node.name!r}: only tensor, float(s) and int(s) "
                           f"values are supported (got {sorted(ctx.attrs)})")


@onnx_op("ConstantOfShape")
def _constant_of_shape(ctx):
    shape = tuple(int(s) for s in ctx.static(0).reshape(-1))
    value = ctx.attr("value")
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    check_alloc(shape, value.dtype.itemsize, f"ConstantOfShape node {ctx.node.name!r}")
    return const(np.full(shape, value.reshape(-1)[0], dtype=value.dtype))


@onnx_op("Range")
def _range(ctx):
    start, limit, delta = (ctx.static(i) for i in range(3))
    if delta.item() == 0:
        raise ctx.error("delta is 0 (the range would never end)")
    count = builtins.max(math.ceil((limit.item() - start.item()) / delta.item()), 0)
    check_alloc((count,), start.dtype.itemsize, f"Range node {ctx.node.name!r}")
    return const(np.arange(start.item(), limit.item(), delta.item()).astype(start.dtype))


@onnx_op("Cast")
def _cast_op(ctx):
    return _cast(ctx.inputs[0], np_dtype(ctx.attr("to")))


@onnx_op("CastLike")
def _cast_like(ctx):
    return _cast(ctx.inputs[0], ctx.inputs[1].dtype)


@onnx_op("Dropout")
def _dropout(ctx):
    x = ctx.inputs[0]
    training = ctx.static(2)
    ratio = ctx.static(1)
    if training is not None and bool(training.reshape(-1)[0]) and (
            ratio is None or float(ratio.reshape(-1)[0]) != 0.0):
        raise UnsupportedError(f"Dropout node {ctx.node.name!r}: training_mode=True is not "
                               "supported (imported dropout runs in inference mode)")
    if ctx.version < 7 and not ctx.attr("is_test", 0):
        raise ctx.error("is_test=0 (training) is not supported")
    outputs = [x]
    if ctx.n_outputs > 1:
        outputs.append(const(np.ones(x.shape, dtype=bool)))
    return outputs


@onnx_op("EyeLike")
def _eye_like(ctx):
    x = ctx.inputs[0]
    dtype = np_dtype(ctx.attr("dtype")) if ctx.attr("dtype") is not None else x.dtype
    check_alloc(x.shape, dtype.itemsize, f"EyeLike node {ctx.node.name!r}")
    return const(np.eye(x.shape[0], x.shape[1], k=ctx.attr("k", 0), dtype=dtype))


@onnx_op("Trilu")
def _trilu(ctx):
    x = ctx.inputs[0]
    k = ctx.static(1)
    k = 0 if k is None else int(k.reshape(-1)[0])
    rows, cols = x.shape[-2], x.shape[-1]
    keep = np.triu(np.ones((rows, cols), bool), k) if ctx.attr("upper", 1) else np.tril(
        np.ones((rows, cols), bool), k)
    return F.where(const(keep), x, _like(0, x))


@onnx_op("CumSum")
def _cumsum(ctx):
    x = ctx.inputs[0]
    axis = _axis(int(ctx.static(1).reshape(-1)[0]), _ndim(x))
    return reduction.cumsum(x, axis, exclusive=bool(ctx.attr("exclusive", 0)),
                             reverse=bool(ctx.attr("reverse", 0)))


@onnx_op("TopK")
def _topk(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", -1), _ndim(x))
    k = int(ctx.static(1).reshape(-1)[0]) if ctx.version >= 10 else ctx.attr("k")
    data = x._array
    if ctx.attr("largest", 1):
        # Stable sort of the negated keys keeps the lower index first among equal values.
        keys = -data.astype(np.float64) if data.dtype.kind != "b" else ~data
        order = np.argsort(keys, axis=axis, kind="stable")
    else:
        order = np.argsort(data, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k), axis=axis).astype(np.int64)
    return [F.gather(x, axis, const(indices)), const(indices)]


@onnx_op("NonZero")
def _nonzero(ctx):
    return const(np.stack(np.nonzero(ctx.static(0))).astype(np.int64).reshape(
        _ndim(ctx.inputs[0]), -1))


@onnx_op("OneHot")
def _one_hot(ctx):
    indices, depth, values = ctx.inputs[0], ctx.static(1), ctx.inputs[2]
    depth = int(depth.reshape(-1)[0])
    check_alloc(tuple(indices.shape) + (depth,), 8, f"OneHot node {ctx.node.name!r}")
    ndim = _ndim(indices) + 1
    axis = _axis(ctx.attr("axis", -1), ndim)
    index = indices._array.astype(np.int64)
    index = np.where(index < 0, index + depth, index)
    index = np.expand_dims(index, axis)
    positions = np.arange(depth).reshape([-1 if d == axis else 1 for d in range(ndim)])
    mask = const(index == positions)
    off, on = F.getitem(values, 0), F.getitem(values, 1)
    return F.where(mask, on, off)


@onnx_op("DepthToSpace")
def _depth_to_space(ctx):
    x = ctx.inputs[0]
    n, c, h, w = x.shape
    b = ctx.attr("blocksize")
    if ctx.attr("mode", "DCR") == "DCR":
        y = F.reshape(x, (n, b, b, c // (b * b), h, w))
        y = F.permute(y, (0, 3, 4, 1, 5, 2))
    else:
        y = F.reshape(x, (n, c // (b * b), b, b, h, w))
        y = F.permute(y, (0, 1, 4, 2, 5, 3))
    return F.reshape(y, (n, c // (b * b), h * b, w * b))


@onnx_op("SpaceToDepth")
def _space_to_depth(ctx):
    x = ctx.inputs[0]
    n, c, h, w = x.shape
    b = ctx.attr("blocksize")
    y = F.reshape(x, (n, c, h // b, b, w // b, b))
    if ctx.attr("mode", "DCR") == "CRD":
        y = F.permute(y, (0, 1, 3, 5, 2, 4))
    else:
        y = F.permute(y, (0, 3, 5, 1, 2, 4))
    return F.reshape(y, (n, c * b * b, h // b, w // b))


# ----------------------------------------------------------------------------------------------
# Normalisation and pooling that compose from elementwise operators and reductions.


@onnx_op("BatchNormalization")
def _batch_norm(ctx):
    x, scale, bias, mean, var = ctx.inputs[:5]
    if ctx.version < 7 and not ctx.attr("is_test", 0) and ctx.n_outputs > 1:
        raise UnsupportedError(f"BatchNormalization node {ctx.node.name!r}: is_test=0 "
                               "(training, opset < 7) is not supported")
    shape = (1, -1) + (1,) * (_ndim(x) - 2)
    epsilon = ctx.attr("epsilon", 1e-5)
    scale, bias = F.reshape(_cast(scale, x.dtype), shape), F.reshape(_cast(bias, x.dtype), shape)
    if ctx.attr("training_mode", 0):
        # Normalise with the batch's statistics; also return the updated running statistics.
        axes = (0,) + tuple(range(2, _ndim(x)))
        batch_mean = F.mean(x, axes, keepdim=True)
        batch_var = F.mean((x - batch_mean) * (x - batch_mean), axes, keepdim=True)
        y = (x - batch_mean) / F.sqrt(batch_var + _like(epsilon, x)) * scale + bias
        momentum = ctx.attr("momentum", 0.9)
        running_mean = mean * _like(momentum, mean) + _cast(
            F.reshape(batch_mean, (-1,)), mean.dtype) * _like(1 - momentum, mean)
        running_var = var * _like(momentum, var) + _cast(
            F.reshape(batch_var, (-1,)), var.dtype) * _like(1 - momentum, var)
        return [y, running_mean, running_var][:builtins.max(ctx.n_outputs, 1)]
    mean, var = F.reshape(_cast(mean, x.dtype), shape), F.reshape(_cast(var, x.dtype), shape)
    return (x - mean) / F.sqrt(var + _like(epsilon, x)) * scale + bias


@onnx_op("InstanceNormalization")
def _instance_norm(ctx):
    x, scale, bias = ctx.inputs[:3]
    axes = tuple(range(2, _ndim(x)))
    mean = F.mean(x, axes, keepdim=True)
    var = F.mean((x - mean) * (x - mean), axes, keepdim=True)
    shape = (1, -1) + (1,) * (_ndim(x) - 2)
    normalised = (x - mean) / F.sqrt(var + _like(ctx.attr("epsilon", 1e-5), x))
    return normalised * F.reshape(scale, shape) + F.reshape(bias, shape)


@onnx_op("LayerNormalization")
def _layer_norm(ctx):
    x, scale, bias = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
    axis = _axis(ctx.attr("axis", -1), _ndim(x))
    axes = tuple(range(axis, _ndim(x)))
    stash = np_dtype(ctx.attr("stash_type", 1))
    xs = _cast(x, stash) if x.dtype.kind == "f" else x
    mean = F.mean(xs, axes, keepdim=True)
    centered = xs - mean
    var = F.mean(centered * centered, axes, keepdim=True)
    inv_std = _like(1, var) / F.sqrt(var + _like(ctx.attr("epsilon", 1e-5), var))
    y = _cast(centered * inv_std, x.dtype) * scale
    if bias is not None:
        y = y + bias
    outputs = [y]
    if ctx.n_outputs > 1:
        outputs.append(mean)
    if ctx.n_outputs > 2:
        outputs.append(inv_std)
    return outputs


@onnx_op("MeanVarianceNormalization")
def _mvn(ctx):
    x = ctx.inputs[0]
    axes = tuple(_axis(a, _ndim(x)) for a in ctx.attr("axes", [0, 2, 3]))
    mean = F.mean(x, axes, keepdim=True)
    centered = x - mean
    var = F.mean(centered * centered, axes, keepdim=True)
    return centered / (F.sqrt(var) + _like(1e-9, x))


@onnx_op("LpNormalization")
def _lp_normalization(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", -1), _ndim(x))
    p = ctx.attr("p", 2)
    if p == 1:
        norm = F.sum(F.abs(x), axis, keepdim=True)
    elif p == 2:
        norm = F.sqrt(F.sum(x * x, axis, keepdim=True))
    else:
        raise ctx.error(f"p must be 1 or 2, got {p}")
    return F.where(norm == _like(0, norm), _like(0, x), x / F.where(
        norm == _like(0, norm), _like(1, norm), norm))


@onnx_op("GlobalAveragePool")
def _global_average_pool(ctx):
    x = ctx.inputs[0]
    return F.mean(x, tuple(range(2, _ndim(x))), keepdim=True)


@onnx_op("GlobalMaxPool")
def _global_max_pool(ctx):
    x = ctx.inputs[0]
    return F.amax(x, tuple(range(2, _ndim(x))), keepdim=True)


@onnx_op("GlobalLpPool")
def _global_lp_pool(ctx):
    x = ctx.inputs[0]
    p = ctx.attr("p", 2)
    axes = tuple(range(2, _ndim(x)))
    return F.pow(F.sum(F.pow(F.abs(x), _like(p, x)), axes, keepdim=True), _like(1.0 / p, x))


@onnx_op("LRN")
def _lrn(ctx):
    x = ctx.inputs[0]
    size = ctx.attr("size")
    alpha, beta, bias = ctx.attr("alpha", 1e-4), ctx.attr("beta", 0.75), ctx.attr("bias", 1.0)
    channels = x.shape[1]
    square = x * x
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = pad_nd(square, [[0, 0], [before, after]] + [[0, 0]] * (_ndim(x) - 2))
    window = None
    for offset in range(size):
        piece = F.getitem(padded, (slice(None), slice(offset, offset + channels)))
        window = piece if window is None else window + piece
    denominator = F.pow(window * _like(alpha / size, x) + _like(bias, x), _like(beta, x))
    return x / denominator


# ----------------------------------------------------------------------------------------------
# Resize (nearest and linear; separable index arithmetic, differentiable in the input).


def _source_coordinates(out_size, in_size, scale, mode, roi_start=0.0, roi_end=1.0):
    positions = np.arange(out_size, dtype=np.float64)
    if mode == "half_pixel":
        return (positions + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (positions + 0.5) / scale - 0.5 if out_size > 1 else np.zeros(out_size)
    if mode == "align_corners":
        # ONNX's reference divides by the unrounded output length in_size * scale.
        length = in_size * scale
        return np.zeros(out_size) if length == 1 else positions * (in_size - 1) / (length - 1)
    if mode == "asymmetric":
        return positions / scale
    if mode == "half_pixel_symmetric":
        adjustment = out_size / (scale * in_size)
        offset = in_size / 2 * (1 - adjustment)
        return offset + (positions + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        if out_size > 1:
            return (roi_start * (in_size - 1) + positions * (roi_end - roi_start)
                    * (in_size - 1) / (out_size - 1))
        return np.full(out_size, 0.5 * (roi_start + roi_end) * (in_size - 1))
    raise UnsupportedError(f"Resize: coordinate_transformation_mode {mode!r} is not supported")


def _nearest(coordinates, rule):
    if rule == "round_prefer_floor":
        return np.where(coordinates % 1 == 0.5, np.floor(coordinates), np.round(coordinates))
    if rule == "round_prefer_ceil":
        return np.where(coordinates % 1 == 0.5, np.ceil(coordinates), np.round(coordinates))
    if rule == "floor":
        return np.floor(coordinates)
    if rule == "ceil":
        return np.ceil(coordinates)
    raise UnsupportedError(f"Resize: nearest_mode {rule!r} is not supported")


def _cubic_weights(fraction, a):
    """Keys' cubic convolution weights for the 4 taps at offsets -1, 0, 1, 2."""
    distances = np.stack([1 + fraction, fraction, 1 - fraction, 2 - fraction], axis=-1)
    absolute = np.abs(distances)
    near = ((a + 2) * absolute - (a + 3)) * absolute * absolute + 1
    far = ((a * absolute - 5 * a) * absolute + 8 * a) * absolute - 4 * a
    return np.where(absolute <= 1, near, np.where(absolute < 2, far, 0.0))


def _resize_axis(x, axis, in_size, coords, mode, ctx, extrapolate):
    """Resample one axis: out[..., i, ...] = sum_k weight[i, k] * x[..., tap[i, k], ...]."""
    ndim = _ndim(x)
    if mode == "nearest":
        taps = np.clip(_nearest(coords, ctx.attr("nearest_mode", "round_prefer_floor")),
                       0, in_size - 1).astype(np.int64)[:, None]
        weights = np.ones((len(coords), 1))
    elif mode == "linear":
        low = np.floor(coords)
        fraction = coords - low
        taps = np.stack([low, low + 1], axis=-1)
        weights = np.stack([1 - fraction, fraction], axis=-1)
        clipped = np.clip(coords, 0, in_size - 1)
        if not extrapolate:
            # Linear interpolation clamps the coordinate into the input.
            low = np.floor(clipped)
            fraction = clipped - low
            taps = np.stack([low, np.minimum(low + 1, in_size - 1)], axis=-1)
            weights = np.stack([1 - fraction, fraction], axis=-1)
    else:
        low = np.floor(coords)
        taps = low[:, None] + np.arange(-1, 3)[None, :]
        weights = _cubic_weights(coords - low, ctx.attr("cubic_coeff_a", -0.75))
        if ctx.attr("exclude_outside", 0):
            weights = np.where((taps < 0) | (taps > in_size - 1), 0.0, weights)
            weights = weights / weights.sum(axis=1, keepdims=True)
    taps = np.clip(taps, 0, in_size - 1).astype(np.int64)
    prefix = (slice(None),) * axis
    out = None
    for k in range(taps.shape[1]):
        weight = weights[:, k].reshape([-1 if d == axis else 1 for d in range(ndim)])
        term = F.getitem(x, prefix + (taps[:, k],)) * const(weight.astype(x.dtype))
        out = term if out is None else out + term
    return out


@onnx_op("Resize", "Upsample")
def _resize(ctx):
    x = ctx.inputs[0]
    ndim = _ndim(x)
    transform = "asymmetric"
    roi = sizes = None
    if ctx.op_type == "Upsample":
        scales = ctx.attr("scales") if ctx.version < 9 else ctx.static(1)
        mode = ctx.attr("mode", "nearest")
        ctx.attrs.setdefault("nearest_mode", "floor")
    elif ctx.version < 11:
        scales = ctx.static(1)
        mode = ctx.attr("mode", "nearest")
        ctx.attrs.setdefault("nearest_mode", "floor")
    else:
        roi, scales, sizes = ctx.static(1), ctx.static(2), ctx.static(3)
        transform = ctx.attr("coordinate_transformation_mode", "half_pixel")
        mode = ctx.attr("mode", "nearest")
    mode = "linear" if mode == "bilinear" else mode
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedError(f"{ctx.op_type} node {ctx.node.name!r}: mode {mode!r} is not "
                               "supported")
    if ctx.attr("antialias", 0):
        raise UnsupportedError(f"Resize node {ctx.node.name!r}: antialias=1 is not supported")
    axes = ctx.attr("axes")
    axes = list(range(ndim)) if axes is None else [_axis(a, ndim) for a in axes]
    scale_list = [1.0] * ndim
    out_shape = list(x.shape)
    if sizes is not None and sizes.size:
        sizes = [int(v) for v in sizes.reshape(-1)]
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy == "stretch":
            for axis, size in zip(axes, sizes):
                out_shape[axis] = size
                scale_list[axis] = size / x.shape[axis]
        else:
            ratios = [size / x.shape[axis] for axis, size in zip(axes, sizes)]
            ratio = builtins.min(ratios) if policy == "not_larger" else builtins.max(ratios)
            for axis in axes:
                scale_list[axis] = ratio
                out_shape[axis] = int(math.floor(x.shape[axis] * ratio + 0.5))
    else:
        for axis, scale in zip(axes, np.asarray(scales).reshape(-1)):
            scale_list[axis] = float(scale)
            out_shape[axis] = int(math.floor(x.shape[axis] * float(scale)))
    roi = None if roi is None or roi.size == 0 else roi.reshape(-1).astype(np.float64)
    extrapolation = ctx.attr("extrapolation_value", 0.0)
    out = x
    for position, axis in enumerate(axes):
        in_size, out_size = x.shape[axis], out_shape[axis]
        if in_size == out_size and scale_list[axis] == 1.0 and transform != "tf_crop_and_resize":
            continue
        if roi is not None:
            roi_start, roi_end = roi[position], roi[len(axes) + position]
        else:
            roi_start, roi_end = 0.0, 1.0
        coords = _source_coordinates(out_size, in_size, scale_list[axis], transform,
                                     roi_start, roi_end)
        out = _resize_axis(out, axis, in_size, coords, mode, ctx, extrapolate=False)
        if transform == "tf_crop_and_resize":
            outside = (coords < 0) | (coords > in_size - 1)
            if outside.any():
                mask = outside.reshape([-1 if d == axis else 1 for d in range(ndim)])
                out = F.where(const(mask), _like(extrapolation, out), out)
    return out


def decode_attributes(node: onnx.NodeProto) -> dict:
    """A node's attributes as Python values (strings decoded, tensors as NumPy arrays).

    Example:
        >>> node = helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.1)
        >>> round(decode_attributes(node)["alpha"], 3)
        0.1
    """
    attrs = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8") for v in value]
        elif isinstance(value, onnx.TensorProto):
            value = tensor_to_array(value, f"{node.op_type} node {node.name!r}, attribute "
                                           f"{attribute.name!r}")
        attrs[attribute.name] = value
    return attrs


SUPPORTED: tuple = ()


def refresh_supported() -> tuple:
    """Recompute :data:`SUPPORTED` from :data:`OPS` (after more handlers are registered).

    Example:
        >>> refresh_supported() == tuple(sorted(OPS))
        True
    """
    global SUPPORTED
    SUPPORTED = tuple(sorted(OPS))
    return SUPPORTED


refresh_supported()


# ----------------------------------------------------------------------------------------------
# Recurrent layers (RNN, GRU, LSTM) with ONNX's gate layouts, composed of matmuls and
# elementwise operators, so they differentiate like any other graph.


def _rnn_activation(name: str, alpha, beta) -> Callable:
    name_lower = name.lower()
    functions = {
        "sigmoid": F.sigmoid, "tanh": F.tanh, "relu": F.relu,
        "softsign": lambda v: v / (F.abs(v) + _like(1, v)),
        "softplus": F.softplus,
        "affine": lambda v: v * _like(1.0 if alpha is None else alpha, v)
        + _like(0.0 if beta is None else beta, v),
        "leakyrelu": lambda v: F.where(v >= _like(0, v), v,
                                       v * _like(0.01 if alpha is None else alpha, v)),
        "thresholdedrelu": lambda v: F.where(v > _like(1.0 if alpha is None else alpha, v),
                                             v, _like(0, v)),
        "scaledtanh": lambda v: F.tanh(v * _like(1.0 if beta is None else beta, v))
        * _like(1.0 if alpha is None else alpha, v),
        "hardsigmoid": lambda v: F.clamp(v * _like(0.2 if alpha is None else alpha, v)
                                         + _like(0.5 if beta is None else beta, v), 0.0, 1.0),
        "elu": lambda v: _elu(v, 1.0 if alpha is None else alpha),
    }
    if name_lower not in functions:
        raise UnsupportedError(f"recurrent activation {name!r} is not supported")
    return functions[name_lower]


_RNN_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_RNN_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _slice_gate(value, index: int, hidden: int):
    return F.getitem(value, (Ellipsis, slice(index * hidden, (index + 1) * hidden)))


@onnx_op("RNN", "GRU", "LSTM")
def _recurrent(ctx):
    kind = ctx.op_type
    x, w, r = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    bias, lengths, initial_h = ctx.input(3), ctx.static(4), ctx.input(5)
    initial_c = ctx.input(6) if kind == "LSTM" else None
    peephole = ctx.input(7) if kind == "LSTM" else None
    hidden = ctx.attr("hidden_size") or r.shape[-1]
    direction = ctx.attr("direction", "forward")
    directions = ["forward", "reverse"] if direction == "bidirectional" else [direction]
    layout = ctx.attr("layout", 0)
    clip = ctx.attr("clip")
    if kind == "LSTM" and ctx.attr("input_forget", 0):
        raise UnsupportedError(f"LSTM node {ctx.node.name!r}: input_forget=1 is not supported")
    if layout:
        x = F.transpose(x, 0, 1)
        initial_h = None if initial_h is None else F.transpose(initial_h, 0, 1)
        initial_c = None if initial_c is None else F.transpose(initial_c, 0, 1)
    steps, batch = x.shape[0], x.shape[1]
    names = ctx.attr("activations") or _RNN_DEFAULTS[kind] * len(directions)
    alphas, betas = ctx.attr("activation_alpha", []), ctx.attr("activation_beta", [])
    per_direction = len(_RNN_DEFAULTS[kind])
    gates = _RNN_GATES[kind]
    valid = None
    if lengths is not None:
        valid = (np.arange(steps)[:, None] < lengths.reshape(1, -1)).astype(bool)  # [T, B]
    outputs_y, outputs_h, outputs_c = [], [], []
    for d, name in enumerate(directions):
        acts = []
        for k in range(per_direction):
            index = d * per_direction + k
            acts.append(_rnn_activation(
                names[index], alphas[index] if index < len(alphas) else None,
                betas[index] if index < len(betas) else None))
        w_d, r_d = F.getitem(w, d), F.getitem(r, d)
        # Input projections of every time step in one matmul: [T, B, gates * hidden].
        projected = F.matmul(x, F.transpose(w_d, 0, 1))
        if bias is not None:
            b_d = F.getitem(bias, d)
            w_bias = F.getitem(b_d, slice(0, gates * hidden))
            r_bias = F.getitem(b_d, slice(gates * hidden, 2 * gates * hidden))
            projected = projected + w_bias
        else:
            r_bias = None
        r_t = F.transpose(r_d, 0, 1)
        h = F.getitem(initial_h, d) if initial_h is not None else const(
            np.zeros((batch, hidden), x.dtype))
        c = None
        if kind == "LSTM":
            c = F.getitem(initial_c, d) if initial_c is not None else const(
                np.zeros((batch, hidden), x.dtype))
            p_d = F.getitem(peephole, d) if peephole is not None else None
        order = range(steps - 1, -1, -1) if name == "reverse" else range(steps)
        ys = [None] * steps
        for t in order:
            x_t = F.getitem(projected, t)
            recurrent = F.matmul(h, r_t)
            if r_bias is not None:
                recurrent = recurrent + r_bias

            def gate_input(index, x_t=x_t, recurrent=recurrent):
                return _slice_gate(x_t, index, hidden) + _slice_gate(recurrent, index, hidden)

            def clipped(value):
                return F.clamp(value, -clip, clip) if clip is not None else value

            if kind == "RNN":
                new_h = acts[0](clipped(gate_input(0)))
                new_c = None
            elif kind == "GRU":
                z = acts[0](clipped(gate_input(0)))
                reset = acts[0](clipped(gate_input(1)))
                if ctx.attr("linear_before_reset", 0):
                    candidate = _slice_gate(x_t, 2, hidden) + reset * _slice_gate(
                        recurrent, 2, hidden)
                else:
                    # The candidate uses (reset * h) @ R_h instead of the shared h @ R.
                    r_h = _slice_gate(r_t, 2, hidden)
                    candidate = _slice_gate(x_t, 2, hidden) + F.matmul(reset * h, r_h)
                    if r_bias is not None:
                        candidate = candidate + _slice_gate(r_bias, 2, hidden)
                candidate = acts[1](clipped(candidate))
                new_h = (_like(1, z) - z) * candidate + z * h
                new_c = None
            else:
                i_in, o_in, f_in = gate_input(0), gate_input(1), gate_input(2)
                if p_d is not None:
                    i_in = i_in + _slice_gate(p_d, 0, hidden) * c
                    f_in = f_in + _slice_gate(p_d, 2, hidden) * c
                i_gate = acts[0](clipped(i_in))
                f_gate = acts[0](clipped(f_in))
                candidate = acts[1](clipped(gate_input(3)))
                new_c = f_gate * c + i_gate * candidate
                if p_d is not None:
                    o_in = o_in + _slice_gate(p_d, 1, hidden) * new_c
                o_gate = acts[0](clipped(o_in))
                new_h = o_gate * acts[2](new_c)
            if valid is not None:
                mask = const(valid[t].reshape(-1, 1))
                new_h = F.where(mask, new_h, h)
                ys[t] = F.where(mask, new_h, _like(0, new_h))
                if new_c is not None:
                    new_c = F.where(mask, new_c, c)
            else:
                ys[t] = new_h
            h, c = new_h, new_c
        outputs_y.append(F.stack(ys, 0))  # [T, B, H]
        outputs_h.append(h)
        outputs_c.append(c)
    y = F.stack(outputs_y, 1)  # [T, D, B, H]
    y_h = F.stack(outputs_h, 0)  # [D, B, H]
    results = [y, y_h]
    if kind == "LSTM":
        results.append(F.stack(outputs_c, 0))
    if layout:
        results[0] = F.permute(y, (2, 0, 1, 3))
        results[1:] = [F.transpose(v, 0, 1) for v in results[1:]]
    return results[:builtins.max(ctx.n_outputs, 1)]


refresh_supported()


# ----------------------------------------------------------------------------------------------
# Losses, RMS normalisation, scatters, cumulative products, crops, windows, Unique.


def _nll(log_probs, target, weight, reduction: str, ignore_index):
    """ONNX NegativeLogLikelihoodLoss: log_probs (N, C, d...), target (N, d...)."""
    target_data = np.asarray(target._array).astype(np.int64)
    ignored = np.zeros(target_data.shape, bool) if ignore_index is None else (
        target_data == ignore_index)
    safe = np.where(ignored, 0, target_data)
    picked = F.gather(log_probs, 1, const(np.expand_dims(safe, 1)))
    picked = F.reshape(picked, target_data.shape)
    loss = -picked
    if weight is not None:
        weights = F.where(const(ignored), _like(0, weight), F.getitem(weight, (safe,)))
    else:
        weights = const((~ignored).astype(log_probs.dtype))
    loss = loss * weights
    if reduction == "none":
        return loss
    if reduction == "sum":
        return F.sum(loss)
    if reduction != "mean":
        raise UnsupportedError(f"loss reduction {reduction!r} is not supported")
    return F.sum(loss) / F.sum(weights)


@onnx_op("NegativeLogLikelihoodLoss")
def _nll_op(ctx):
    return _nll(ctx.inputs[0], ctx.inputs[1], ctx.input(2), ctx.attr("reduction", "mean"),
                ctx.attr("ignore_index"))


@onnx_op("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy(ctx):
    scores = ctx.inputs[0]
    log_probs = F.log_softmax(scores, 1)
    loss = _nll(log_probs, ctx.inputs[1], ctx.input(2), ctx.attr("reduction", "mean"),
                ctx.attr("ignore_index"))
    return [loss, log_probs][:builtins.max(ctx.n_outputs, 1)]


@onnx_op("RMSNormalization")
def _rms_normalization(ctx):
    x, scale = ctx.inputs[0], ctx.inputs[1]
    axis = _axis(ctx.attr("axis", -1), _ndim(x))
    axes = tuple(range(axis, _ndim(x)))
    stash = np_dtype(ctx.attr("stash_type", 1))
    xs = _cast(x, stash)
    mean_square = F.mean(xs * xs, axes, keepdim=True)
    normalised = xs / F.sqrt(mean_square + _like(ctx.attr("epsilon", 1e-5), mean_square))
    return _cast(normalised, x.dtype) * scale


def _scatter(ctx, data, index: tuple, updates, reduction: str):
    """data with ``updates`` written (or added/multiplied/maxed) at ``index`` (NumPy index)."""
    mask = np.zeros(data.shape, bool)
    mask[index] = True
    if reduction == "none":
        placed = apply("index_add_zeros", updates, shape=tuple(data.shape), index=index)
        return F.where(const(mask), placed, data)
    if reduction == "add":
        return data + apply("index_add_zeros", updates, shape=tuple(data.shape), index=index)
    combine = {"mul": F.mul, "max": F.maximum, "min": F.minimum}.get(reduction)
    if combine is None:
        raise UnsupportedError(f"{ctx.op_type} node {ctx.node.name!r}: reduction "
                               f"{reduction!r} is not supported")
    # Apply the updates in rounds in which every destination occurs at most once (round k
    # holds each destination's k-th update), in index order, as ONNX's reference does.
    destinations = np.ravel_multi_index(tuple(np.broadcast_arrays(*index)),
                                        data.shape[:len(index)])
    destinations = destinations.reshape(-1)
    trailing = tuple(data.shape[len(index):])
    flat_updates = F.reshape(updates, (-1,) + trailing)
    occurrence = np.zeros(destinations.shape, np.int64)
    seen: dict = {}
    for position, destination in enumerate(destinations.tolist()):
        occurrence[position] = seen.get(destination, 0)
        seen[destination] = occurrence[position] + 1
    out = data
    for round_number in range(int(occurrence.max(initial=-1)) + 1):
        chosen = np.nonzero(occurrence == round_number)[0]
        round_index = np.unravel_index(destinations[chosen], data.shape[:len(index)])
        round_mask = np.zeros(data.shape, bool)
        round_mask[round_index] = True
        placed = apply("index_add_zeros", F.getitem(flat_updates, (chosen,)),
                       shape=tuple(data.shape), index=tuple(round_index))
        out = F.where(const(round_mask), combine(out, placed), out)
    return out


@onnx_op("ScatterElements", "Scatter")
def _scatter_elements(ctx):
    data, updates = ctx.inputs[0], ctx.inputs[2]
    axis = _axis(ctx.attr("axis", 0), _ndim(data))
    indices = _normalise_indices(ctx.static(1), data.shape[axis])
    grids = list(np.indices(indices.shape))
    grids[axis] = indices
    return _scatter(ctx, data, tuple(grids), updates, ctx.attr("reduction", "none"))


@onnx_op("ScatterND")
def _scatter_nd(ctx):
    data, updates = ctx.inputs[0], ctx.inputs[2]
    indices = ctx.static(1).astype(np.int64)
    depth = indices.shape[-1]
    index = tuple(_normalise_indices(indices[..., d], data.shape[d]) for d in range(depth))
    return _scatter(ctx, data, index, updates, ctx.attr("reduction", "none"))


@onnx_op("CumProd")
def _cumprod(ctx):
    x = ctx.inputs[0]
    axis = _axis(int(ctx.static(1).reshape(-1)[0]), _ndim(x))
    length = x.shape[axis]
    exclusive, reverse = ctx.attr("exclusive", 0), ctx.attr("reverse", 0)
    if length == 0:
        return x
    order = range(length - 1, -1, -1) if reverse else range(length)
    running = None
    pieces = [None] * length
    for position in order:
        item = F.getitem(x, (slice(None),) * axis + (slice(position, position + 1),))
        if exclusive:
            pieces[position] = F.broadcast_to(_like(1, x), tuple(item.shape)) \
                if running is None else running
            running = item if running is None else running * item
        else:
            running = item if running is None else running * item
            pieces[position] = running
    return F.cat(pieces, axis) if length > 1 else pieces[0]


@onnx_op("CenterCropPad")
def _center_crop_pad(ctx):
    x = ctx.inputs[0]
    shape = [int(s) for s in ctx.static(1).reshape(-1)]
    axes = ctx.attr("axes")
    axes = list(range(_ndim(x))) if axes is None else [_axis(a, _ndim(x)) for a in axes]
    index = [slice(None)] * _ndim(x)
    widths = [[0, 0] for _ in range(_ndim(x))]
    for axis, size in zip(axes, shape):
        current = x.shape[axis]
        if size < current:
            start = (current - size) // 2
            index[axis] = slice(start, start + size)
        elif size > current:
            before = (size - current) // 2
            widths[axis] = [before, size - current - before]
    return pad_nd(F.getitem(x, tuple(index)), widths)


def _window(ctx, coefficients):
    size = int(ctx.static(0).reshape(-1)[0])
    periodic = ctx.attr("periodic", 1)
    denominator = size if periodic else size - 1
    positions = np.arange(size, dtype=np.float64)
    values = np.zeros(size)
    for k, a in enumerate(coefficients):
        values = values + (-1) ** k * a * np.cos(2 * np.pi * k * positions / denominator)
    return const(values.astype(np_dtype(ctx.attr("output_datatype", 1))))


@onnx_op("HannWindow")
def _hann(ctx):
    return _window(ctx, [0.5, 0.5])


@onnx_op("HammingWindow")
def _hamming(ctx):
    return _window(ctx, [25 / 46, 21 / 46])


@onnx_op("BlackmanWindow")
def _blackman(ctx):
    return _window(ctx, [0.42, 0.5, 0.08])


@onnx_op("Unique")
def _unique(ctx):
    x = ctx.inputs[0]
    data = x._array
    axis = ctx.attr("axis")
    if axis is None:
        flat = data.reshape(-1)
        values, first, inverse, counts = np.unique(flat, return_index=True, return_inverse=True,
                                                   return_counts=True)
        if not ctx.attr("sorted", 1):
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            first, counts, inverse = first[order], counts[order], rank[inverse]
        y = F.getitem(F.reshape(x, (-1,)), (first,))
    else:
        axis = _axis(axis, _ndim(x))
        values, first, inverse, counts = np.unique(data, axis=axis, return_index=True,
                                                   return_inverse=True, return_counts=True)
        if not ctx.attr("sorted", 1):
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            first, counts, inverse = first[order], counts[order], rank[inverse]
        y = F.getitem(x, (slice(None),) * axis + (first,))
    return [y, const(first.astype(np.int64)), const(inverse.reshape(-1).astype(np.int64)),
            const(counts.astype(np.int64))]


# ----------------------------------------------------------------------------------------------
# Attention (opset 23+): scaled dot-product attention with masks, caches and grouped queries.


def _split_heads(x, heads: int):
    batch, length, hidden = x.shape
    return F.permute(F.reshape(x, (batch, length, heads, hidden // heads)), (0, 2, 1, 3))


def _bias_softmax(scores, bias_all_masked):
    """Softmax over the last axis where a row of only -inf gives zeros (no NaN)."""
    row_max = F.amax(scores, -1, keepdim=True).detach()
    safe_max = F.where(F.logical_and(apply("isinf", row_max), row_max < _like(0, row_max)),
                       _like(0, row_max), row_max)
    exponentials = F.exp(scores - safe_max)
    total = F.sum(exponentials, -1, keepdim=True)
    total = F.where(total == _like(0, total), _like(1, total), total)
    probabilities = exponentials / total
    if bias_all_masked is not None:
        probabilities = F.where(bias_all_masked, _like(0, probabilities), probabilities)
    return probabilities


@onnx_op("Attention")
def _attention(ctx):
    q, k, v = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    mask, past_key, past_value = ctx.input(3), ctx.input(4), ctx.input(5)
    nonpad = ctx.static(6)
    three_d = _ndim(q) == 3
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if three_d:
        q, k, v = _split_heads(q, q_heads), _split_heads(k, kv_heads), _split_heads(v, kv_heads)
    dtype = q.dtype
    scale = ctx.attr("scale")
    if scale is None:
        scale = 1 / math.sqrt(q.shape[3])
    root = _like(np.sqrt(scale), q)
    if past_key is not None:
        k = F.cat([past_key, k], 2)
    if past_value is not None:
        v = F.cat([past_value, v], 2)
    present_key, present_value = k, v
    q_length, kv_length = q.shape[2], k.shape[2]
    negative_infinity = dtype.type(-np.inf)
    bias = None  # additive bias: a tensor, or None for zeros
    if mask is not None:
        if mask.shape[-1] < kv_length:
            widths = [[0, 0]] * (_ndim(mask) - 1) + [[0, kv_length - mask.shape[-1]]]
            mask = pad_nd(mask, widths, value=False if mask.dtype == np.bool_ else -np.inf)
        if mask.dtype == np.bool_:
            mask = F.where(mask, const(dtype.type(0)), const(negative_infinity))
        bias = mask
    left, right = ctx.attr("left_window_size", -1), ctx.attr("right_window_size", -1)
    if past_key is None and nonpad is not None:
        offset = nonpad.reshape(-1, 1, 1, 1) - q_length
    else:
        offset = past_key.shape[2] if past_key is not None else 0
    rows = np.arange(q_length).reshape(-1, 1)
    columns = np.arange(kv_length).reshape(1, -1)
    allowed = None
    if ctx.attr("is_causal", 0):
        allowed = columns <= rows + offset
    if left >= 0 or right >= 0:
        difference = rows + offset - columns
        window = np.ones(np.shape(difference), bool)
        if left >= 0:
            window &= difference <= left
        if right >= 0:
            window &= -difference <= right
        allowed = window if allowed is None else allowed & window
    if allowed is not None:
        structural = const(np.where(allowed, dtype.type(0), negative_infinity).astype(dtype))
        bias = structural if bias is None else bias + structural
    if nonpad is not None:
        padding = np.arange(kv_length) < nonpad.reshape(-1, 1)
        padding = np.where(padding, 0, -np.inf).astype(dtype).reshape(-1, 1, 1, kv_length)
        bias = const(padding) if bias is None else bias + const(padding)
    if kv_heads is None:
        kv_heads = k.shape[1]
    q_heads = q.shape[1]
    if q_heads != kv_heads and q_heads % kv_heads == 0:
        # Grouped-query attention: each key/value head serves q_heads / kv_heads query heads.
        repeat = np.repeat(np.arange(kv_heads), q_heads // kv_heads)
        k = F.getitem(k, (slice(None), repeat))
        v = F.getitem(v, (slice(None), repeat))
    scores = F.matmul(q * root, F.transpose(k * root, 2, 3))
    softcap = ctx.attr("softcap", 0.0)
    if softcap and softcap > 0:
        scores = F.tanh(scores / _like(softcap, scores)) * _like(softcap, scores)
    mode = ctx.attr("qk_matmul_output_mode", 0)
    with_bias = scores if bias is None else scores + bias
    qk_output = with_bias if mode == 2 else scores
    precision = ctx.attr("softmax_precision")
    softmax_input = _cast(with_bias, np_dtype(precision)) if precision is not None else with_bias
    all_masked = None
    if bias is not None:
        bias_max = F.amax(bias, -1, keepdim=True)
        all_masked = F.logical_and(apply("isinf", bias_max), bias_max < _like(0, bias_max))
    probabilities = _cast(_bias_softmax(softmax_input, all_masked), dtype)
    if mode == 3:
        qk_output = probabilities
    y = F.matmul(probabilities, v)
    if three_d:
        y = F.permute(y, (0, 2, 1, 3))
        y = F.reshape(y, (y.shape[0], y.shape[1], -1))
    return [y, present_key, present_value, _cast(qk_output, dtype)][:builtins.max(
        ctx.n_outputs, 1)]


# ----------------------------------------------------------------------------------------------
# Gated activations, group normalisation, rotary embeddings, selection and caches.


@onnx_op("Swish")
def _swish(ctx):
    x = ctx.inputs[0]
    return x * F.sigmoid(x * _like(ctx.attr("alpha", 1.0), x))


@onnx_op("SwiGLU")
def _swiglu(ctx):
    a, b = ctx.inputs[0], ctx.inputs[1]
    return a * F.sigmoid(a * _like(ctx.attr("alpha", 1.0), a)) * b


@onnx_op("GroupNormalization")
def _group_normalization(ctx):
    x, scale, bias = ctx.inputs[:3]
    groups = ctx.attr("num_groups")
    batch = x.shape[0]
    stash = np_dtype(ctx.attr("stash_type", 1)) if ctx.version >= 21 else x.dtype
    grouped = F.reshape(_cast(x, stash), (batch, groups, -1))
    mean = F.mean(grouped, 2, keepdim=True)
    centered = grouped - mean
    var = F.mean(centered * centered, 2, keepdim=True)
    normalised = centered / F.sqrt(var + _like(ctx.attr("epsilon", 1e-5), var))
    shape = (1, -1) + (1,) * (_ndim(x) - 2)
    if ctx.version < 21:
        # GroupNormalization-18: one scale and bias per group.
        normalised = normalised * F.reshape(_cast(scale, stash), (1, groups, 1)) + F.reshape(
            _cast(bias, stash), (1, groups, 1))
        return _cast(F.reshape(normalised, tuple(x.shape)), x.dtype)
    normalised = _cast(F.reshape(normalised, tuple(x.shape)), x.dtype)
    return normalised * F.reshape(scale, shape) + F.reshape(bias, shape)


@onnx_op("RotaryEmbedding")
def _rotary_embedding(ctx):
    x, cos_cache, sin_cache = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    positions = ctx.static(3)
    original_shape = tuple(x.shape)
    if _ndim(x) == 4:
        x = F.permute(x, (0, 2, 1, 3))  # [batch, sequence, heads, head_size]
    else:
        heads = ctx.attr("num_heads")
        x = F.reshape(x, (x.shape[0], x.shape[1], heads, x.shape[2] // heads))
    head_size = x.shape[3]
    dim = ctx.attr("rotary_embedding_dim", 0) or head_size
    rotate = F.getitem(x, (Ellipsis, slice(0, dim)))
    keep = F.getitem(x, (Ellipsis, slice(dim, None)))
    if positions is not None:
        positions = positions.astype(np.int64)
        cos_cache, sin_cache = F.getitem(cos_cache, (positions,)), F.getitem(sin_cache,
                                                                             (positions,))
    cos_cache, sin_cache = F.unsqueeze(cos_cache, 2), F.unsqueeze(sin_cache, 2)
    interleaved = ctx.attr("interleaved", 0)
    if interleaved:
        first = F.getitem(rotate, (Ellipsis, slice(0, None, 2)))
        second = F.getitem(rotate, (Ellipsis, slice(1, None, 2)))
    else:
        first = F.getitem(rotate, (Ellipsis, slice(0, dim // 2)))
        second = F.getitem(rotate, (Ellipsis, slice(dim // 2, None)))
    real = cos_cache * first - sin_cache * second
    imaginary = sin_cache * first + cos_cache * second
    if interleaved:
        rotated = F.reshape(F.stack([real, imaginary], -1), tuple(rotate.shape))
    else:
        rotated = F.cat([real, imaginary], -1)
    out = F.cat([rotated, keep], -1) if keep.shape[-1] else rotated
    if len(original_shape) == 3:
        return F.reshape(out, original_shape)
    return F.permute(out, (0, 2, 1, 3))


@onnx_op("Compress")
def _compress(ctx):
    x = ctx.inputs[0]
    condition = ctx.static(1).astype(bool).reshape(-1)
    axis = ctx.attr("axis")
    if axis is None:
        flat = F.reshape(x, (-1,))
        return F.getitem(flat, (np.nonzero(condition[:flat.shape[0]])[0],))
    axis = _axis(axis, _ndim(x))
    chosen = np.nonzero(condition[:x.shape[axis]])[0]
    return F.getitem(x, (slice(None),) * axis + (chosen,))


@onnx_op("ReverseSequence")
def _reverse_sequence(ctx):
    x = ctx.inputs[0]
    lengths = ctx.static(1).astype(np.int64).reshape(-1)
    batch_axis, time_axis = ctx.attr("batch_axis", 1), ctx.attr("time_axis", 0)
    steps = x.shape[time_axis]
    # source[t, b] = lengths[b] - 1 - t inside the sequence, t beyond it.
    times = np.arange(steps).reshape(-1, 1)
    source = np.where(times < lengths.reshape(1, -1), lengths.reshape(1, -1) - 1 - times, times)
    batches = np.broadcast_to(np.arange(len(lengths)).reshape(1, -1), source.shape)
    index = [slice(None)] * _ndim(x)
    index[time_axis], index[batch_axis] = source, batches
    if time_axis > batch_axis:
        index[time_axis], index[batch_axis] = source.T, batches.T
    out = F.getitem(x, tuple(index))
    # Advanced indices on two axes move to the front in (time, batch) or (batch, time) order.
    first, second = sorted((time_axis, batch_axis))
    if second - first == 1:
        return out
    order = list(range(2, _ndim(out)))
    order.insert(first, 0)
    order.insert(second, 1)
    return F.permute(out, order)


@onnx_op("TensorScatter")
def _tensor_scatter(ctx):
    cache, update = ctx.inputs[0], ctx.inputs[1]
    write = ctx.static(2)
    axis = _axis(ctx.attr("axis", -2), _ndim(cache))
    batch = cache.shape[0]
    write = np.zeros(batch, np.int64) if write is None else write.astype(np.int64).reshape(-1)
    length, capacity = update.shape[axis], cache.shape[axis]
    positions = write.reshape(-1, 1) + np.arange(length).reshape(1, -1)  # [batch, length]
    if ctx.attr("mode", "linear") == "circular":
        positions = positions % capacity
    grids = list(np.indices(tuple(update.shape)))
    shape = [1] * _ndim(update)
    shape[0], shape[axis] = batch, length
    grids[axis] = np.broadcast_to(positions.reshape(shape), tuple(update.shape))
    return _scatter(ctx, cache, tuple(grids), update, "none")


@onnx_op("BitCast")
def _bitcast(ctx):
    x = ctx.inputs[0]
    target = np_dtype(ctx.attr("to"))
    if target.itemsize != x.dtype.itemsize:
        raise ctx.error(f"cannot reinterpret {x.dtype} as {target}: different widths")
    return const(np.array(x._array, copy=True, order="C").view(target))


def _per_axis(value, shape, axis: int, block_size: int = 0):
    """Scale/zero point broadcast to ``shape`` (per-tensor, per-axis or blocked)."""
    if _ndim(value) == 0 or int(np.prod(value.shape)) == 1 and not block_size:
        return F.reshape(value, ())
    if not block_size:
        dims = [1] * len(shape)
        dims[axis] = -1
        return F.reshape(value, tuple(dims))
    repeat = np.minimum(np.arange(shape[axis]) // block_size, value.shape[axis] - 1)
    return F.getitem(value, (slice(None),) * axis + (repeat,))


_QUANT_RANGES = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127),
                 np.dtype(np.uint16): (0, 65535), np.dtype(np.int16): (-32768, 32767)}


@onnx_op("QuantizeLinear")
def _quantize_linear(ctx):
    x, scale, zero = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
    axis = _axis(ctx.attr("axis", 1), _ndim(x))
    block = ctx.attr("block_size", 0)
    target = zero.dtype if zero is not None else (
        np_dtype(ctx.attr("output_dtype")) if ctx.attr("output_dtype") else np.dtype(np.uint8))
    if target not in _QUANT_RANGES:
        raise UnsupportedError(f"QuantizeLinear node {ctx.node.name!r}: output type {target} "
                               "is not supported")
    precision = ctx.attr("precision")
    if precision:
        work = np_dtype(precision)
        scaled = _cast(x, work) / _cast(_per_axis(scale, x.shape, axis, block), work)
    else:
        scaled = x / _per_axis(scale, x.shape, axis, block)
    rounded = elementwise.round(scaled)
    if zero is not None:
        rounded = rounded + _cast(_per_axis(zero, x.shape, axis, block), rounded.dtype)
    low, high = _QUANT_RANGES[target]
    return _cast(F.clamp(rounded, low, high), target)


@onnx_op("DequantizeLinear")
def _dequantize_linear(ctx):
    x, scale, zero = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
    axis = _axis(ctx.attr("axis", 1), _ndim(x)) if _ndim(x) else 0
    block = ctx.attr("block_size", 0)
    values = _cast(x, np.float32)
    if zero is not None:
        values = values - _cast(_per_axis(zero, x.shape, axis, block), np.float32)
    out = values * _per_axis(scale, x.shape, axis, block)
    output_dtype = ctx.attr("output_dtype")
    return _cast(out, np_dtype(output_dtype) if output_dtype else scale.dtype)


@onnx_op("DynamicQuantizeLinear")
def _dynamic_quantize_linear(ctx):
    x = ctx.inputs[0]
    high = F.maximum(F.amax(x), _like(0, x))
    low = F.minimum(F.amin(x), _like(0, x))
    span = F.where(high == low, _like(255, x), high - low)
    scale = span / _like(255, x)
    zero = elementwise.round(F.clamp(-low / scale, 0, 255))
    y = F.clamp(elementwise.round(x / scale) + zero, 0, 255)
    return [_cast(y, np.uint8), scale, _cast(zero, np.uint8)]


@onnx_op("MatMulInteger")
def _matmul_integer(ctx):
    a, b = _cast(ctx.inputs[0], np.int32), _cast(ctx.inputs[1], np.int32)
    a_zero, b_zero = ctx.input(2), ctx.input(3)
    if a_zero is not None:
        a_zero = _cast(a_zero, np.int32)
        a = a - (F.reshape(a_zero, (-1, 1)) if _ndim(a_zero) == 1 and a_zero.shape[0] > 1
                 else a_zero)
    if b_zero is not None:
        b = b - _cast(b_zero, np.int32)
    return F.matmul(a, b)


@onnx_op("QLinearMatMul")
def _qlinear_matmul(ctx):
    a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = ctx.inputs[:8]
    if y_zero.dtype not in _QUANT_RANGES:
        raise UnsupportedError(f"QLinearMatMul node {ctx.node.name!r}: type {y_zero.dtype} "
                               "is not supported")

    def real(q, scale, zero, rows: bool):
        scale, zero = _cast(scale, np.float32), _cast(zero, np.float32)
        if rows and _ndim(scale) == 1 and scale.shape[0] > 1:
            scale, zero = F.reshape(scale, (-1, 1)), F.reshape(zero, (-1, 1))
        return (_cast(q, np.float32) - zero) * scale

    product = F.matmul(real(a, a_scale, a_zero, True), real(b, b_scale, b_zero, False))
    quantised = elementwise.round(product / _cast(y_scale, np.float32)) + _cast(y_zero,
                                                                              np.float32)
    low, high = _QUANT_RANGES[y_zero.dtype]
    return _cast(F.clamp(quantised, low, high), y_zero.dtype)


@onnx_op("CausalConvWithState")
def _causal_conv_with_state(ctx):
    x, weight, bias, past = ctx.inputs[0], ctx.inputs[1], ctx.input(2), ctx.input(3)
    batch, channels, length = x.shape
    taps = weight.shape[2]
    if past is None:
        past = const(np.zeros((batch, channels, taps - 1), x.dtype))
    padded = F.cat([past, x], 2) if taps > 1 else x
    # Depthwise causal convolution as a sum of shifted copies (k taps), accumulated in at
    # least float32 like a convolution kernel.
    work = np.promote_types(x.dtype, np.float32)
    wide, weight_wide = _cast(padded, work), _cast(weight, work)
    out = None
    for tap in range(taps):
        shifted = F.getitem(wide, (slice(None), slice(None), slice(tap, tap + length)))
        term = shifted * F.reshape(F.getitem(weight_wide, (slice(None), 0, tap)),
                                   (1, channels, 1))
        out = term if out is None else out + term
    if bias is not None:
        out = out + F.reshape(_cast(bias, work), (1, channels, 1))
    out = _cast(out, x.dtype)
    if ctx.attr("activation", "none") in ("silu", "swish"):
        as_float = _cast(out, np.float32)
        out = _cast(as_float * F.sigmoid(as_float), x.dtype)
    state = F.getitem(padded, (slice(None), slice(None), slice(padded.shape[2] - (taps - 1),
                                                                None)))
    return [out, state]


@onnx_op("LinearAttention")
def _linear_attention(ctx):
    query, key, value = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    past, decay, beta = ctx.input(3), ctx.input(4), ctx.input(5)
    rule = ctx.attr("update_rule", "gated_delta")
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    batch, steps, _ = query.shape
    d_k, d_v = query.shape[-1] // q_heads, value.shape[-1] // kv_heads
    group = q_heads // kv_heads
    q4 = _cast(_split_heads(query, q_heads), np.float32)
    k4 = _cast(_split_heads(key, kv_heads), np.float32)
    v4 = _cast(_split_heads(value, kv_heads), np.float32)
    if gating:
        if decay.shape[-1] == kv_heads:
            decay4 = F.permute(F.reshape(decay, (batch, steps, kv_heads, 1)), (0, 2, 1, 3))
        else:
            decay4 = _split_heads(decay, kv_heads)
        decay4 = _cast(decay4, np.float32)
    if delta:
        beta4 = _cast(F.permute(F.reshape(beta, (batch, steps, beta.shape[-1], 1)),
                                (0, 2, 1, 3)), np.float32)
    state_dtype = past.dtype if past is not None else query.dtype
    state = _cast(past, np.float32) if past is not None else const(
        np.zeros((batch, kv_heads, d_k, d_v), np.float32))
    scale = ctx.attr("scale", 0.0) or 1.0 / math.sqrt(d_k)
    repeat = np.repeat(np.arange(kv_heads), group)
    outputs = []
    for step in range(steps):
        q_t = F.getitem(q4, (slice(None), slice(None), step))
        k_t = F.getitem(k4, (slice(None), slice(None), step))
        v_t = F.getitem(v4, (slice(None), slice(None), step))
        if gating:
            state = state * F.unsqueeze(F.exp(F.getitem(decay4, (slice(None), slice(None),
                                                                 step))), -1)
        if delta:
            retrieved = F.sum(state * F.unsqueeze(k_t, -1), 2)
            v_t = F.getitem(beta4, (slice(None), slice(None), step)) * (v_t - retrieved)
        state = state + F.unsqueeze(k_t, -1) * F.unsqueeze(v_t, -2)
        read = state if group == 1 else F.getitem(state, (slice(None), repeat))
        outputs.append(F.sum(F.unsqueeze(q_t, -1) * read, 2) * _like(scale, q_t))
    out = F.stack(outputs, 2)  # (B, H_q, T, d_v)
    out = F.reshape(F.permute(out, (0, 2, 1, 3)), (batch, steps, q_heads * d_v))
    return [_cast(out, query.dtype), _cast(state, state_dtype)]


# ----------------------------------------------------------------------------------------------
# Control flow: If, Loop and Scan run their body graphs eagerly (conditions must be concrete).


@onnx_op("If")
def _if(ctx):
    condition = bool(np.asarray(ctx.static(0)).reshape(-1)[0])
    branch = ctx.attr("then_branch") if condition else ctx.attr("else_branch")
    return ctx.extra["run_graph"](branch, [])


@onnx_op("Loop")
def _loop(ctx):
    body = ctx.attr("body")
    trip_count = ctx.static(0)
    condition = ctx.static(1)
    carried = list(ctx.inputs[2:])
    trips = None if trip_count is None else int(trip_count.reshape(-1)[0])
    keep_going = True if condition is None else bool(condition.reshape(-1)[0])
    n_carried = len(carried)
    scans: list = []
    iteration = 0
    cap = limits.max_loop_iterations()
    while keep_going and (trips is None or iteration < trips):
        if iteration >= cap:
            raise ctx.error(f"the loop is still running after {cap} iterations (trip count "
                            f"{'none' if trips is None else trips}); set "
                            "HYBRIDGRAD_MAX_LOOP_ITERATIONS to allow more")
        outputs = ctx.extra["run_graph"](body, [const(np.asarray(iteration, np.int64)),
                                                const(np.asarray(keep_going))] + carried)
        keep_going = bool(np.asarray(getattr(outputs[0], "_array", outputs[0])).reshape(-1)[0])
        carried = outputs[1:1 + n_carried]
        scans.append(outputs[1 + n_carried:])
        iteration += 1
    n_scan = len(body.output) - 1 - n_carried
    stacked = []
    for k in range(n_scan):
        pieces = [step[k] for step in scans]
        if pieces:
            stacked.append(F.stack(pieces, 0))
        else:
            raise UnsupportedError(f"Loop node {ctx.node.name!r}: a loop that runs zero times "
                                   "has scan outputs of unknown shape")
    return carried + stacked


@onnx_op("Scan", min_version=9)
def _scan(ctx):
    body = ctx.attr("body")
    n_scan_inputs = ctx.attr("num_scan_inputs")
    states = list(ctx.inputs[:len(ctx.inputs) - n_scan_inputs])
    sequences = ctx.inputs[len(ctx.inputs) - n_scan_inputs:]
    input_axes = ctx.attr("scan_input_axes", [0] * n_scan_inputs)
    input_directions = ctx.attr("scan_input_directions", [0] * n_scan_inputs)
    input_axes = [_axis(a, _ndim(seq)) for a, seq in zip(input_axes, sequences)]
    steps = sequences[0].shape[input_axes[0]] if sequences else 0
    n_outputs = len(body.output) - len(states)
    collected: list = [[] for _ in range(n_outputs)]
    for step in range(steps):
        slices = []
        for seq, axis, direction in zip(sequences, input_axes, input_directions):
            position = steps - 1 - step if direction else step
            slices.append(F.getitem(seq, (slice(None),) * axis + (position,)))
        outputs = ctx.extra["run_graph"](body, states + slices)
        states = list(outputs[:len(states)])
        for k, value in enumerate(outputs[len(states):]):
            collected[k].append(value)
    output_axes = ctx.attr("scan_output_axes", [0] * n_outputs)
    output_directions = ctx.attr("scan_output_directions", [0] * n_outputs)
    results = list(states)
    for pieces, axis, direction in zip(collected, output_axes, output_directions):
        if direction:
            pieces = pieces[::-1]
        stacked = F.stack(pieces, 0)
        axis = _axis(axis, _ndim(stacked))
        if axis:
            order = list(range(1, _ndim(stacked)))
            order.insert(axis, 0)
            stacked = F.permute(stacked, order)
        results.append(stacked)
    return results


# ----------------------------------------------------------------------------------------------
# Sequences (Python lists of tensors) and optionals (a value or None).


def _position(ctx, index: int, length: int, default: int) -> int:
    value = ctx.static(index)
    position = default if value is None else int(value.reshape(-1)[0])
    return position + length if position < 0 else position


@onnx_op("SequenceEmpty")
def _sequence_empty(ctx):
    return [[]]


@onnx_op("SequenceConstruct")
def _sequence_construct(ctx):
    return [list(ctx.inputs)]


@onnx_op("SequenceAt")
def _sequence_at(ctx):
    sequence = ctx.inputs[0]
    return sequence[_position(ctx, 1, len(sequence), 0)]


@onnx_op("SequenceInsert")
def _sequence_insert(ctx):
    sequence = list(ctx.inputs[0])
    sequence.insert(_position(ctx, 2, len(sequence), len(sequence)), ctx.inputs[1])
    return [sequence]


@onnx_op("SequenceErase")
def _sequence_erase(ctx):
    sequence = list(ctx.inputs[0])
    del sequence[_position(ctx, 1, len(sequence), len(sequence) - 1)]
    return [sequence]


@onnx_op("SequenceLength")
def _sequence_length(ctx):
    return const(np.asarray(len(ctx.inputs[0]), np.int64))


@onnx_op("SplitToSequence")
def _split_to_sequence(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 0), _ndim(x))
    split = ctx.static(1)
    length = x.shape[axis]
    prefix = (slice(None),) * axis
    if split is None:
        if ctx.attr("keepdims", 1):
            return [[F.getitem(x, prefix + (slice(i, i + 1),)) for i in range(length)]]
        return [[F.getitem(x, prefix + (i,)) for i in range(length)]]
    if split.ndim == 0:
        size = int(split)
        sizes = [builtins.min(size, length - start) for start in range(0, length, size)]
    else:
        sizes = [int(v) for v in split.reshape(-1)]
    pieces, start = [], 0
    for size in sizes:
        pieces.append(F.getitem(x, prefix + (slice(start, start + size),)))
        start += size
    return [pieces]


@onnx_op("ConcatFromSequence")
def _concat_from_sequence(ctx):
    sequence = ctx.inputs[0]
    if ctx.attr("new_axis", 0):
        axis = _axis(ctx.attr("axis"), _ndim(sequence[0]) + 1)
        return F.stack(sequence, axis)
    return F.cat(sequence, _axis(ctx.attr("axis"), _ndim(sequence[0])))


@onnx_op("SequenceMap")
def _sequence_map(ctx):
    body = ctx.attr("body")
    first = ctx.inputs[0]
    extras = ctx.inputs[1:]
    outputs: list = [[] for _ in body.output]
    for i in range(len(first)):
        arguments = [first[i]] + [e[i] if isinstance(e, list) else e for e in extras]
        for k, value in enumerate(ctx.extra["run_graph"](body, arguments)):
            outputs[k].append(value)
    return outputs


@onnx_op("Optional")
def _optional(ctx):
    return [ctx.input(0)]


@onnx_op("OptionalHasElement")
def _optional_has_element(ctx):
    return const(np.asarray(ctx.input(0) is not None))


@onnx_op("OptionalGetElement")
def _optional_get_element(ctx):
    value = ctx.input(0)
    if value is None:
        raise ctx.error("the optional is empty")
    return [value]


# ----------------------------------------------------------------------------------------------
# Spatial transformers: AffineGrid and GridSample (differentiable in the image and the grid).


def _reflect(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Reflect coordinates into [low, high] by the nearest border, repeatedly."""
    span = high - low
    out = values.astype(np.float64).copy()
    below, above = out < low, out > high
    for mask, distance, toward_low in ((below, low - out, True), (above, out - high, False)):
        if span == 0:
            out[mask] = low
            continue
        flips = np.floor(distance / span)
        rest = distance - flips * span
        even = flips % 2 == 0
        start, end = (low, high) if toward_low else (high, low)
        sign = 1 if toward_low else -1
        out = np.where(mask & even, start + sign * rest, out)
        out = np.where(mask & ~even, end - sign * rest, out)
    return out


def _cubic_coefficients(fraction):
    alpha = -0.75
    coefficients = []
    for distance in (fraction + _like(1, fraction), fraction, _like(1, fraction) - fraction,
                     _like(2, fraction) - fraction):
        absolute = F.abs(distance)
        near = ((absolute * (alpha + 2) - (alpha + 3)) * absolute * absolute) + _like(1, absolute)
        far = ((absolute * alpha - 5 * alpha) * absolute + 8 * alpha) * absolute - 4 * alpha
        coefficients.append(F.where(absolute <= _like(1, absolute), near, far))
    return coefficients


@onnx_op("GridSample")
def _grid_sample(ctx):
    x, grid = ctx.inputs[0], ctx.inputs[1]
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(ctx.attr("mode", "linear"),
                                                          ctx.attr("mode", "linear"))
    padding = ctx.attr("padding_mode", "zeros")
    align = bool(ctx.attr("align_corners", 0))
    sizes = list(x.shape[2:])
    spatial = len(sizes)
    batch = x.shape[0]
    out_shape = tuple(grid.shape[1:-1])
    taps_per_dim, weights_per_dim = [], []
    for d in range(spatial):
        size = sizes[d]
        normalised = F.getitem(grid, (Ellipsis, spatial - 1 - d))  # grid lists x (last) first
        if align:
            coordinate = (normalised + _like(1, grid)) * _like((size - 1) / 2, grid)
        else:
            coordinate = ((normalised + _like(1, grid)) * _like(size, grid) - _like(1, grid)) \
                * _like(0.5, grid)
        low, high = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        if mode == "nearest":
            coordinate = const(np.rint(coordinate._array).astype(grid.dtype))
        concrete = np.asarray(coordinate._array, np.float64)
        outside = (concrete < low) | (concrete > high)
        if padding == "border" and outside.any():
            coordinate = F.clamp(coordinate, 0.0, size - 1.0)
        elif padding == "reflection" and outside.any():
            reflected = _reflect(concrete, low, high)
            # Reflection is piecewise linear: coordinate * sign + offset keeps the gradient.
            sign = np.where(outside, np.sign(np.where(
                np.abs(np.floor(np.where(concrete < low, low - concrete, concrete - high)
                                / builtins.max(high - low, 1e-12))) % 2 == 0, -1.0, 1.0)),
                1.0)
            offset = reflected - sign * concrete
            coordinate = coordinate * const(sign.astype(grid.dtype)) + const(
                offset.astype(grid.dtype))
        concrete = np.asarray(coordinate._array, np.float64)
        if mode == "nearest":
            taps = [concrete.astype(np.int64)]
            weights = [None]
        else:
            base = np.floor(concrete).astype(np.int64)
            fraction = coordinate - const(base.astype(grid.dtype))
            if mode == "linear":
                taps = [base, base + 1]
                weights = [_like(1, fraction) - fraction, fraction]
            elif mode == "cubic":
                taps = [base - 1, base, base + 1, base + 2]
                weights = _cubic_coefficients(fraction)
            else:
                raise UnsupportedError(f"GridSample node {ctx.node.name!r}: mode {mode!r}")
        taps_per_dim.append(taps)
        weights_per_dim.append(weights)
    batch_index = np.arange(batch).reshape((batch,) + (1,) * len(out_shape))
    batch_index = np.broadcast_to(batch_index, (batch,) + out_shape)
    out = None
    for combination in np.ndindex(*[len(t) for t in taps_per_dim]):
        valid = np.ones((batch,) + out_shape, bool)
        indices = []
        weight = None
        for d, k in enumerate(combination):
            tap = taps_per_dim[d][k]
            size = sizes[d]
            if padding == "zeros":
                valid &= (tap >= 0) & (tap < size)
                tap = np.clip(tap, 0, size - 1)
            elif padding == "border":
                tap = np.clip(tap, 0, size - 1)
            else:
                low, high = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
                tap = np.clip(_reflect(tap.astype(np.float64), low, high).astype(np.int64), 0,
                              size - 1)
            indices.append(tap)
            w = weights_per_dim[d][k]
            if w is not None:
                weight = w if weight is None else weight * w
        values = F.getitem(x, (batch_index, slice(None)) + tuple(indices))  # (N, *out, C)
        if not valid.all():
            values = F.where(const(valid[..., None]), values, _like(0, values))
        if weight is not None:
            values = values * F.unsqueeze(_cast(weight, x.dtype), -1)
        out = values if out is None else out + values
    order = [0, len(out_shape) + 1] + list(range(1, len(out_shape) + 1))
    return F.permute(out, order)


@onnx_op("AffineGrid")
def _affine_grid(ctx):
    theta = ctx.inputs[0]
    size = [int(v) for v in ctx.static(1).reshape(-1)]
    align = bool(ctx.attr("align_corners", 0))
    spatial = size[2:]

    def positions(length):
        if align:
            return np.linspace(-1, 1, length) if length > 1 else np.zeros(1)
        return (2 * np.arange(length) + 1) / length - 1

    axes = [positions(length) for length in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # per spatial dim, shape spatial
    # Homogeneous coordinates in x, y(, z) order: the last spatial axis is x.
    columns = [m.reshape(-1) for m in mesh[::-1]] + [np.ones(int(np.prod(spatial)))]
    base = const(np.stack(columns, -1).astype(theta.dtype))  # (points, dims + 1)
    grid = F.matmul(base, F.transpose(theta, 1, 2))  # (N, points, dims)
    return F.reshape(grid, (size[0],) + tuple(spatial) + (len(spatial),))


# ----------------------------------------------------------------------------------------------
# Fourier transforms as matrix products (differentiable), non-maximum suppression, Col2Im,
# MaxUnpool.


def _fit_length(x, axis: int, length: int):
    """Truncate or zero-pad ``x`` along ``axis`` to ``length``."""
    current = x.shape[axis]
    if current > length:
        return F.getitem(x, (slice(None),) * axis + (slice(0, length),))
    if current < length:
        widths = [[0, 0] for _ in range(_ndim(x))]
        widths[axis] = [0, length - current]
        return pad_nd(x, widths)
    return x


def dft(real, imaginary, length: int, inverse: bool = False, onesided: bool = False):
    """DFT along the last axis of (real, imaginary) parts (imaginary may be None).

    Returns (real, imaginary); the inverse with ``onesided`` is the real inverse of a
    Hermitian spectrum (NumPy's irfft) and returns (real, None).

    Example:
        >>> import hybridgrad as hg
        >>> re, im = dft(hg.tensor([1.0, 0.0, 0.0, 0.0]), None, 4)
        >>> re.tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    dtype = real.dtype
    if inverse and onesided:
        bins = length // 2 + 1
        k = np.arange(bins).reshape(-1, 1)
        n = np.arange(length).reshape(1, -1)
        angle = 2 * np.pi * k * n / length
        weights = np.full((bins, 1), 2.0)
        weights[0] = 1.0
        if length % 2 == 0:
            weights[-1] = 1.0
        cosine = const((weights * np.cos(angle) / length).astype(dtype))
        sine = const((weights * np.sin(angle) / length).astype(dtype))
        out = F.matmul(real, cosine)
        if imaginary is not None:
            out = out - F.matmul(imaginary, sine)
        return out, None
    bins = length // 2 + 1 if onesided else length
    k = np.arange(bins).reshape(-1, 1)
    n = np.arange(length).reshape(1, -1)
    angle = 2 * np.pi * k * n / length
    scale = 1.0 / length if inverse else 1.0
    cosine = const((np.cos(angle) * scale).T.astype(dtype))  # (length, bins)
    sine = const((np.sin(angle) * scale).T.astype(dtype))
    sign = 1.0 if inverse else -1.0
    out_real = F.matmul(real, cosine)
    out_imaginary = F.matmul(real, sine) * _like(sign, real)
    if imaginary is not None:
        out_real = out_real - F.matmul(imaginary, sine) * _like(sign, real)
        out_imaginary = out_imaginary + F.matmul(imaginary, cosine)
    return out_real, out_imaginary


@onnx_op("DFT")
def _dft(ctx):
    x = ctx.inputs[0]
    length = ctx.static(1)
    if ctx.version >= 20:
        axis_value = ctx.static(2)
        axis = -2 if axis_value is None else int(axis_value.reshape(-1)[0])
    else:
        axis = ctx.attr("axis", 1)
    axis = _axis(axis, _ndim(x))
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    if length is None or length.size == 0:
        length = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    else:
        length = int(length.reshape(-1)[0])
    real = F.getitem(x, (Ellipsis, 0))
    imaginary = F.getitem(x, (Ellipsis, 1)) if x.shape[-1] == 2 else None
    order = [d for d in range(_ndim(real)) if d != axis] + [axis]
    back = list(np.argsort(order))
    real = F.permute(real, order)
    imaginary = None if imaginary is None else F.permute(imaginary, order)
    needed = length // 2 + 1 if inverse and onesided else length
    real = _fit_length(real, _ndim(real) - 1, needed)
    imaginary = None if imaginary is None else _fit_length(imaginary, _ndim(imaginary) - 1,
                                                         needed)
    if not (inverse and onesided):
        # The fft primitive (NumPy's FFT, differentiable) on (..., length, 2) signals.
        if imaginary is None:
            imaginary = real * _like(0, real)
        spectrum = reduction.fft(F.stack([real, imaginary], -1), length, inverse=inverse,
                                  onesided=onesided)
        return F.permute(spectrum, back + [len(back)])
    out_real, out_imaginary = dft(real, imaginary, length, inverse, onesided)
    out_real = F.permute(out_real, back)
    if out_imaginary is None:
        return F.unsqueeze(out_real, -1)
    return F.stack([out_real, F.permute(out_imaginary, back)], -1)


@onnx_op("STFT")
def _stft(ctx):
    signal = ctx.inputs[0]
    hop = int(ctx.static(1).reshape(-1)[0])
    window = ctx.input(2)
    frame_length = ctx.static(3)
    frame_length = window.shape[0] if frame_length is None else int(frame_length.reshape(-1)[0])
    onesided = bool(ctx.attr("onesided", 1))
    length = signal.shape[1]
    frames = 1 + (length - frame_length) // hop
    real = F.getitem(signal, (Ellipsis, 0))  # (batch, length)
    imaginary = F.getitem(signal, (Ellipsis, 1)) if signal.shape[-1] == 2 else None
    starts = np.arange(frames) * hop
    index = starts.reshape(-1, 1) + np.arange(frame_length).reshape(1, -1)
    real = F.getitem(real, (slice(None), index))  # (batch, frames, frame_length)
    imaginary = None if imaginary is None else F.getitem(imaginary, (slice(None), index))
    if window is not None:
        real = real * window
        imaginary = None if imaginary is None else imaginary * window
    out_real, out_imaginary = dft(real, imaginary, frame_length, False, onesided)
    return F.stack([out_real, out_imaginary], -1)


def _iou_over(box, other, center: bool, threshold: float) -> bool:
    if center:
        x_center, y_center, width, height = box
        box = [y_center - height / 2, x_center - width / 2, y_center + height / 2,
               x_center + width / 2]
        x_center, y_center, width, height = other
        other = [y_center - height / 2, x_center - width / 2, y_center + height / 2,
                 x_center + width / 2]
    y1a, y2a = sorted((box[0], box[2]))
    x1a, x2a = sorted((box[1], box[3]))
    y1b, y2b = sorted((other[0], other[2]))
    x1b, x2b = sorted((other[1], other[3]))
    width = builtins.min(x2a, x2b) - builtins.max(x1a, x1b)
    height = builtins.min(y2a, y2b) - builtins.max(y1a, y1b)
    if width <= 0 or height <= 0:
        return False
    intersection = width * height
    area_a, area_b = (x2a - x1a) * (y2a - y1a), (x2b - x1b) * (y2b - y1b)
    union = area_a + area_b - intersection
    if area_a <= 0 or area_b <= 0 or union <= 0:
        return False
    return intersection / union > threshold


@onnx_op("NonMaxSuppression")
def _non_max_suppression(ctx):
    boxes = ctx.static(0).astype(np.float64)
    scores = ctx.static(1).astype(np.float64)
    limit = ctx.static(2)
    limit = 0 if limit is None or limit.size == 0 else int(limit.reshape(-1)[0])
    iou = ctx.static(3)
    iou = 0.0 if iou is None or iou.size == 0 else float(iou.reshape(-1)[0])
    score_threshold = ctx.static(4)
    center = bool(ctx.attr("center_point_box", 0))
    selected = []
    for batch in range(scores.shape[0]):
        for klass in range(scores.shape[1]):
            class_scores = scores[batch, klass]
            candidates = [i for i in range(len(class_scores)) if score_threshold is None
                          or score_threshold.size == 0
                          or class_scores[i] > float(score_threshold.reshape(-1)[0])]
            # Highest score first; among equal scores the lower index first.
            candidates.sort(key=lambda i: (-class_scores[i], i))
            kept: list = []
            for index in candidates:
                if len(kept) >= limit:
                    break
                if all(not _iou_over(boxes[batch, index], boxes[batch, other], center, iou)
                       for other in kept):
                    kept.append(index)
            selected += [(batch, klass, index) for index in kept]
    return const(np.asarray(selected, np.int64).reshape(-1, 3))


@onnx_op("Col2Im")
def _col2im(ctx):
    x = ctx.inputs[0]
    image = [int(v) for v in ctx.static(1).reshape(-1)]
    kernel = [int(v) for v in ctx.static(2).reshape(-1)]
    spatial = len(image)
    dilations = list(ctx.attr("dilations", [1] * spatial))
    strides = list(ctx.attr("strides", [1] * spatial))
    pads = list(ctx.attr("pads", [0] * (2 * spatial)))
    batch, columns = x.shape[0], x.shape[1]
    channels = columns // int(np.prod(kernel))
    blocks = [(size + pads[d] + pads[d + spatial] - dilations[d] * (kernel[d] - 1) - 1)
              // strides[d] + 1 for d, size in enumerate(image)]
    padded = [size + pads[d] + pads[d + spatial] for d, size in enumerate(image)]
    # Destination of every (kernel offset, block) pair in the padded image.
    kernel_grid = np.indices(kernel).reshape(spatial, -1)  # (spatial, K)
    block_grid = np.indices(blocks).reshape(spatial, -1)  # (spatial, L)
    positions = [kernel_grid[d][:, None] * dilations[d] + block_grid[d][None, :] * strides[d]
                 for d in range(spatial)]  # each (K, L)
    values = F.reshape(x, (batch, channels, kernel_grid.shape[1], block_grid.shape[1]))
    index = (slice(None), slice(None)) + tuple(positions)
    full = apply("index_add_zeros", values, shape=(batch, channels) + tuple(padded),
                 index=index)
    crop = (slice(None), slice(None)) + tuple(slice(pads[d], pads[d] + image[d])
                                              for d in range(spatial))
    return F.getitem(full, crop)


@onnx_op("MaxUnpool")
def _max_unpool(ctx):
    x = ctx.inputs[0]
    indices = ctx.static(1).astype(np.int64).reshape(-1)
    kernel = list(ctx.attr("kernel_shape"))
    spatial = len(kernel)
    strides = list(ctx.attr("strides", [1] * spatial))
    pads = list(ctx.attr("pads", [0] * (2 * spatial)))
    inferred = [x.shape[0], x.shape[1]] + [
        (x.shape[d + 2] - 1) * strides[d] - (pads[d] + pads[spatial + d]) + kernel[d]
        for d in range(spatial)]
    flat = apply("index_add_zeros", F.reshape(x, (-1,)), shape=(int(np.prod(inferred)),),
                 index=(indices,))
    out = F.reshape(flat, tuple(inferred))
    requested = ctx.static(2)
    if requested is not None:
        target = [int(v) for v in requested.reshape(-1)]
        out = pad_nd(out, [[0, t - c] for t, c in zip(target, inferred)])
    return out


# ----------------------------------------------------------------------------------------------
# Convolution and pooling: hybridgrad.nn.functional's conv/pool primitives (im2col + matmul).
# Registered only where hybridgrad.nn.functional provides them.


def _spatial_pads(ctx, x, kernel, strides, dilations, transposed=False):
    """ONNX pads (begin..., end...) for the spatial axes, resolving auto_pad."""
    for label, values in (("kernel_shape", kernel), ("strides", strides),
                          ("dilations", dilations)):
        if any(int(v) < 1 for v in values):
            raise ctx.error(f"{label} must be positive, got {list(values)}")
    spatial = _ndim(x) - 2
    auto_pad = ctx.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and not transposed:
        pads_begin, pads_end = [], []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations):
            out = -(-size // s)
            total = builtins.max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            pads_begin.append(small if auto_pad == "SAME_UPPER" else large)
            pads_end.append(large if auto_pad == "SAME_UPPER" else small)
        return pads_begin, pads_end
    if auto_pad == "VALID":
        return [0] * spatial, [0] * spatial
    pads = list(ctx.attr("pads", [0] * (2 * spatial)))
    padded = list(x.shape[:2]) + [builtins.max(int(size) + int(b) + int(e), 0) for size, b, e
                                  in zip(x.shape[2:], pads[:spatial], pads[spatial:])]
    check_alloc(padded, x.dtype.itemsize, f"{ctx.op_type} node {ctx.node.name!r} (padded input)")
    return pads[:spatial], pads[spatial:]


def _as_2d(x):
    """(N, C, L) -> (N, C, 1, L): 1-D convolution/pooling runs as 2-D with height 1."""
    return F.reshape(x, tuple(x.shape[:2]) + (1, x.shape[2]))


def _check_spatial(ctx, x):
    if _ndim(x) not in (3, 4):
        raise UnsupportedError(f"{ctx.op_type} node {ctx.node.name!r}: only 1-D and 2-D "
                               f"inputs are supported, got shape {tuple(x.shape)}")


def _depth_taps(x, taps: int, stride: int, dilation: int):
    """For 3-D windows: per depth tap j, the (N * D_out, C, H, W) slices it reads."""
    batch, channels, depth = x.shape[0], x.shape[1], x.shape[2]
    out_depth = (depth - dilation * (taps - 1) - 1) // stride + 1
    pieces = []
    for tap in range(taps):
        index = tap * dilation + np.arange(out_depth) * stride
        chosen = F.getitem(x, (slice(None), slice(None), index))  # (N, C, D_out, H, W)
        chosen = F.permute(chosen, (0, 2, 1, 3, 4))
        pieces.append(F.reshape(chosen, (batch * out_depth, channels) + tuple(x.shape[3:])))
    return pieces, out_depth


def _unfold_depth(y, batch: int, out_depth: int):
    """(N * D_out, C, H, W) -> (N, C, D_out, H, W)."""
    y = F.reshape(y, (batch, out_depth) + tuple(y.shape[1:]))
    return F.permute(y, (0, 2, 1, 3, 4))


def _tap_average_pool(ctx, x, kernel, strides, dilations, begin, end):
    """Average pooling of any rank with dilations: a sum of strided slices per kernel tap,
    divided by the number of counted positions (a window sum of a mask)."""
    ceil_mode = bool(ctx.attr("ceil_mode", 0))
    include_pad = bool(ctx.attr("count_include_pad", 0))
    sizes = list(x.shape[2:])
    outs = []
    for size, k, s_, d, b_, e_ in zip(sizes, kernel, strides, dilations, begin, end):
        span = size + b_ + e_ - d * (k - 1) - 1
        count = (-(-span // s_) if ceil_mode else span // s_) + 1
        if ceil_mode and (count - 1) * s_ >= size + b_:
            count -= 1  # the last window must start inside the input or its left padding
        outs.append(count)
    extra = [builtins.max(0, (o - 1) * s_ + d * (k - 1) + 1 - (size + b_ + e_))
             for o, s_, d, k, size, b_, e_ in zip(outs, strides, dilations, kernel, sizes,
                                                  begin, end)]
    widths = [[0, 0], [0, 0]] + [[b_, e_ + x_] for b_, e_, x_ in zip(begin, end, extra)]
    padded = pad_nd(x, widths)
    real = np.ones((1, 1) + tuple(sizes), x.dtype)
    counted = np.pad(real, [(0, 0), (0, 0)] + [(b_, e_) for b_, e_ in zip(begin, end)],
                     constant_values=1.0 if include_pad else 0.0)
    counted = np.pad(counted, [(0, 0), (0, 0)] + [(0, x_) for x_ in extra])
    total, counts = None, np.zeros((1, 1) + tuple(outs), x.dtype)
    for offsets in np.ndindex(*kernel):
        index = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + (n - 1) * s_ + 1, s_)
            for o, d, n, s_ in zip(offsets, dilations, outs, strides))
        piece = F.getitem(padded, index)
        total = piece if total is None else total + piece
        counts = counts + counted[index]
    return total / const(np.maximum(counts, 1).astype(x.dtype))


def _max_pool_indices(ctx, data, out_size, kernel, strides, dilations, begin) -> np.ndarray:
    """Flat indices (row- or column-major per storage_order) of each window's first maximum."""
    batch, channels, height, width = data.shape
    out_h, out_w = out_size
    best = np.full((batch, channels, out_h, out_w), -np.inf)
    best_index = np.zeros((batch, channels, out_h, out_w), np.int64)
    rows = np.arange(out_h) * strides[0] - begin[0]
    columns = np.arange(out_w) * strides[1] - begin[1]
    plane = (np.arange(batch)[:, None] * channels + np.arange(channels)[None, :]) * (
        height * width)
    column_major = bool(ctx.attr("storage_order", 0))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            h = rows + i * dilations[0]
            w = columns + j * dilations[1]
            inside = ((h >= 0) & (h < height))[:, None] & ((w >= 0) & (w < width))[None, :]
            hh, ww = np.clip(h, 0, height - 1), np.clip(w, 0, width - 1)
            value = np.where(inside, data[:, :, hh][:, :, :, ww], -np.inf)
            flat = (hh[:, None] + ww[None, :] * height) if column_major else (
                hh[:, None] * width + ww[None, :])
            better = value > best
            best = np.where(better, value, best)
            best_index = np.where(better, plane[:, :, None, None] + flat, best_index)
    return best_index


def _register_conv_pool(NF) -> None:  # noqa: N803 - the functional module
    def _conv3d(ctx, x, w, bias, strides, dilations, begin, end):
        # 3-D convolution as a sum over depth taps of 2-D convolutions of depth slices.
        x = pad_nd(x, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)])
        pieces, out_depth = _depth_taps(x, w.shape[2], strides[0], dilations[0])
        out = None
        for tap, piece in enumerate(pieces):
            term = NF.conv2d(piece, F.getitem(w, (slice(None), slice(None), tap)), None,
                             stride=tuple(strides[1:]), padding=(0, 0),
                             dilation=tuple(dilations[1:]), groups=ctx.attr("group", 1))
            out = term if out is None else out + term
        out = _unfold_depth(out, x.shape[0], out_depth)
        if bias is not None:
            out = out + F.reshape(bias, (1, -1, 1, 1, 1))
        return out

    @onnx_op("Conv")
    def _conv(ctx):
        return _convolve(ctx, ctx.inputs[0], ctx.inputs[1], ctx.input(2))

    @onnx_op("ConvInteger")
    def _conv_integer(ctx):
        # Integer convolution computed exactly in float64 (products of 8-bit values).
        x, w = _cast(ctx.inputs[0], np.float64), _cast(ctx.inputs[1], np.float64)
        if ctx.input(2) is not None:
            x = x - _cast(ctx.inputs[2], np.float64)
        if ctx.input(3) is not None:
            zero = _cast(ctx.inputs[3], np.float64)
            w = w - (F.reshape(zero, (-1,) + (1,) * (_ndim(w) - 1)) if _ndim(zero) == 1
                     and zero.shape[0] > 1 else zero)
        return _cast(elementwise.round(_convolve(ctx, x, w, None)), np.int32)

    @onnx_op("QLinearConv")
    def _qlinear_conv(ctx):
        x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero = ctx.inputs[:8]
        bias = ctx.input(8)
        real_x = (_cast(x, np.float64) - _cast(x_zero, np.float64)) * _cast(x_scale, np.float64)
        per_channel = (-1,) + (1,) * (_ndim(w) - 1)
        w_zero64, w_scale64 = _cast(w_zero, np.float64), _cast(w_scale, np.float64)
        if _ndim(w_scale) == 1 and w_scale.shape[0] > 1:
            w_scale64 = F.reshape(w_scale64, per_channel)
        if _ndim(w_zero) == 1 and w_zero.shape[0] > 1:
            w_zero64 = F.reshape(w_zero64, per_channel)
        real_w = (_cast(w, np.float64) - w_zero64) * w_scale64
        out = _convolve(ctx, real_x, real_w, None)
        if bias is not None:
            scale = _cast(x_scale, np.float64) * F.reshape(_cast(w_scale, np.float64), (-1,))
            out = out + F.reshape(_cast(bias, np.float64) * scale, (1, -1) + (1,) * (
                _ndim(out) - 2))
        quantised = elementwise.round(out / _cast(y_scale, np.float64)) + _cast(y_zero,
                                                                              np.float64)
        if y_zero.dtype not in _QUANT_RANGES:
            raise UnsupportedError(f"QLinearConv node {ctx.node.name!r}: type {y_zero.dtype}")
        low, high = _QUANT_RANGES[y_zero.dtype]
        return _cast(F.clamp(quantised, low, high), y_zero.dtype)

    def _convolve(ctx, x, w, bias):
        kernel = list(ctx.attr("kernel_shape", w.shape[2:]))
        spatial = len(kernel)
        strides = list(ctx.attr("strides", [1] * spatial))
        dilations = list(ctx.attr("dilations", [1] * spatial))
        begin, end = _spatial_pads(ctx, x, kernel, strides, dilations)
        if _ndim(x) == 5:
            return _conv3d(ctx, x, w, bias, strides, dilations, begin, end)
        _check_spatial(ctx, x)
        one_d = _ndim(x) == 3
        if one_d:
            x, w = _as_2d(x), _as_2d(w)
            strides, dilations, begin, end = [1] + strides, [1] + dilations, [0] + begin, \
                [0] + end
        if begin != end:
            x = pad_nd(x, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)])
            padding = (0, 0)
        else:
            padding = tuple(begin)
        out = NF.conv2d(x, w, bias, stride=tuple(strides), padding=padding,
                        dilation=tuple(dilations), groups=ctx.attr("group", 1))
        return F.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out

    @onnx_op("ConvTranspose")
    def _conv_transpose(ctx):
        x, w, bias = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
        _check_spatial(ctx, x)
        one_d = _ndim(x) == 3
        kernel = list(ctx.attr("kernel_shape", w.shape[2:]))
        spatial = len(kernel)
        strides = list(ctx.attr("strides", [1] * spatial))
        dilations = list(ctx.attr("dilations", [1] * spatial))
        output_padding = list(ctx.attr("output_padding", [0] * spatial))
        full = [(size - 1) * s + (k - 1) * d + 1 for size, s, k, d in zip(
            x.shape[2:], strides, kernel, dilations)]
        output_shape = ctx.attr("output_shape")
        auto_pad = ctx.attr("auto_pad", "NOTSET")
        if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            if output_shape is None:
                output_shape = [size * s for size, s in zip(x.shape[2:], strides)]
            output_shape = list(output_shape)[-spatial:]
            begin, end = [], []
            for f_, o_, p_ in zip(full, output_shape, output_padding):
                total = f_ + p_ - o_
                if total < 0:
                    # A larger requested output grows at the end (zeros, then the bias).
                    begin.append(0)
                    end.append(total)
                elif auto_pad == "SAME_LOWER":
                    begin.append(total - total // 2)
                    end.append(total // 2)
                else:
                    begin.append(total // 2)
                    end.append(total - total // 2)
        else:
            begin, end = _spatial_pads(ctx, x, kernel, strides, dilations, transposed=True)
        if one_d:
            x, w = _as_2d(x), _as_2d(w)
            strides, dilations = [1] + strides, [1] + dilations
        # Full transposed convolution, then ONNX's output padding (zeros at the end) and crop.
        out = NF.conv_transpose2d(x, w, None, stride=tuple(strides), padding=0,
                                  groups=ctx.attr("group", 1), dilation=tuple(dilations))
        if one_d:
            out = F.reshape(out, tuple(out.shape[:2]) + (out.shape[3],))
        if builtins.any(output_padding):
            out = pad_nd(out, [[0, 0], [0, 0]] + [[0, p_] for p_ in output_padding])
        grow = [[0, 0], [0, 0]] + [[builtins.max(-b_, 0), builtins.max(-e_, 0)]
                                   for b_, e_ in zip(begin, end)]
        if builtins.any(g_ for pair in grow for g_ in pair):
            out = pad_nd(out, grow)
        index = [slice(None), slice(None)]
        for b_, e_, size in zip(begin, end, out.shape[2:]):
            index.append(slice(builtins.max(b_, 0), size - builtins.max(e_, 0)))
        out = F.getitem(out, tuple(index))
        if bias is not None:
            out = out + F.reshape(bias, (1, -1) + (1,) * spatial)
        return out

    def _pool_setup(ctx, x):
        if _ndim(x) != 5:
            _check_spatial(ctx, x)
        kernel = list(ctx.attr("kernel_shape"))
        spatial = len(kernel)
        strides = list(ctx.attr("strides", [1] * spatial))
        dilations = list(ctx.attr("dilations", [1] * spatial))
        begin, end = _spatial_pads(ctx, x, kernel, strides, dilations)
        return kernel, strides, dilations, begin, end

    @onnx_op("MaxPool")
    def _max_pool(ctx):
        x = ctx.inputs[0]
        wants_indices = ctx.n_outputs > 1 and bool(ctx.node.output[1])
        if wants_indices and _ndim(x) != 4:
            raise UnsupportedError(f"MaxPool node {ctx.node.name!r}: the Indices output is "
                                   "supported for 2-D pooling only")
        kernel, strides, dilations, begin, end = _pool_setup(ctx, x)
        if wants_indices:
            values = _max_pool_values(ctx, x, kernel, strides, dilations, begin, end)
            return [values, const(_max_pool_indices(ctx, x._array, values.shape[2:], kernel,
                                                    strides, dilations, begin))]
        return _max_pool_values(ctx, x, kernel, strides, dilations, begin, end)

    def _max_pool_values(ctx, x, kernel, strides, dilations, begin, end):
        ceil_mode = bool(ctx.attr("ceil_mode", 0))
        if _ndim(x) == 5:
            if ceil_mode:
                raise UnsupportedError(f"MaxPool node {ctx.node.name!r}: ceil_mode for 3-D "
                                       "pooling is not supported")
            # Max over depth taps of 2-D max pooling of depth slices (-inf padding).
            x = pad_nd(x, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)],
                       value=float("-inf"))
            pieces, out_depth = _depth_taps(x, kernel[0], strides[0], dilations[0])
            out = None
            for piece in pieces:
                pooled = NF.max_pool2d(piece, tuple(kernel[1:]), stride=tuple(strides[1:]),
                                       padding=(0, 0), dilation=tuple(dilations[1:]))
                out = pooled if out is None else F.maximum(out, pooled)
            return _unfold_depth(out, x.shape[0], out_depth)
        one_d = _ndim(x) == 3
        if one_d:
            x = _as_2d(x)
            kernel, strides, dilations = [1] + kernel, [1] + strides, [1] + dilations
            begin, end = [0] + begin, [0] + end
        if begin != end or builtins.any(2 * p_ > k_ for p_, k_ in zip(begin, kernel)):
            x = pad_nd(x, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)],
                       value=float("-inf"))
            padding = (0, 0)
        else:
            padding = tuple(begin)
        out = NF.max_pool2d(x, tuple(kernel), stride=tuple(strides), padding=padding,
                            dilation=tuple(dilations), ceil_mode=ceil_mode)
        return F.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out

    @onnx_op("AveragePool")
    def _average_pool(ctx):
        x = ctx.inputs[0]
        kernel, strides, dilations, begin, end = _pool_setup(ctx, x)
        if builtins.any(d_ != 1 for d_ in dilations):
            return _tap_average_pool(ctx, x, kernel, strides, dilations, begin, end)
        include_pad = bool(ctx.attr("count_include_pad", 0))
        ceil_mode = bool(ctx.attr("ceil_mode", 0))
        if _ndim(x) == 5:
            if ceil_mode:
                raise UnsupportedError(f"AveragePool node {ctx.node.name!r}: ceil_mode for "
                                       "3-D pooling is not supported")
            widths = [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)]

            def window_mean(values):
                pieces, out_depth = _depth_taps(pad_nd(values, widths), kernel[0], strides[0],
                                                1)
                total = None
                for piece in pieces:
                    pooled = NF.avg_pool2d(piece, tuple(kernel[1:]), stride=tuple(strides[1:]),
                                           padding=0)
                    total = pooled if total is None else total + pooled
                return _unfold_depth(total, values.shape[0], out_depth)

            sums = window_mean(x)
            if include_pad or not builtins.any(begin + end):
                return sums / _like(kernel[0], sums)
            counts = window_mean(const(np.ones((1, 1) + tuple(x.shape[2:]), x.dtype)))
            return sums / counts
        one_d = _ndim(x) == 3
        if one_d:
            x = _as_2d(x)
            kernel, strides = [1] + kernel, [1] + strides
            begin, end = [0] + begin, [0] + end
        symmetric = begin == end and builtins.all(2 * p_ <= k_ for p_, k_ in zip(begin, kernel))
        if symmetric:
            out = NF.avg_pool2d(x, tuple(kernel), stride=tuple(strides), padding=tuple(begin),
                                ceil_mode=ceil_mode, count_include_pad=include_pad)
        elif include_pad and not ceil_mode:
            padded = pad_nd(x, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)])
            out = NF.avg_pool2d(padded, tuple(kernel), stride=tuple(strides), padding=0)
        elif not ceil_mode:
            # Average of the real elements only: window sums of x over window sums of a mask.
            widths = [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)]
            padded = pad_nd(x, widths)
            mask = pad_nd(const(np.ones((1, 1) + tuple(x.shape[2:]), x.dtype)), widths)
            sums = NF.avg_pool2d(padded, tuple(kernel), stride=tuple(strides), padding=0)
            counts = NF.avg_pool2d(mask, tuple(kernel), stride=tuple(strides), padding=0)
            out = sums / counts
        else:
            raise UnsupportedError(f"AveragePool node {ctx.node.name!r}: asymmetric pads with "
                                   "ceil_mode are not supported")
        return F.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out


def _register_lp_pool(NF) -> None:  # noqa: N803 - the functional module
    @onnx_op("LpPool")
    def _lp_pool(ctx):
        x = ctx.inputs[0]
        _check_spatial(ctx, x)
        kernel = list(ctx.attr("kernel_shape"))
        spatial = len(kernel)
        strides = list(ctx.attr("strides", [1] * spatial))
        dilations = list(ctx.attr("dilations", [1] * spatial))
        if builtins.any(d_ != 1 for d_ in dilations):
            raise UnsupportedError(f"LpPool node {ctx.node.name!r}: dilations are not "
                                   "supported")
        begin, end = _spatial_pads(ctx, x, kernel, strides, dilations)
        one_d = _ndim(x) == 3
        if one_d:
            x = _as_2d(x)
            kernel, strides, begin, end = [1] + kernel, [1] + strides, [0] + begin, [0] + end
        p = ctx.attr("p", 2)
        powered = F.pow(F.abs(x), _like(p, x))
        padded = pad_nd(powered, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)])
        window_sum = NF.avg_pool2d(padded, tuple(kernel), stride=tuple(strides), padding=0,
                                   ceil_mode=bool(ctx.attr("ceil_mode", 0))) * _like(
            int(np.prod(kernel)), x)
        out = F.pow(window_sum, _like(1.0 / p, x))
        return F.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out


try:
    from hybridgrad.nn import functional as _functional
except ImportError:  # hybridgrad.nn.functional (conv/pool layers) is not installed
    _functional = None
if _functional is not None and builtins.all(
        hasattr(_functional, name) for name in ("conv2d", "conv_transpose2d", "max_pool2d",
                                                "avg_pool2d")):
    _register_conv_pool(_functional)
    _register_lp_pool(_functional)
refresh_supported()
