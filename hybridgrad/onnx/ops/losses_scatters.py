"""ONNX losses, RMS normalisation, scatters, cumulative products, crops, windows, Unique.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.onnx.ops.core import (
    UnsupportedError,
    _axis,
    _cast,
    _like,
    _ndim,
    const,
    np_dtype,
    onnx_op,
)
from hybridgrad.onnx.ops.shapes import _normalise_indices, pad_nd
from hybridgrad.ops import api
from hybridgrad.ops.registry import apply

# ----------------------------------------------------------------------------------------------
# Losses, RMS normalisation, scatters, cumulative products, crops, windows, Unique.


def _nll(log_probs, target, weight, reduction: str, ignore_index):
    """ONNX NegativeLogLikelihoodLoss: log_probs (N, C, d...), target (N, d...)."""
    target_data = np.asarray(target._array).astype(np.int64)
    ignored = np.zeros(target_data.shape, bool) if ignore_index is None else (
        target_data == ignore_index)
    safe = np.where(ignored, 0, target_data)
    picked = api.gather(log_probs, 1, const(np.expand_dims(safe, 1)))
    picked = api.reshape(picked, target_data.shape)
    loss = -picked
    if weight is not None:
        weights = api.where(const(ignored), _like(0, weight), api.getitem(weight, (safe,)))
    else:
        weights = const((~ignored).astype(log_probs.dtype))
    loss = loss * weights
    if reduction == "none":
        return loss
    if reduction == "sum":
        return api.sum(loss)
    if reduction != "mean":
        raise UnsupportedError(f"loss reduction {reduction!r} is not supported")
    return api.sum(loss) / api.sum(weights)


@onnx_op("NegativeLogLikelihoodLoss")
def _nll_op(ctx):
    return _nll(ctx.inputs[0], ctx.inputs[1], ctx.input(2), ctx.attr("reduction", "mean"),
                ctx.attr("ignore_index"))


@onnx_op("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy(ctx):
    scores = ctx.inputs[0]
    log_probs = api.log_softmax(scores, 1)
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
    mean_square = api.mean(xs * xs, axes, keepdim=True)
    normalised = xs / api.sqrt(mean_square + _like(ctx.attr("epsilon", 1e-5), mean_square))
    return _cast(normalised, x.dtype) * scale


def _scatter(ctx, data, index: tuple, updates, reduction: str):
    """data with ``updates`` written (or added/multiplied/maxed) at ``index`` (NumPy index)."""
    mask = np.zeros(data.shape, bool)
    mask[index] = True
    if reduction == "none":
        placed = apply("index_add_zeros", updates, shape=tuple(data.shape), index=index)
        return api.where(const(mask), placed, data)
    if reduction == "add":
        return data + apply("index_add_zeros", updates, shape=tuple(data.shape), index=index)
    combine = {"mul": api.mul, "max": api.maximum, "min": api.minimum}.get(reduction)
    if combine is None:
        raise UnsupportedError(f"{ctx.op_type} node {ctx.node.name!r}: reduction "
                               f"{reduction!r} is not supported")
    # Apply the updates in rounds in which every destination occurs at most once (round k
    # holds each destination's k-th update), in index order, as ONNX's reference does.
    destinations = np.ravel_multi_index(tuple(np.broadcast_arrays(*index)),
                                        data.shape[:len(index)])
    destinations = destinations.reshape(-1)
    trailing = tuple(data.shape[len(index):])
    flat_updates = api.reshape(updates, (-1,) + trailing)
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
        placed = apply("index_add_zeros", api.getitem(flat_updates, (chosen,)),
                       shape=tuple(data.shape), index=tuple(round_index))
        out = api.where(const(round_mask), combine(out, placed), out)
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
        item = api.getitem(x, (slice(None),) * axis + (slice(position, position + 1),))
        if exclusive:
            pieces[position] = api.broadcast_to(_like(1, x), tuple(item.shape)) \
                if running is None else running
            running = item if running is None else running * item
        else:
            running = item if running is None else running * item
            pieces[position] = running
    return api.cat(pieces, axis) if length > 1 else pieces[0]


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
    return pad_nd(api.getitem(x, tuple(index)), widths)


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
        y = api.getitem(api.reshape(x, (-1,)), (first,))
    else:
        axis = _axis(axis, _ndim(x))
        values, first, inverse, counts = np.unique(data, axis=axis, return_index=True,
                                                   return_inverse=True, return_counts=True)
        if not ctx.attr("sorted", 1):
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            first, counts, inverse = first[order], counts[order], rank[inverse]
        y = api.getitem(x, (slice(None),) * axis + (first,))
    return [y, const(first.astype(np.int64)), const(inverse.reshape(-1).astype(np.int64)),
            const(counts.astype(np.int64))]
