"""ONNX gated activations, group normalisation, rotary embeddings, selection and caches.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.onnx.ops.attention import _split_heads
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
from hybridgrad.onnx.ops.losses_scatters import _scatter
from hybridgrad.ops import api, elementwise

# ----------------------------------------------------------------------------------------------
# Gated activations, group normalisation, rotary embeddings, selection and caches.


@onnx_op("Swish")
def _swish(ctx):
    x = ctx.inputs[0]
    return x * api.sigmoid(x * _like(ctx.attr("alpha", 1.0), x))


@onnx_op("SwiGLU")
def _swiglu(ctx):
    a, b = ctx.inputs[0], ctx.inputs[1]
    return a * api.sigmoid(a * _like(ctx.attr("alpha", 1.0), a)) * b


@onnx_op("GroupNormalization")
def _group_normalization(ctx):
    x, scale, bias = ctx.inputs[:3]
    groups = ctx.attr("num_groups")
    batch = x.shape[0]
    stash = np_dtype(ctx.attr("stash_type", 1)) if ctx.version >= 21 else x.dtype
    grouped = api.reshape(_cast(x, stash), (batch, groups, -1))
    mean = api.mean(grouped, 2, keepdim=True)
    centered = grouped - mean
    var = api.mean(centered * centered, 2, keepdim=True)
    normalised = centered / api.sqrt(var + _like(ctx.attr("epsilon", 1e-5), var))
    shape = (1, -1) + (1,) * (_ndim(x) - 2)
    if ctx.version < 21:
        # GroupNormalization-18: one scale and bias per group.
        normalised = normalised * api.reshape(_cast(scale, stash), (1, groups, 1)) + api.reshape(
            _cast(bias, stash), (1, groups, 1))
        return _cast(api.reshape(normalised, tuple(x.shape)), x.dtype)
    normalised = _cast(api.reshape(normalised, tuple(x.shape)), x.dtype)
    return normalised * api.reshape(scale, shape) + api.reshape(bias, shape)


@onnx_op("RotaryEmbedding")
def _rotary_embedding(ctx):
    x, cos_cache, sin_cache = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    positions = ctx.static(3)
    original_shape = tuple(x.shape)
    if _ndim(x) == 4:
        x = api.permute(x, (0, 2, 1, 3))  # [batch, sequence, heads, head_size]
    else:
        heads = ctx.attr("num_heads")
        x = api.reshape(x, (x.shape[0], x.shape[1], heads, x.shape[2] // heads))
    head_size = x.shape[3]
    dim = ctx.attr("rotary_embedding_dim", 0) or head_size
    rotate = api.getitem(x, (Ellipsis, slice(0, dim)))
    keep = api.getitem(x, (Ellipsis, slice(dim, None)))
    if positions is not None:
        positions = positions.astype(np.int64)
        cos_cache, sin_cache = api.getitem(cos_cache, (positions,)), api.getitem(sin_cache,
                                                                             (positions,))
    cos_cache, sin_cache = api.unsqueeze(cos_cache, 2), api.unsqueeze(sin_cache, 2)
    interleaved = ctx.attr("interleaved", 0)
    if interleaved:
        first = api.getitem(rotate, (Ellipsis, slice(0, None, 2)))
        second = api.getitem(rotate, (Ellipsis, slice(1, None, 2)))
    else:
        first = api.getitem(rotate, (Ellipsis, slice(0, dim // 2)))
        second = api.getitem(rotate, (Ellipsis, slice(dim // 2, None)))
    real = cos_cache * first - sin_cache * second
    imaginary = sin_cache * first + cos_cache * second
    if interleaved:
        rotated = api.reshape(api.stack([real, imaginary], -1), tuple(rotate.shape))
    else:
        rotated = api.cat([real, imaginary], -1)
    out = api.cat([rotated, keep], -1) if keep.shape[-1] else rotated
    if len(original_shape) == 3:
        return api.reshape(out, original_shape)
    return api.permute(out, (0, 2, 1, 3))


@onnx_op("Compress")
def _compress(ctx):
    x = ctx.inputs[0]
    condition = ctx.static(1).astype(bool).reshape(-1)
    axis = ctx.attr("axis")
    if axis is None:
        flat = api.reshape(x, (-1,))
        return api.getitem(flat, (np.nonzero(condition[:flat.shape[0]])[0],))
    axis = _axis(axis, _ndim(x))
    chosen = np.nonzero(condition[:x.shape[axis]])[0]
    return api.getitem(x, (slice(None),) * axis + (chosen,))


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
    out = api.getitem(x, tuple(index))
    # Advanced indices on two axes move to the front in (time, batch) or (batch, time) order.
    first, second = sorted((time_axis, batch_axis))
    if second - first == 1:
        return out
    order = list(range(2, _ndim(out)))
    order.insert(first, 0)
    order.insert(second, 1)
    return api.permute(out, order)


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
        return api.reshape(value, ())
    if not block_size:
        dims = [1] * len(shape)
        dims[axis] = -1
        return api.reshape(value, tuple(dims))
    repeat = np.minimum(np.arange(shape[axis]) // block_size, value.shape[axis] - 1)
    return api.getitem(value, (slice(None),) * axis + (repeat,))


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
    return _cast(api.clamp(rounded, low, high), target)


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
    high = api.maximum(api.amax(x), _like(0, x))
    low = api.minimum(api.amin(x), _like(0, x))
    span = api.where(high == low, _like(255, x), high - low)
    scale = span / _like(255, x)
    zero = elementwise.round(api.clamp(-low / scale, 0, 255))
    y = api.clamp(elementwise.round(x / scale) + zero, 0, 255)
    return [_cast(y, np.uint8), scale, _cast(zero, np.uint8)]


@onnx_op("MatMulInteger")
def _matmul_integer(ctx):
    a, b = _cast(ctx.inputs[0], np.int32), _cast(ctx.inputs[1], np.int32)
    a_zero, b_zero = ctx.input(2), ctx.input(3)
    if a_zero is not None:
        a_zero = _cast(a_zero, np.int32)
        a = a - (api.reshape(a_zero, (-1, 1)) if _ndim(a_zero) == 1 and a_zero.shape[0] > 1
                 else a_zero)
    if b_zero is not None:
        b = b - _cast(b_zero, np.int32)
    return api.matmul(a, b)


@onnx_op("QLinearMatMul")
def _qlinear_matmul(ctx):
    a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero = ctx.inputs[:8]
    if y_zero.dtype not in _QUANT_RANGES:
        raise UnsupportedError(f"QLinearMatMul node {ctx.node.name!r}: type {y_zero.dtype} "
                               "is not supported")

    def real(q, scale, zero, rows: bool):
        scale, zero = _cast(scale, np.float32), _cast(zero, np.float32)
        if rows and _ndim(scale) == 1 and scale.shape[0] > 1:
            scale, zero = api.reshape(scale, (-1, 1)), api.reshape(zero, (-1, 1))
        return (_cast(q, np.float32) - zero) * scale

    product = api.matmul(real(a, a_scale, a_zero, True), real(b, b_scale, b_zero, False))
    quantised = elementwise.round(product / _cast(y_scale, np.float32)) + _cast(y_zero,
                                                                              np.float32)
    low, high = _QUANT_RANGES[y_zero.dtype]
    return _cast(api.clamp(quantised, low, high), y_zero.dtype)


@onnx_op("CausalConvWithState")
def _causal_conv_with_state(ctx):
    x, weight, bias, past = ctx.inputs[0], ctx.inputs[1], ctx.input(2), ctx.input(3)
    batch, channels, length = x.shape
    taps = weight.shape[2]
    if past is None:
        past = const(np.zeros((batch, channels, taps - 1), x.dtype))
    padded = api.cat([past, x], 2) if taps > 1 else x
    # Depthwise causal convolution as a sum of shifted copies (k taps), accumulated in at
    # least float32 like a convolution kernel.
    work = np.promote_types(x.dtype, np.float32)
    wide, weight_wide = _cast(padded, work), _cast(weight, work)
    out = None
    for tap in range(taps):
        shifted = api.getitem(wide, (slice(None), slice(None), slice(tap, tap + length)))
        term = shifted * api.reshape(api.getitem(weight_wide, (slice(None), 0, tap)),
                                   (1, channels, 1))
        out = term if out is None else out + term
    if bias is not None:
        out = out + api.reshape(_cast(bias, work), (1, channels, 1))
    out = _cast(out, x.dtype)
    if ctx.attr("activation", "none") in ("silu", "swish"):
        as_float = _cast(out, np.float32)
        out = _cast(as_float * api.sigmoid(as_float), x.dtype)
    state = api.getitem(padded, (slice(None), slice(None), slice(padded.shape[2] - (taps - 1),
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
            decay4 = api.permute(api.reshape(decay, (batch, steps, kv_heads, 1)), (0, 2, 1, 3))
        else:
            decay4 = _split_heads(decay, kv_heads)
        decay4 = _cast(decay4, np.float32)
    if delta:
        beta4 = _cast(api.permute(api.reshape(beta, (batch, steps, beta.shape[-1], 1)),
                                (0, 2, 1, 3)), np.float32)
    state_dtype = past.dtype if past is not None else query.dtype
    state = _cast(past, np.float32) if past is not None else const(
        np.zeros((batch, kv_heads, d_k, d_v), np.float32))
    scale = ctx.attr("scale", 0.0) or 1.0 / math.sqrt(d_k)
    repeat = np.repeat(np.arange(kv_heads), group)
    outputs = []
    for step in range(steps):
        q_t = api.getitem(q4, (slice(None), slice(None), step))
        k_t = api.getitem(k4, (slice(None), slice(None), step))
        v_t = api.getitem(v4, (slice(None), slice(None), step))
        if gating:
            state = state * api.unsqueeze(api.exp(api.getitem(decay4, (slice(None), slice(None),
                                                                 step))), -1)
        if delta:
            retrieved = api.sum(state * api.unsqueeze(k_t, -1), 2)
            v_t = api.getitem(beta4, (slice(None), slice(None), step)) * (v_t - retrieved)
        state = state + api.unsqueeze(k_t, -1) * api.unsqueeze(v_t, -2)
        read = state if group == 1 else api.getitem(state, (slice(None), repeat))
        outputs.append(api.sum(api.unsqueeze(q_t, -1) * read, 2) * _like(scale, q_t))
    out = api.stack(outputs, 2)  # (B, H_q, T, d_v)
    out = api.reshape(api.permute(out, (0, 2, 1, 3)), (batch, steps, q_heads * d_v))
    return [_cast(out, query.dtype), _cast(state, state_dtype)]
