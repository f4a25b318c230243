"""Export hybridgrad models to ONNX by tracing (``hg.onnx.export``).

The model is traced once on symbolic inputs shaped like ``example_inputs`` (the notes: export
needs a sample input because the graph is recorded by running the model). Each recorded
primitive is translated by the ``onnx`` slot of its :class:`~hybridgrad.ops.registry.OpDef`
(filled from :data:`PRIMITIVE_EXPORTERS`); parameters and buffers become initializers named like
``state_dict`` keys. Recurrent layers (RNN/GRU/LSTM) become ONNX ``RNN``/``GRU``/``LSTM`` nodes
and batch normalisation in evaluation mode a ``BatchNormalization`` node (:data:`LEAF_EXPORTERS`),
instead of their unrolled primitive operators.

Example:
    >>> import numpy as np
    >>> onnx_type(np.float32) == onnx.TensorProto.FLOAT
    True
"""

from __future__ import annotations

import itertools
import os
import tempfile
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from hybridgrad.ops.registry import REGISTRY, OpDef, Spec, SymbolicValue, apply, promote

DEFAULT_OPSET = 17
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


class ExportError(ValueError):
    """A model cannot be exported to ONNX (the message names the operator or layer)."""


def onnx_type(dtype) -> int:
    """The ONNX element type of a NumPy dtype. Example: ``onnx_type(np.float32) == 1``."""
    try:
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError):
        raise ExportError(f"dtype {np.dtype(dtype)} has no ONNX element type") from None


