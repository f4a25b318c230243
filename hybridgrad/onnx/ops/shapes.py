"""ONNX shape and movement operators: Reshape, Transpose, Concat, Slice, Gather, Pad...

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from hybridgrad.onnx.ops.core import (
    OnnxImportError,
    UnsupportedError,
    _axis,
    _cast,
    _like,
    _ndim,
    check_alloc,
    const,
    np_dtype,
    onnx_op,
)
from hybridgrad.ops import api, reduction
from hybridgrad.ops.registry import apply

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
    return api.reshape(x, tuple(shape))


@onnx_op("Flatten")
def _flatten(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 1), _ndim(x))
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis:], dtype=np.int64))
    return api.reshape(x, (outer, inner))


@onnx_op("Squeeze")
def _squeeze(ctx):
    x = ctx.inputs[0]
    axes = ctx.static(1) if ctx.version >= 13 else ctx.attr("axes")
    if axes is None:
        return api.reshape(x, tuple(s for s in x.shape if s != 1))
    axes = {_axis(int(a), _ndim(x)) for a in np.asarray(axes).reshape(-1)}
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.error(f"cannot squeeze axis {a} of size {x.shape[a]} (shape {x.shape})")
    return api.reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


@onnx_op("Unsqueeze")
def _unsqueeze(ctx):
    x = ctx.inputs[0]
    axes = np.asarray(ctx.static(1) if ctx.version >= 13 else ctx.attr("axes")).reshape(-1)
    out_ndim = _ndim(x) + len(axes)
    axes = sorted(_axis(int(a), out_ndim) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return api.reshape(x, tuple(shape))


@onnx_op("Transpose")
def _transpose(ctx):
    x = ctx.inputs[0]
    perm = ctx.attr("perm")
    if perm is None:
        perm = list(range(_ndim(x)))[::-1]
    return api.permute(x, [int(p) for p in perm])


@onnx_op("Concat")
def _concat(ctx):
    values = [v for v in ctx.inputs if v is not None]
    # Concat-1 made the axis optional (default 1); from Concat-4 it is required.
    axis = _axis(ctx.attr("axis", 1), _ndim(values[0]))
    nonempty = [v for v in values if v.shape[axis] != 0] or values[:1]
    if len(nonempty) == 1:
        return nonempty[0]
    return api.cat(nonempty, axis)


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
        outputs.append(api.getitem(x, (slice(None),) * axis + (slice(start, start + size),)))
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
    return api.getitem(x, tuple(index))


def _normalise_indices(indices: np.ndarray, length: int) -> np.ndarray:
    indices = indices.astype(np.int64)
    return np.where(indices < 0, indices + length, indices)


@onnx_op("Gather")
def _gather(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 0), _ndim(x))
    indices = _normalise_indices(ctx.static(1), x.shape[axis])
    if indices.ndim == 0:
        return api.getitem(x, (slice(None),) * axis + (int(indices),))
    return api.getitem(x, (slice(None),) * axis + (indices,))


@onnx_op("GatherElements")
def _gather_elements(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", 0), _ndim(x))
    indices = _normalise_indices(ctx.static(1), x.shape[axis])
    return api.gather(x, axis, const(indices))


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
    return api.getitem(x, tuple(index))


@onnx_op("Expand")
def _expand(ctx):
    x = ctx.inputs[0]
    shape = tuple(int(s) for s in ctx.static(1).reshape(-1))
    target = np.broadcast_shapes(tuple(x.shape), shape)
    check_alloc(target, x.dtype.itemsize, f"Expand node {ctx.node.name!r}")
    return api.broadcast_to(x, tuple(target))


@onnx_op("Tile")
def _tile(ctx):
    repeats = [int(r) for r in ctx.static(1).reshape(-1)]
    x = ctx.inputs[0]
    shape = (1,) * (len(repeats) - len(x.shape)) + tuple(x.shape)
    check_alloc([r * s for r, s in zip(repeats, shape[-len(repeats):])] if repeats else shape,
                x.dtype.itemsize, f"Tile node {ctx.node.name!r}")
    return api.repeat(ctx.inputs[0], *repeats)


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
        x = api.getitem(x, crop)
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
        x = api.getitem(x, (slice(None),) * axis + (index,))
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
    return api.where(const(keep), x, _like(0, x))


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
    return [api.gather(x, axis, const(indices)), const(indices)]


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
    off, on = api.getitem(values, 0), api.getitem(values, 1)
    return api.where(mask, on, off)


@onnx_op("DepthToSpace")
def _depth_to_space(ctx):
    x = ctx.inputs[0]
    n, c, h, w = x.shape
    b = ctx.attr("blocksize")
    if ctx.attr("mode", "DCR") == "DCR":
        y = api.reshape(x, (n, b, b, c // (b * b), h, w))
        y = api.permute(y, (0, 3, 4, 1, 5, 2))
    else:
        y = api.reshape(x, (n, c // (b * b), b, b, h, w))
        y = api.permute(y, (0, 1, 4, 2, 5, 3))
    return api.reshape(y, (n, c // (b * b), h * b, w * b))


@onnx_op("SpaceToDepth")
def _space_to_depth(ctx):
    x = ctx.inputs[0]
    n, c, h, w = x.shape
    b = ctx.attr("blocksize")
    y = api.reshape(x, (n, c, h // b, b, w // b, b))
    if ctx.attr("mode", "DCR") == "CRD":
        y = api.permute(y, (0, 1, 3, 5, 2, 4))
    else:
        y = api.permute(y, (0, 3, 5, 1, 2, 4))
    return api.reshape(y, (n, c * b * b, h // b, w // b))
