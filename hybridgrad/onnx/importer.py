"""Load ONNX models into hybridgrad modules (eager, differentiable, fine-tunable).

The file is parsed as protobuf with the ``onnx`` package (never unpickled), validated with
``onnx.checker``, checked for operators/domains/opsets/element types hybridgrad cannot run (all
problems are listed in one error), and wrapped in an :class:`OnnxModule`: a
:class:`hybridgrad.nn.Module` whose float initializers are :class:`~hybridgrad.nn.Parameter` s
and whose ``forward`` runs the graph's nodes with hybridgrad operators.

Example:
    >>> import numpy as np, hybridgrad as hg
    >>> from onnx import helper, TensorProto, numpy_helper
    >>> w = numpy_helper.from_array(np.ones((3, 2), np.float32), "w")
    >>> graph = helper.make_graph(
    ...     [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [w])
    >>> model = hg.onnx.load(helper.make_model(graph))
    >>> model(hg.ones(1, 3)).tolist()
    [[3.0, 3.0]]
    >>> [name for name, _ in model.named_parameters()]
    ['w']
"""

from __future__ import annotations

import os
import re
from typing import Any

import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from hybridgrad.nn.module import Module, Parameter
from hybridgrad.onnx.ops import (
    OPS,
    SUPPORTED_ELEMENT_TYPES,
    NodeContext,
    OnnxImportError,
    UnsupportedError,
    const,
    decode_attributes,
    element_type_name,
)
from hybridgrad.ops.registry import SymbolicValue
from hybridgrad.tensor import Tensor

# Operator-set versions of the default ONNX domain the importer runs. Older opsets have legacy
# broadcasting attributes; newer ones did not exist when the handlers were written.
MIN_OPSET = 1
MAX_OPSET = onnx.defs.onnx_opset_version()
DEFAULT_DOMAINS = ("", "ai.onnx")


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"ONNX file {os.fspath(source)!r}"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"ONNX model bytes ({len(source)} bytes)"
    return "ONNX model"


