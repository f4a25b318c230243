"""The operator table of the ONNX importer and what its handlers share: the node context,
errors, element types, constants and attribute decoding.

ONNX operators are implemented with hybridgrad operators (so imported models are
differentiable).

Every ONNX operator the importer runs is one entry of :data:`OPS`, registered with
:func:`onnx_op`. A handler receives a :class:`NodeContext` (the node's inputs as hybridgrad
tensors, its attributes, the opset version of the operator) and returns the node's outputs.
:data:`SUPPORTED` is derived from this table, so the list of supported operators can never
drift from the implementations.

Shape-like inputs (``Reshape``'s shape, ``Slice``'s starts, ``Reduce*``'s axes from opset 13/18)
are read as concrete values; eagerly they always are.

Example:
    >>> from hybridgrad.onnx.ops.core import refresh_supported
    >>> "MatMul" in refresh_supported() and "Gemm" in refresh_supported()
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hybridgrad import limits
from hybridgrad.ops.registry import apply
from hybridgrad.tensor import Tensor


class OnnxImportError(ValueError):
    """An ONNX model cannot be loaded or run by hybridgrad (the message says why)."""

    __module__ = "hybridgrad.onnx.ops"  # (its public home: tracebacks name it there)


class UnsupportedError(OnnxImportError):
    """The model uses operators, domains, opsets or element types hybridgrad does not support."""

    __module__ = "hybridgrad.onnx.ops"


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