class Builder:
    """Collects ONNX nodes and initializers while a traced graph is translated.

    Exporter functions (``fn(builder, node) -> output name``) call :meth:`add` to emit nodes,
    :meth:`constant`/:meth:`ints` for constant inputs and :meth:`name` for a graph node's value.

    Example:
        >>> b = Builder(17)
        >>> b.add("Relu", [b.constant(np.ones(2, np.float32))])
        'relu'
        >>> [n.op_type for n in b.nodes], [t.name for t in b.initializers]
        (['Relu'], ['const'])
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._names: dict[int, str] = {}
        self._taken: set = set()
        self._counter = itertools.count()
        self.module_names: dict[int, str] = {}

    def fresh(self, hint: str) -> str:
        base = "".join(c if c.isalnum() or c in "._" else "_" for c in hint) or "value"
        name = base
        while name in self._taken:
            name = f"{base}_{next(self._counter)}"
        self._taken.add(name)
        return name

    def bind(self, node, name: str) -> None:
        self._names[node.id] = name

    def name(self, node) -> str:
        try:
            return self._names[node.id]
        except KeyError:
            raise ExportError(f"internal: value {node!r} used before it was exported") from None

    def spec(self, node) -> Spec:
        if node.spec is None:
            value = np.asarray(node.value) if node.value is not None else None
            if value is None:
                raise ExportError(f"internal: value {node!r} has no shape/dtype")
            dtype = value.dtype if value.dtype != np.float64 or not node.weak else np.float32
            return Spec(tuple(value.shape), dtype)
        return node.spec

    def dtype(self, node) -> np.dtype:
        return np.dtype(self.spec(node).dtype)

    def add(self, op_type: str, inputs: list, outputs: int | list = 1, hint: str | None = None,
            **attributes) -> Any:
        """Emit one node; returns its output name (or the list of names)."""
        if isinstance(outputs, int):
            names = [self.fresh(hint or op_type.lower()) for _ in range(outputs)]
        else:
            names = list(outputs)
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), names,
                                           name=self.fresh(f"{op_type}_node"), **attributes))
        return names[0] if len(names) == 1 else names

    def constant(self, value, dtype=None, hint: str = "const") -> str:
        array = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, values, hint: str = "ints") -> str:
        return self.constant(np.asarray(list(values), dtype=np.int64).reshape(-1), hint=hint)

    def cast(self, name: str, from_dtype, to_dtype) -> str:
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.add("Cast", [name], to=onnx_type(to_dtype))

    def inputs_as(self, node, dtype) -> list[str]:
        return [self.cast(self.name(child), self.dtype(child), dtype) for child in node.inputs]


# ----------------------------------------------------------------------------------------------
# Primitive exporters: fn(builder, node) -> output name.

PRIMITIVE_EXPORTERS: dict[str, Callable] = {}


def exports(*names: str) -> Callable:
    def decorate(function: Callable) -> Callable:
        for name in names:
            PRIMITIVE_EXPORTERS[name] = function
        return function

    return decorate


def _promoted(b: Builder, node) -> tuple[list[str], np.dtype]:
    dtype = promote(*[b.dtype(child) for child in node.inputs])
    return b.inputs_as(node, dtype), dtype


def _float_inputs(b: Builder, node) -> list[str]:
    return b.inputs_as(node, b.dtype(node))


def _unary(op_type: str) -> Callable:
    def export(b: Builder, node) -> str:
        return b.add(op_type, _float_inputs(b, node) if b.dtype(node).kind == "f"
                     else [b.name(node.inputs[0])])

    return export


def _binary(op_type: str) -> Callable:
    def export(b: Builder, node) -> str:
        if node.op.float_only:
            names = _float_inputs(b, node)
        else:
            names, _ = _promoted(b, node)
        if op_type in ("And", "Or", "Xor"):
            names = [b.cast(n, b.dtype(c), np.bool_) for n, c in zip(names, node.inputs)]
        return b.add(op_type, names)

    return export


def one_to_one(op) -> Callable:
    """The exporter of a primitive that one ONNX operator computes from the same inputs (the
    operator's ``onnx_type`` fact: ``Exp`` for ``exp``, ``Add`` for ``add``).

    Example:
        >>> callable(one_to_one(REGISTRY["exp"]))
        True
    """
    return (_unary if len(op.arg_names) == 1 else _binary)(op.onnx_type)


@exports("ne")
def _ne(b, node):
    names, _ = _promoted(b, node)
    return b.add("Not", [b.add("Equal", names)])


@exports("isfinite")
def _isfinite(b, node):
    x = b.name(node.inputs[0])
    return b.add("Not", [b.add("Or", [b.add("IsNaN", [x]), b.add("IsInf", [x])])])


@exports("logaddexp")
def _logaddexp(b, node):
    # ONNX has no LogAddExp: max(a, b) + softplus(-|a - b|), the form that never overflows.
    a, c = _float_inputs(b, node)
    gap = b.add("Neg", [b.add("Abs", [b.add("Sub", [a, c])])])
    return b.add("Add", [b.add("Max", [a, c]), b.add("Softplus", [gap])])


@exports("pow")
def _pow(b, node):
    names, _ = _promoted(b, node)
    return b.add("Pow", names)


@exports("trunc")
def _trunc(b, node):
    x = b.name(node.inputs[0])
    zero = b.constant(0, b.dtype(node.inputs[0]))
    return b.add("Where", [b.add("Less", [x, zero]), b.add("Ceil", [x]), b.add("Floor", [x])])


@exports("remainder")
def _remainder(b, node):
    (a, c), dtype = _promoted(b, node)
    if dtype.kind == "f":
        # Python's modulo: a - b * floor(a / b) (ONNX's Mod with fmod=0 is integer-only).
        return b.add("Sub", [a, b.add("Mul", [c, b.add("Floor", [b.add("Div", [a, c])])])])
    return b.add("Mod", [a, c], fmod=0)


@exports("fmod")
def _fmod(b, node):
    names, _ = _promoted(b, node)
    return b.add("Mod", names, fmod=1)


@exports("left_shift", "right_shift")
def _shift(b, node):
    names, dtype = _promoted(b, node)
    if dtype.kind != "u":
        raise ExportError(f"{node.op.name}: ONNX BitShift takes unsigned integers, got {dtype}")
    return b.add("BitShift", names, direction="LEFT" if node.op.name == "left_shift" else "RIGHT")


@exports("cast")
def _cast(b, node):
    return b.add("Cast", [b.name(node.inputs[0])], to=onnx_type(node.attrs["dtype"]))


@exports("where")
def _where(b, node):
    condition, a, c = node.inputs
    dtype = promote(b.dtype(a), b.dtype(c))
    return b.add("Where", [b.cast(b.name(condition), b.dtype(condition), np.bool_),
                           b.cast(b.name(a), b.dtype(a), dtype),
                           b.cast(b.name(c), b.dtype(c), dtype)])


@exports("clamp")
def _clamp(b, node):
    x = b.name(node.inputs[0])
    dtype = b.dtype(node.inputs[0])
    low, high = node.attrs.get("low"), node.attrs.get("high")
    return b.add("Clip", [x, b.constant(low, dtype) if low is not None else "",
                          b.constant(high, dtype) if high is not None else ""])


def _reduce(op_type: str, axes_input_from: int):
    def export(b: Builder, node) -> str:
        x = b.name(node.inputs[0])
        axes = node.attrs.get("axis")
        keepdims = int(bool(node.attrs.get("keepdims", False)))
        if axes is None:
            axes = tuple(range(len(b.spec(node.inputs[0]).shape)))
        if not axes:
            return b.add("Identity", [x])
        if b.opset >= axes_input_from:
            return b.add(op_type, [x, b.ints(axes, "axes")], keepdims=keepdims)
        return b.add(op_type, [x], axes=list(axes), keepdims=keepdims)

    return export


exports("sum")(_reduce("ReduceSum", 13))
exports("amax")(_reduce("ReduceMax", 18))
exports("prod")(_reduce("ReduceProd", 18))


def _arg(op_type: str):
    def export(b: Builder, node) -> str:
        x = b.name(node.inputs[0])
        axis = node.attrs.get("axis")
        keepdims = int(bool(node.attrs.get("keepdims", False)))
        if axis is None:
            flat = b.add("Reshape", [x, b.ints([-1])])
            out = b.add(op_type, [flat], axis=0, keepdims=0)
            return b.add("Reshape", [out, b.ints(b.spec(node).shape, "shape")])
        return b.add(op_type, [x], axis=int(axis), keepdims=keepdims)

    return export


exports("argmax")(_arg("ArgMax"))
exports("argmin")(_arg("ArgMin"))


@exports("matmul")
def _matmul(b, node):
    names, _ = _promoted(b, node)
    return b.add("MatMul", names)


@exports("linear")
def _linear(b, node):
    # x @ w^T: a Transpose and a MatMul (any number of leading dimensions, like the forward).
    (x, w), _ = _promoted(b, node)
    return b.add("MatMul", [x, b.add("Transpose", [w], perm=[1, 0])])


@exports("reshape")
def _reshape(b, node):
    x = node.inputs[0]
    shape = list(node.attrs["shape"])
    dynamic = getattr(b, "dynamic_leading", False)
    old = b.spec(x).shape
    if dynamic and -1 not in shape:
        # Leading dimensions kept as they are are copied (0), so dynamic sizes flow through;
        # the first changed one, when it merges or splits a dimension, follows the rest (-1).
        position = 0
        while position < min(len(shape), len(old)) and shape[position] == old[position]:
            shape[position] = 0
            position += 1
        if position < min(len(shape), len(old)) and shape[position] and old[position] and (
                old[position] % shape[position] == 0 or shape[position] % old[position] == 0):
            shape[position] = -1
    return b.add("Reshape", [b.name(x), b.ints(shape, "shape")])


@exports("permute")
def _permute(b, node):
    return b.add("Transpose", [b.name(node.inputs[0])], perm=list(node.attrs["dims"]))


@exports("broadcast_to")
def _broadcast_to(b, node):
    # Expand broadcasts both ways: a 1 where the input already has the size keeps that size
    # (so a dynamic batch dimension is not pinned to the traced value).
    old = b.spec(node.inputs[0]).shape
    target = list(node.attrs["shape"])
    offset = len(target) - len(old)
    shape = [1 if i >= offset and old[i - offset] == size else size
             for i, size in enumerate(target)]
    return b.add("Expand", [b.name(node.inputs[0]), b.ints(shape, "shape")])


@exports("cat")
def _cat(b, node):
    dtype = b.dtype(node)
    return b.add("Concat", b.inputs_as(node, dtype), axis=int(node.attrs["axis"]))


@exports("pad")
def _pad(b, node):
    x = node.inputs[0]
    widths = node.attrs["widths"]
    pads = [int(w[0]) for w in widths] + [int(w[1]) for w in widths]
    value = b.constant(node.attrs.get("value", 0.0), b.dtype(x))
    return b.add("Pad", [b.name(x), b.ints(pads, "pads"), value], mode="constant")


@exports("gather")
def _gather(b, node):
    x, index = node.inputs
    return b.add("GatherElements", [b.name(x), b.cast(b.name(index), b.dtype(index), np.int64)],
                 axis=int(node.attrs["axis"]))


@exports("scatter_add")
def _scatter_add(b, node):
    a, index, src = node.inputs
    if b.opset < 16:
        raise ExportError("scatter_add needs opset 16 or newer (ScatterElements reduction)")
    return b.add("ScatterElements", [b.name(a), b.cast(b.name(index), b.dtype(index), np.int64),
                                     b.cast(b.name(src), b.dtype(src), b.dtype(a))],
                 axis=int(node.attrs["axis"]), reduction="add")


@exports("cumsum")
def _cumsum(b, node):
    return b.add("CumSum", [b.name(node.inputs[0]), b.constant(node.attrs["axis"], np.int64)],
                 exclusive=int(node.attrs["exclusive"]), reverse=int(node.attrs["reverse"]))


@exports("fft")
def _fft(b, node):
    x = node.inputs[0]
    ndim = len(b.spec(x).shape)
    length = int(node.attrs["length"])
    inputs = [b.name(x), b.constant(np.asarray(length, np.int64), hint="dft_length")]
    attributes = {"inverse": int(bool(node.attrs["inverse"]))}
    if b.opset >= 20:
        inputs.append(b.constant(np.asarray(ndim - 2, np.int64), hint="axis"))
    else:
        attributes["axis"] = ndim - 2
    out = b.add("DFT", inputs, **attributes)
    if node.attrs["onesided"]:
        # ONNX's onesided applies to real inputs only; keep the first bins explicitly.
        out = b.add("Slice", [out, b.ints([0]), b.ints([length // 2 + 1]), b.ints([ndim - 2])])
    return out


@exports("getitem")
def _getitem(b, node):
    x = node.inputs[0]
    shape = b.spec(x).shape
    index = node.attrs["index"]
    index = index if isinstance(index, tuple) else (index,)
    consumed = sum(item.ndim if isinstance(item, np.ndarray) and item.dtype == np.bool_ else
                   (0 if item is None or item is Ellipsis else 1) for item in index)
    expanded = []
    for item in index:
        if item is Ellipsis:
            expanded += [slice(None)] * (len(shape) - consumed)
        else:
            expanded.append(item)
    arrays = [i for i, item in enumerate(expanded) if isinstance(item, np.ndarray)]
    if arrays:
        position = arrays[0]
        item = expanded[position]
        others = [it for i, it in enumerate(expanded) if i != position]
        if len(arrays) > 1 or any(not (isinstance(it, slice) and it == slice(None))
                                  for it in others if it is not None) or None in expanded:
            raise ExportError(f"getitem: advanced index {index!r} cannot be exported (one "
                              "integer array with full slices elsewhere can)")
        if item.dtype == np.bool_:
            if item.ndim != 1:
                raise ExportError("getitem: multi-dimensional boolean masks cannot be exported")
            item = np.nonzero(item)[0]
        indices = b.constant(item.astype(np.int64), hint="indices")
        return b.add("Gather", [b.name(x), indices], axis=position)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = 0
    out_position = 0
    for item in expanded:
        if item is None:
            unsqueeze.append(out_position)
            out_position += 1
            continue
        if isinstance(item, int):
            starts.append(item)
            ends.append(item + 1 if item != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        else:
            step = 1 if item.step is None else item.step
            if item != slice(None):
                start = item.start if item.start is not None else (0 if step > 0 else INT64_MAX)
                stop = item.stop if item.stop is not None else (
                    INT64_MAX if step > 0 else INT64_MIN)
                starts.append(start)
                ends.append(stop)
                axes.append(axis)
                steps.append(step)
            out_position += 1
        axis += 1
    out = b.name(x)
    if starts:
        out = b.add("Slice", [out, b.ints(starts, "starts"), b.ints(ends, "ends"),
                              b.ints(axes, "axes"), b.ints(steps, "steps")])
    if squeeze:
        out = b.add("Squeeze", [out, b.ints(squeeze, "axes")])
    if unsqueeze:
        out = b.add("Unsqueeze", [out, b.ints(unsqueeze, "axes")])
    if out == b.name(x):
        out = b.add("Identity", [out])
    return out


@exports("stop_gradient")
def _stop_gradient(b, node):
    # Gradient plumbing only (detach); the exported graph computes values.
    return b.add("Identity", [b.name(node.inputs[0])])


# Primitives with no ONNX counterpart: exporting them is a clear error saying why.
UNEXPORTABLE = {
    "index_add_zeros": "it is the gradient of indexing; export the forward model only",
    "conv2d_weight": "it is the weight gradient of conv2d; export the forward model only",
    "max_pool2d_taps": "it is part of max pooling's gradient; export the forward model only",
    "max_pool2d_indices": "it is part of max pooling's gradient; export the forward model only",
    "max_pool2d_scatter": "it is part of max pooling's gradient; export the forward model only",
    "max_pool2d_gather": "it is part of max pooling's gradient; export the forward model only",
    "ctc_nll": "ONNX has no CTC loss operator; export the model without its loss",
    "ctc_nll_backward": "it is the gradient of the CTC loss",
    "batch_norm_train": "it is eager training-mode batch norm (batch statistics); models are "
                        "exported in evaluation mode, where batch norm uses its running statistics",
    "dropout_mask": "it is dropout's random training-mode mask; export in evaluation mode "
                    "(model.eval())",
    "recurrent_layer": "its result packs the outputs with the backward's workspace; export the "
                       "nn.RNN/LSTM/GRU module, which becomes an ONNX RNN/LSTM/GRU node",
    "recurrent_layer_backward": "it is the gradient of a recurrent layer",
}


def _unexportable(reason: str) -> Callable:
    def export(b, node):
        raise ExportError(f"operator {node.op.name!r} cannot be exported to ONNX: {reason}")

    return export


for _name, _reason in UNEXPORTABLE.items():
    exports(_name)(_unexportable(_reason))


def _pairs(value, n: int = 2) -> list[int]:
    if isinstance(value, (int, np.integer)):
        return [int(value)] * n
    return [int(v) for v in value]


@exports("conv2d")
def _conv2d(b, node):
    x, w = node.inputs
    padding = _pairs(node.attrs.get("padding", 0))
    dtype = b.dtype(node)
    return b.add("Conv", [b.cast(b.name(x), b.dtype(x), dtype), b.cast(b.name(w), b.dtype(w),
                                                                       dtype)],
                 strides=_pairs(node.attrs.get("stride", 1)), pads=padding + padding,
                 dilations=_pairs(node.attrs.get("dilation", 1)),
                 group=int(node.attrs.get("groups", 1)))


@exports("conv_transpose2d")
def _conv_transpose2d(b, node):
    x, w = node.inputs
    stride = _pairs(node.attrs.get("stride", 1))
    padding = _pairs(node.attrs.get("padding", 0))
    dilation = _pairs(node.attrs.get("dilation", 1))
    size = list(node.attrs["input_size"])
    in_shape, kernel = b.spec(x).shape[2:], b.spec(w).shape[2:]
    output_padding = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in zip(
        size, in_shape, stride, padding, dilation, kernel)]
    return b.add("ConvTranspose", [b.name(x), b.name(w)], strides=stride, pads=padding + padding,
                 dilations=dilation, group=int(node.attrs.get("groups", 1)),
                 output_padding=output_padding)


@exports("max_pool2d")
def _max_pool2d(b, node):
    padding = _pairs(node.attrs.get("padding", 0))
    return b.add("MaxPool", [b.name(node.inputs[0])],
                 kernel_shape=_pairs(node.attrs["kernel_size"]),
                 strides=_pairs(node.attrs.get("stride", 1)), pads=padding + padding,
                 dilations=_pairs(node.attrs.get("dilation", 1)),
                 ceil_mode=int(bool(node.attrs.get("ceil_mode", False))))


# ----------------------------------------------------------------------------------------------
# Layers exported as one ONNX node (recurrent layers, batch norm in evaluation mode).

LEAF_CALLS: dict[int, dict] = {}
_leaf_ids = itertools.count()


class _Slot:
    """Where a tensor sat in a nested argument/result structure."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _flatten(value, leaves: list) -> Any:
    """Replace tensors/symbols in a nested tuple/list by slots numbering them in ``leaves``."""
    if isinstance(value, (tuple, list)):
        return type(value)(_flatten(v, leaves) for v in value)
    if value is None or isinstance(value, (int, float, bool, str)):
        return value
    leaves.append(value)
    return _Slot(len(leaves) - 1)


def _unflatten(structure, leaves: list) -> Any:
    if isinstance(structure, (tuple, list)):
        return type(structure)(_unflatten(s, leaves) for s in structure)
    return leaves[structure.index] if isinstance(structure, _Slot) else structure


def _leaf_run(call: dict, arrays: list) -> list:
    """Run the layer eagerly with its real parameters on ``arrays``; returns output tensors."""
    from hybridgrad.autograd import no_grad
    from hybridgrad.tensor import Tensor

    module = call["module"]
    saved = (dict(module._parameters), dict(module._buffers))
    module._parameters.update(call["parameters"])
    module._buffers.update(call["buffers"])
    try:
        with no_grad():
            args = _unflatten(call["arguments"], [Tensor._wrap(np.asarray(a)) for a in arrays])
            result = call["forward"](*args)
    finally:
        module._parameters.update(saved[0])
        module._buffers.update(saved[1])
    outputs: list = []
    call["results"] = _flatten(result, outputs)
    call["shapes"] = [tuple(o.shape) for o in outputs]
    return outputs


def _leaf_shape(*specs, key, index):
    call = LEAF_CALLS[key]
    if "specs" not in call:
        outputs = _leaf_run(call, [np.zeros(s.shape, s.dtype) for s in specs])
        call["specs"] = [Spec(tuple(o.shape), o.dtype) for o in outputs]
    return call["specs"][index]


def _leaf_forward(xp, *arrays, key, index):
    return _leaf_run(LEAF_CALLS[key], list(arrays))[index]._array


# A primitive of the exporter only (not in the global registry): one traced call of a layer
# that is exported as a single ONNX node.
LEAF_OP = OpDef(name="onnx_leaf", forward=_leaf_forward, shape=_leaf_shape,
                formula="layer({a})", arg_names=("a", "b", "c"))


def _install_leaf(module) -> Callable:
    """Make ``module`` record one ``onnx_leaf`` node when called on symbols; returns undo."""
    original = module.forward

    def forward(*args):
        leaves: list = []
        structure = _flatten(args, leaves)
        if not any(isinstance(v, SymbolicValue) for v in leaves):
            return original(*args)
        key = next(_leaf_ids)
        LEAF_CALLS[key] = {"module": module, "forward": original, "arguments": structure,
                           "parameters": parameters, "buffers": buffers}
        # One recorded node per output of the layer (all exported by one ONNX node).
        first = apply(LEAF_OP, *leaves, key=key, index=0)
        call = LEAF_CALLS[key]
        pieces = [first] + [apply(LEAF_OP, *leaves, key=key, index=k)
                            for k in range(1, len(call["shapes"]))]
        return _unflatten(call["results"], pieces)

    parameters = dict(module._parameters)
    buffers = dict(module._buffers)
    object.__setattr__(module, "forward", forward)

    def undo() -> None:
        object.__delattr__(module, "forward")

    return undo


def _leaf_kind(module) -> str | None:
    name = type(module).__name__
    if name in ("LSTM", "GRU", "RNN") and hasattr(module, "mode"):
        return "recurrent"
    if name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d") and not module.training:
        return "batchnorm"
    return None


def _param_name(b: Builder, module, name: str) -> str:
    prefix = b.module_names.get(id(module), "")
    return f"{prefix}.{name}" if prefix else name


def _export_batchnorm(b: Builder, node, call) -> list[str]:
    module = call["module"]
    x = node.inputs[0]
    dtype = b.dtype(x)
    channels = b.spec(x).shape[1]
    params = call["parameters"]
    buffers = call["buffers"]

    def tensor(name, default):
        value = params.get(name) if params.get(name) is not None else buffers.get(name)
        array = default if value is None else np.asarray(value._array, dtype=dtype)
        return b.constant(array, hint=_param_name(b, module, name))

    inputs = [b.name(x), tensor("weight", np.ones(channels, dtype)),
              tensor("bias", np.zeros(channels, dtype)),
              tensor("running_mean", np.zeros(channels, dtype)),
              tensor("running_var", np.ones(channels, dtype))]
    return [b.add("BatchNormalization", inputs, epsilon=float(module.eps))]


_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _reorder(array: np.ndarray, mode: str, hidden: int) -> np.ndarray:
    blocks = [array[i * hidden:(i + 1) * hidden] for i in range(len(_GATE_ORDER[mode]))]
    return np.concatenate([blocks[i] for i in _GATE_ORDER[mode]])


def _export_recurrent(b: Builder, node, call) -> list[str]:
    module = call["module"]
    mode = module.mode
    hidden = module.hidden_size
    directions = 2 if module.bidirectional else 1
    params = call["parameters"]
    leaves = node.inputs
    x_node = leaves[0]
    x = b.name(x_node)
    dtype = b.dtype(x_node)
    batched = len(b.spec(x_node).shape) == 3
    if not batched:
        x = b.add("Unsqueeze", [x, b.ints([1])])
    elif module.batch_first:
        x = b.add("Transpose", [x], perm=[1, 0, 2])
    states = [b.name(n) for n in leaves[1:]]
    if states and not batched:
        states = [b.add("Unsqueeze", [s, b.ints([1])]) for s in states]
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    gates = len(_GATE_ORDER[mode])
    final_h, final_c = [], []
    layer_input = x
    for layer in range(module.num_layers):
        w, r, bias = [], [], []
        for direction in range(directions):
            suffix = "_reverse" if direction else ""
            w_ih = np.asarray(params[f"weight_ih_l{layer}{suffix}"]._array)
            w_hh = np.asarray(params[f"weight_hh_l{layer}{suffix}"]._array)
            w.append(_reorder(w_ih, mode, hidden))
            r.append(_reorder(w_hh, mode, hidden))
            if module.bias:
                b_ih = np.asarray(params[f"bias_ih_l{layer}{suffix}"]._array)
                b_hh = np.asarray(params[f"bias_hh_l{layer}{suffix}"]._array)
                bias.append(np.concatenate([_reorder(b_ih, mode, hidden),
                                            _reorder(b_hh, mode, hidden)]))
            else:
                bias.append(np.zeros(2 * gates * hidden, dtype))
        prefix = _param_name(b, module, f"l{layer}")
        inputs = [layer_input, b.constant(np.stack(w).astype(dtype), hint=f"{prefix}.W"),
                  b.constant(np.stack(r).astype(dtype), hint=f"{prefix}.R"),
                  b.constant(np.stack(bias).astype(dtype), hint=f"{prefix}.B"), ""]
        if states:  # this layer's slice of the initial states (no initializers otherwise)
            span = b.ints([layer * directions], "start"), b.ints([(layer + 1) * directions],
                                                                  "end")
            for state in states:
                inputs.append(b.add("Slice", [state, span[0], span[1], b.ints([0])]))
        attributes = {"hidden_size": hidden,
                      "direction": "bidirectional" if directions == 2 else "forward"}
        if mode == "GRU":
            attributes["linear_before_reset"] = 1
        if mode == "RNN_RELU":
            attributes["activations"] = ["Relu"] * directions
        outputs = b.add(op_type, inputs, outputs=3 if op_type == "LSTM" else 2, hint=op_type,
                        **attributes)
        y, y_h = outputs[0], outputs[1]
        final_h.append(y_h)
        if op_type == "LSTM":
            final_c.append(outputs[2])
        # [T, D, B, H] -> [T, B, D * H] for the next layer and the output.
        y = b.add("Transpose", [y], perm=[0, 2, 1, 3])
        layer_input = b.add("Reshape", [y, b.ints([0, 0, -1])])
    output = layer_input
    h_n = final_h[0] if len(final_h) == 1 else b.add("Concat", final_h, axis=0)
    c_n = None
    if op_type == "LSTM":
        c_n = final_c[0] if len(final_c) == 1 else b.add("Concat", final_c, axis=0)
    if not batched:
        output = b.add("Squeeze", [output, b.ints([1])])
        h_n = b.add("Squeeze", [h_n, b.ints([1])])
        c_n = None if c_n is None else b.add("Squeeze", [c_n, b.ints([1])])
    elif module.batch_first:
        output = b.add("Transpose", [output], perm=[1, 0, 2])
    return [output, h_n] + ([c_n] if c_n is not None else [])


LEAF_EXPORTERS: dict[str, Callable] = {"recurrent": _export_recurrent,
                                       "batchnorm": _export_batchnorm}


@exports("onnx_leaf")
def _onnx_leaf(b, node):
    key = node.attrs["key"]
    cache = b.__dict__.setdefault("leaf_outputs", {})
    if key not in cache:
        call = LEAF_CALLS[key]
        cache[key] = LEAF_EXPORTERS[_leaf_kind(call["module"]) or "recurrent"](b, node, call)
    return cache[key][node.attrs["index"]]


# ----------------------------------------------------------------------------------------------


def install() -> None:
    """Fill the ``onnx`` slot of every registered primitive that has an exporter.

    Example:
        >>> install()
        >>> REGISTRY["matmul"].onnx is PRIMITIVE_EXPORTERS["matmul"]
        True
    """
    for name, op in REGISTRY.items():
        function = PRIMITIVE_EXPORTERS.get(name)
        if function is None and op.onnx_type:
            function = one_to_one(op)
        if function is not None:
            op.onnx = function
    LEAF_OP.onnx = PRIMITIVE_EXPORTERS["onnx_leaf"]


install()


def _mapping(op) -> Callable | None:
    # Graph-internal operators of the symbolic package (stop_gradient) are not registry
    # primitives; they are looked up by name.
    return op.onnx or PRIMITIVE_EXPORTERS.get(op.name)


def _shape_proto(shape: tuple, dynamic: dict) -> list:
    return [dynamic.get(axis, size) for axis, size in enumerate(shape)]


def _dynamic_for(dynamic_axes: dict | None, name: str) -> dict:
    if not dynamic_axes or name not in dynamic_axes:
        return {}
    axes = dynamic_axes[name]
    if isinstance(axes, dict):
        return {int(k): str(v) for k, v in axes.items()}
    return {int(axis): f"{name}_dim{axis}" for axis in axes}


def export(model, example_inputs, f=None, input_names: list | None = None,
           output_names: list | None = None, dynamic_axes: dict | None = None,
           opset_version: int = DEFAULT_OPSET, check: bool = True,
           training: bool = False, verify_dynamic: bool = True) -> onnx.ModelProto:
    """Trace ``model`` on ``example_inputs`` and write an ONNX model to ``f`` (a path, a binary
    file, or None to only return the ``onnx.ModelProto``).

    The model is exported in evaluation mode unless ``training=True`` (as PyTorch does).
    ``dynamic_axes`` maps input/output names to the axes (list, or ``{axis: name}``) left
    symbolic in the ONNX signature; with ``verify_dynamic`` the exported graph is run by
    onnxruntime with those axes resized and compared with the eager model (an error, not a
    silently wrong file, when a size stays fixed inside the graph). Unsupported operators raise
    :class:`ExportError` naming them.

    Example::

        proto = hg.onnx.export(model, hg.ones(1, 3), "model.onnx", input_names=["x"],
                               dynamic_axes={"x": [0]})
    """
    from hybridgrad.nn.module import Module
    from hybridgrad.symbolic.graph import Graph, TracingError
    from hybridgrad.symbolic.trace import trace_graph

    install()
    if not isinstance(example_inputs, (list, tuple)):
        example_inputs = [example_inputs]
    module = model if isinstance(model, Module) else None
    builder = Builder(opset_version)
    builder.dynamic_leading = bool(dynamic_axes)
    undo: list = []
    was_training = module.training if module is not None else False
    try:
        if module is not None:
            module.train(training)
            for name, sub in module.named_modules():
                builder.module_names[id(sub)] = name
                if _leaf_kind(sub) is not None:
                    undo.append(_install_leaf(sub))
        target = module.forward if module is not None else model

        def function(*arguments):
            # Nested results ((output, (h, c)) from an LSTM) become a flat list of outputs.
            leaves: list = []
            _flatten(target(*arguments), leaves)
            return leaves

        try:
            outputs, names = trace_graph(function, list(example_inputs), module)
        except TracingError as error:
            raise ExportError(f"cannot trace the model for ONNX export: {error}") from None
    finally:
        for step in undo:
            step()
        if module is not None:
            module.train(was_training)
    graph = Graph.from_symbols(outputs)
    input_names = list(input_names or names)
    if len(input_names) != len(names):
        raise ExportError(f"input_names has {len(input_names)} names for {len(names)} inputs")
    output_names = list(output_names or [f"output{i}" for i in range(len(outputs))])
    if len(output_names) != len(outputs):
        raise ExportError(f"output_names has {len(output_names)} names for {len(outputs)} "
                          "outputs")
    graph_inputs = []
    positions = {name: i for i, name in enumerate(names)}
    missing = sorted({n.op.name for n in graph.nodes if n.kind == "op"
                      and _mapping(n.op) is None})
    blocked = sorted({n.op.name for n in graph.nodes if n.kind == "op"
                      and n.op.name in UNEXPORTABLE})
    if blocked:
        raise ExportError("cannot export to ONNX: " + "; ".join(
            f"{name}: {UNEXPORTABLE[name]}" for name in blocked))
    if missing:
        raise ExportError(f"cannot export to ONNX: no ONNX mapping for operator(s) {missing}")
    for node in graph.nodes:
        if node.kind == "input":
            name = input_names[positions[node.name]]
            builder._taken.add(name)
            builder.bind(node, name)
            spec = builder.spec(node)
            graph_inputs.append(helper.make_tensor_value_info(
                name, onnx_type(spec.dtype),
                _shape_proto(spec.shape, _dynamic_for(dynamic_axes, name))))
        elif node.kind in ("param", "const"):
            spec = builder.spec(node)
            value = node.value._array if hasattr(node.value, "_array") and not isinstance(
                node.value, np.ndarray) else node.value
            array = np.asarray(value, dtype=spec.dtype)
            hint = node.name if node.kind == "param" and node.name else "const"
            builder.bind(node, builder.constant(array, hint=hint))
        elif node.kind == "op":
            try:
                result = _mapping(node.op)(builder, node)
            except ExportError:
                raise
            except Exception as error:  # noqa: BLE001 - re-raised naming the operator
                raise ExportError(f"exporting operator {node.op.name!r} failed: {error}") \
                    from error
            builder.bind(node, result)
        else:
            raise ExportError(f"cannot export graph value of kind {node.kind!r} ({node!r})")
    graph_outputs = []
    for name, node in zip(output_names, graph.outputs):
        builder.add("Identity", [builder.name(node)], outputs=[name])
        builder._taken.add(name)
        spec = builder.spec(node)
        graph_outputs.append(helper.make_tensor_value_info(
            name, onnx_type(spec.dtype), _shape_proto(spec.shape,
                                                      _dynamic_for(dynamic_axes, name))))
    onnx_graph = helper.make_graph(builder.nodes, type(model).__name__ if module is not None
                                   else "hybridgrad", graph_inputs, graph_outputs,
                                   builder.initializers)
    proto = helper.make_model(onnx_graph, producer_name="hybridgrad",
                              opset_imports=[helper.make_opsetid("", opset_version)])
    proto.ir_version = min(onnx.IR_VERSION, 10)
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except onnx.checker.ValidationError as error:
            raise ExportError(f"the exported model failed ONNX validation: {error}") from None
    if dynamic_axes and verify_dynamic:
        _verify_dynamic(proto, model, list(example_inputs), input_names, dynamic_axes)
    if f is not None:
        _write(proto, f)
    return proto


def _verify_dynamic(proto, model, example_inputs, input_names, dynamic_axes) -> None:
    """Run the exported graph with every dynamic input axis one larger and compare with the
    eager model, so a size fixed inside the graph is an error instead of a wrong answer."""
    import onnxruntime

    from hybridgrad.autograd import no_grad
    from hybridgrad.tensor import Tensor

    rng = np.random.default_rng(0)
    grown = []
    for name, value in zip(input_names, example_inputs):
        array = np.asarray(value._array if hasattr(value, "_array") else value)
        shape = list(array.shape)
        for axis in _dynamic_for(dynamic_axes, name):
            shape[axis] += 1
        if array.dtype.kind == "f":
            grown.append(rng.standard_normal(shape).astype(array.dtype))
        else:
            grown.append(np.resize(array, shape))
    try:
        with no_grad():
            expected = []
            _flatten(model(*[Tensor._wrap(a) for a in grown]), expected)
    except Exception as error:  # noqa: BLE001 - the model itself rejects other sizes
        raise ExportError(f"dynamic_axes {dynamic_axes}: the model does not run eagerly with "
                          f"those axes resized ({error})") from None
    try:
        session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        actual = session.run(None, dict(zip(input_names, grown)))
    except Exception as error:  # noqa: BLE001
        raise ExportError(f"dynamic_axes {dynamic_axes}: the exported graph fixes a size that "
                          f"should follow the dynamic axes (onnxruntime: "
                          f"{str(error).splitlines()[0][:300]}); export with static shapes") \
            from None
    for want, got in zip(expected, actual):
        want = np.asarray(want._array)
        if want.shape != got.shape or not np.allclose(got, want, rtol=1e-3, atol=1e-4):
            raise ExportError(f"dynamic_axes {dynamic_axes}: the exported graph gives other "
                              "results when the dynamic axes change (a size is fixed inside "
                              "the graph); export with static shapes")


def _write(proto: onnx.ModelProto, f) -> None:
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".onnx.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