def parse_model(source: Any) -> onnx.ModelProto:
    """Parse ``source`` (path, bytes or ModelProto) into a ModelProto, with a clear error for
    missing, truncated or garbage files.

    Example:
        >>> parse_model(b"not a model")
        Traceback (most recent call last):
        ...
        hybridgrad.onnx.ops.OnnxImportError: ONNX model bytes (11 bytes) is not a valid ...
    """
    where = _describe_source(source)
    if isinstance(source, onnx.ModelProto):
        return source
    base_dir = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise OnnxImportError(f"cannot read {where}: {error.strerror or error}") from None
        base_dir = os.path.dirname(os.path.abspath(path))
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise TypeError(f"hg.onnx.load expects a path, bytes or onnx.ModelProto, got "
                        f"{type(source).__name__}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as error:
        raise OnnxImportError(f"{where} is not a valid ONNX model: the protobuf cannot be "
                              f"decoded ({error}); the file may be truncated or not ONNX") from None
    if not model.HasField("graph") or not model.opset_import:
        raise OnnxImportError(f"{where} is not a valid ONNX model: it has no graph or no opset "
                              "(the file may be truncated or not ONNX)")
    if base_dir is not None and _uses_external_data(model):
        try:
            onnx.external_data_helper.load_external_data_for_model(model, base_dir)
        except OSError as error:
            raise OnnxImportError(f"{where}: cannot read its external weights: {error}") from None
    return model


def _uses_external_data(model: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def check_model(model: onnx.ModelProto, where: str = "ONNX model") -> None:
    """``onnx.checker`` validation, with the problem reported as :class:`OnnxImportError`.

    Example:
        >>> from onnx import helper
        >>> graph = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"])], "g", [],
        ...     [helper.make_tensor_value_info("y", 1, [1])])
        >>> check_model(helper.make_model(graph))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hybridgrad.onnx.ops.OnnxImportError: ONNX model failed ONNX validation: ...
    """
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise OnnxImportError(f"{where} failed ONNX validation: {first}") from None
    except (ValueError, RuntimeError, DecodeError) as error:
        raise OnnxImportError(f"{where} failed ONNX validation: {error}") from None


def _opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in DEFAULT_DOMAINS:
            return entry.version
    return 1


def _schema_version(op_type: str, opset: int, domain: str) -> int | None:
    try:
        return onnx.defs.get_schema(op_type, opset, domain).since_version
    except Exception:  # noqa: BLE001 - onnx raises SchemaError for unknown operators
        return None


def unsupported_features(model: onnx.ModelProto) -> list[str]:
    """Every reason hybridgrad cannot run ``model`` (empty when it can), deduplicated.

    Example:
        >>> from onnx import helper, TensorProto
        >>> graph = helper.make_graph(
        ...     [helper.make_node("Foo", ["x"], ["y"]), helper.make_node("Bar", ["y"], ["z"])],
        ...     "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        ...     [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])])
        >>> unsupported_features(helper.make_model(graph))
        ['operator Bar (ai.onnx)', 'operator Foo (ai.onnx)']
    """
    problems: set[str] = set()
    opset = _opset(model)
    for entry in model.opset_import:
        if entry.domain not in DEFAULT_DOMAINS:
            used = any(node.domain == entry.domain for node in model.graph.node)
            if used:
                problems.add(f"domain {entry.domain!r} (opset {entry.version})")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        problems.add(f"opset {opset} of the default domain (supported: {MIN_OPSET}..{MAX_OPSET})")
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        problem = _type_problem(value.type)
        if problem:
            problems.add(f"{problem} (value {value.name!r})")
    for tensor in graph.initializer:
        if tensor.data_type not in SUPPORTED_ELEMENT_TYPES:
            problems.add(f"element type {element_type_name(tensor.data_type)} "
                         f"(initializer {tensor.name!r})")
    if graph.sparse_initializer:
        problems.add("sparse initializers")
    _check_nodes(graph.node, opset, problems)
    return sorted(problems)


def _type_problem(type_proto: onnx.TypeProto) -> str | None:
    """Why a value of this type cannot be held (tensors, sequences of tensors and optionals can)."""
    kind = type_proto.WhichOneof("value")
    if kind is None:
        return None
    if kind == "tensor_type":
        elem_type = type_proto.tensor_type.elem_type
        if elem_type and elem_type not in SUPPORTED_ELEMENT_TYPES:
            return f"element type {element_type_name(elem_type)}"
        return None
    if kind == "sequence_type":
        return _type_problem(type_proto.sequence_type.elem_type)
    if kind == "optional_type":
        return _type_problem(type_proto.optional_type.elem_type)
    return f"{kind} values (tensors, sequences and optionals are supported)"


def _check_nodes(nodes, opset: int, problems: set) -> None:
    for node in nodes:
        domain = node.domain
        if domain not in DEFAULT_DOMAINS:
            problems.add(f"operator {node.op_type} (domain {domain!r})")
            continue
        entry = OPS.get(node.op_type)
        if entry is None:
            problems.add(f"operator {node.op_type} (ai.onnx)")
            continue
        version = _schema_version(node.op_type, opset, "")
        if version is not None and version < entry.min_version:
            problems.add(f"operator {node.op_type} version {version} (supported from "
                         f"{entry.min_version})")
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _check_nodes(attribute.g.node, opset, problems)
                for value in list(attribute.g.input) + list(attribute.g.output):
                    problem = _type_problem(value.type)
                    if problem:
                        problems.add(f"{problem} (value {value.name!r} in a subgraph of "
                                     f"{node.op_type})")
            if attribute.type == onnx.AttributeProto.GRAPHS:
                problems.add(f"operator {node.op_type} with a list-of-graphs attribute")
            if attribute.name in ("to", "dtype") and attribute.type == onnx.AttributeProto.INT \
                    and attribute.i not in SUPPORTED_ELEMENT_TYPES:
                problems.add(f"element type {element_type_name(attribute.i)} "
                             f"({node.op_type} {attribute.name}=)")
            if attribute.type == onnx.AttributeProto.TENSOR and \
                    attribute.t.data_type not in SUPPORTED_ELEMENT_TYPES:
                problems.add(f"element type {element_type_name(attribute.t.data_type)} "
                             f"({node.op_type} attribute {attribute.name})")
            if attribute.type == onnx.AttributeProto.SPARSE_TENSOR:
                problems.add(f"sparse tensor attribute ({node.op_type} {attribute.name})")


def _parameter_name(name: str, taken: set) -> str:
    cleaned = re.sub(r"\W", "_", name) or "param"
    if cleaned[0].isdigit():
        cleaned = "p_" + cleaned
    candidate, counter = cleaned, 1
    while candidate in taken:
        counter += 1
        candidate = f"{cleaned}_{counter}"
    taken.add(candidate)
    return candidate


class OnnxModule(Module):
    """An ONNX graph run eagerly with hybridgrad operators.

    Float initializers are parameters (trainable: ``model.parameters()``), other initializers
    are buffers. Call it with the graph's inputs in order (tensors or arrays) or by name; it
    returns one tensor, or a tuple when the graph has several outputs.

    Example:
        >>> import numpy as np, hybridgrad as hg
        >>> from onnx import helper, TensorProto
        >>> graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
        >>> hg.onnx.load(helper.make_model(graph))(hg.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        graph = model.graph
        self.opset = _opset(model)
        self.graph_name = graph.name
        initializer_names = {t.name for t in graph.initializer}
        self.input_names = [v.name for v in graph.input if v.name not in initializer_names]
        self.output_names = [v.name for v in graph.output]
        self.input_dtypes = {v.name: v.type.tensor_type.elem_type for v in graph.input}
        self.initializer_names: dict[str, str] = {}
        # Integer/bool initializers (shapes, axes, indices) are also kept as plain constants:
        # operators read them as concrete values, even while the module is being traced.
        self._constants: dict[str, Tensor] = {}
        taken: set = set()
        for tensor in graph.initializer:
            array = numpy_helper.to_array(tensor)
            if not array.flags.writeable:
                array = array.copy()
            attribute = _parameter_name(tensor.name, taken)
            self.initializer_names[tensor.name] = attribute
            if array.dtype.kind == "f":
                self.register_parameter(attribute, Parameter(array))
            else:
                self.register_buffer(attribute, Tensor._wrap(array))
                self._constants[tensor.name] = Tensor._wrap(array)
        self._nodes = compile_nodes(graph.node, self.opset)

    def extra_repr(self) -> str:
        return (f"graph={self.graph_name!r}, opset={self.opset}, nodes={len(self._nodes)}, "
                f"inputs={self.input_names}, outputs={self.output_names}")

    def _initial_values(self) -> dict:
        values = {}
        parameters = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        for onnx_name, attribute in self.initializer_names.items():
            values[onnx_name] = parameters.get(attribute, buffers.get(attribute))
            if onnx_name in self._constants and not isinstance(values[onnx_name], Tensor):
                values[onnx_name] = self._constants[onnx_name]
        return values

    def forward(self, *inputs: Any, **named_inputs: Any):
        if len(inputs) > len(self.input_names):
            raise OnnxImportError(f"ONNX graph {self.graph_name!r} takes {len(self.input_names)} "
                                  f"inputs {self.input_names}, got {len(inputs)}")
        values = self._initial_values()
        given = dict(zip(self.input_names, inputs))
        for name, value in named_inputs.items():
            if name not in self.input_dtypes:
                raise OnnxImportError(f"ONNX graph {self.graph_name!r} has no input {name!r} "
                                      f"(inputs: {self.input_names})")
            given[name] = value
        missing = [name for name in self.input_names if name not in given]
        if missing:
            raise OnnxImportError(f"ONNX graph {self.graph_name!r}: missing inputs {missing}")
        for name, value in given.items():
            values[name] = _as_value(value)
        run_nodes(self._nodes, values, self.opset)
        results = tuple(values[name] for name in self.output_names)
        return results[0] if len(results) == 1 else results


def _as_value(value):
    """Graph inputs as hybridgrad values: tensors, lists (sequences) or None (empty optional)."""
    if value is None or isinstance(value, (Tensor, SymbolicValue)):
        return value
    if isinstance(value, (list, tuple)):
        return [_as_value(v) for v in value]
    return const(value)


def compile_nodes(nodes, opset: int) -> list:
    """Each node with its handler, decoded attributes and operator version."""
    compiled = []
    for node in nodes:
        version = _schema_version(node.op_type, opset, "") or opset
        compiled.append((node, OPS[node.op_type].handler, decode_attributes(node), version))
    return compiled


def run_nodes(compiled: list, values: dict, opset: int) -> None:
    """Run compiled nodes in order, reading and writing ``values`` (name -> tensor)."""

    def run_graph(graph: onnx.GraphProto, inputs: list) -> list:
        return run_subgraph(graph, inputs, values, opset)

    for node, handler, attrs, version in compiled:
        try:
            inputs_now = [values[name] if name else None for name in node.input]
        except KeyError as error:
            raise OnnxImportError(f"{node.op_type} node {node.name!r}: input {error} is not "
                                  "computed by any earlier node") from None
        context = NodeContext(node, inputs_now, attrs, version, len(node.output),
                              {"run_graph": run_graph})
        try:
            outputs = handler(context)
        except (OnnxImportError, UnsupportedError):
            raise
        except Exception as error:  # noqa: BLE001 - re-raised with the node named
            shapes = ", ".join(f"{n or '-'}: {getattr(v, 'shape', None)} "
                               f"{getattr(v, 'dtype', '')}"
                               for n, v in zip(node.input, inputs_now))
            raise OnnxImportError(f"{node.op_type} node {node.name!r} failed: {error} "
                                  f"(inputs {shapes})") from error
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for name, value in zip(node.output, outputs):
            if name:
                values[name] = value


_compiled_subgraphs: dict = {}


def run_subgraph(graph: onnx.GraphProto, inputs: list, outer: dict, opset: int) -> list:
    """Run a subgraph (If/Loop/Scan bodies) with ``inputs`` bound to its inputs; names of the
    enclosing graph are visible (ONNX's outer scope)."""
    key = (id(graph), opset)
    entry = _compiled_subgraphs.get(key)
    if entry is None or entry[0] is not graph:
        constants = {t.name: const(numpy_helper.to_array(t)) for t in graph.initializer}
        entry = (graph, compile_nodes(graph.node, opset), constants)
        _compiled_subgraphs[key] = entry
    values = dict(outer)
    values.update(entry[2])
    for value_info, value in zip(graph.input, inputs):
        values[value_info.name] = value
    run_nodes(entry[1], values, opset)
    return [values[v.name] for v in graph.output]


def load(source: Any, check: bool = True) -> OnnxModule:
    """Load an ONNX model (path, bytes or ``onnx.ModelProto``) as a hybridgrad module.

    Raises :class:`OnnxImportError` for unreadable, truncated or invalid files (naming the file)
    and :class:`UnsupportedError` listing every unsupported operator, domain, opset and element
    type at once.

    Example:
        >>> import hybridgrad as hg
        >>> hg.onnx.load(b"\\x00garbage")
        Traceback (most recent call last):
        ...
        hybridgrad.onnx.ops.OnnxImportError: ONNX model bytes (8 bytes) is not a valid ...
    """
    where = _describe_source(source)
    model = parse_model(source)
    if check:
        check_model(model, where)
    problems = unsupported_features(model)
    if problems:
        raise UnsupportedError(f"{where} uses what hybridgrad cannot run: " + "; ".join(problems)
                               + f". Supported operators: {len(OPS)} (hg.onnx.SUPPORTED).")
    return OnnxModule(model)
