"""ONNX sequences (Python lists of tensors) and optionals (a value or None).

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.onnx.ops.core import _axis, _ndim, const, onnx_op
from hybridgrad.ops import api

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
            return [[api.getitem(x, prefix + (slice(i, i + 1),)) for i in range(length)]]
        return [[api.getitem(x, prefix + (i,)) for i in range(length)]]
    if split.ndim == 0:
        size = int(split)
        sizes = [builtins.min(size, length - start) for start in range(0, length, size)]
    else:
        sizes = [int(v) for v in split.reshape(-1)]
    pieces, start = [], 0
    for size in sizes:
        pieces.append(api.getitem(x, prefix + (slice(start, start + size),)))
        start += size
    return [pieces]


@onnx_op("ConcatFromSequence")
def _concat_from_sequence(ctx):
    sequence = ctx.inputs[0]
    if ctx.attr("new_axis", 0):
        axis = _axis(ctx.attr("axis"), _ndim(sequence[0]) + 1)
        return api.stack(sequence, axis)
    return api.cat(sequence, _axis(ctx.attr("axis"), _ndim(sequence[0])))


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
