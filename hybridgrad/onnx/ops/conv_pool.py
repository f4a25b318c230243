"""ONNX convolution and pooling on hybridgrad.nn.functional's conv/pool primitives
(im2col + matmul).

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.nn import functional as NF
from hybridgrad.onnx.ops.core import (
    UnsupportedError,
    _cast,
    _like,
    _ndim,
    check_alloc,
    const,
    onnx_op,
)
from hybridgrad.onnx.ops.gated_rotary import _QUANT_RANGES
from hybridgrad.onnx.ops.shapes import pad_nd
from hybridgrad.ops import api, elementwise

# ----------------------------------------------------------------------------------------------
# Convolution and pooling: hybridgrad.nn.functional's conv/pool primitives (im2col + matmul).


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
    return api.reshape(x, tuple(x.shape[:2]) + (1, x.shape[2]))


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
        chosen = api.getitem(x, (slice(None), slice(None), index))  # (N, C, D_out, H, W)
        chosen = api.permute(chosen, (0, 2, 1, 3, 4))
        pieces.append(api.reshape(chosen, (batch * out_depth, channels) + tuple(x.shape[3:])))
    return pieces, out_depth


def _unfold_depth(y, batch: int, out_depth: int):
    """(N * D_out, C, H, W) -> (N, C, D_out, H, W)."""
    y = api.reshape(y, (batch, out_depth) + tuple(y.shape[1:]))
    return api.permute(y, (0, 2, 1, 3, 4))


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
        piece = api.getitem(padded, index)
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


def _conv3d(ctx, x, w, bias, strides, dilations, begin, end):
    # 3-D convolution as a sum over depth taps of 2-D convolutions of depth slices.
    x = pad_nd(x, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)])
    pieces, out_depth = _depth_taps(x, w.shape[2], strides[0], dilations[0])
    out = None
    for tap, piece in enumerate(pieces):
        term = NF.conv2d(piece, api.getitem(w, (slice(None), slice(None), tap)), None,
                         stride=tuple(strides[1:]), padding=(0, 0),
                         dilation=tuple(dilations[1:]), groups=ctx.attr("group", 1))
        out = term if out is None else out + term
    out = _unfold_depth(out, x.shape[0], out_depth)
    if bias is not None:
        out = out + api.reshape(bias, (1, -1, 1, 1, 1))
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
        w = w - (api.reshape(zero, (-1,) + (1,) * (_ndim(w) - 1)) if _ndim(zero) == 1
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
        w_scale64 = api.reshape(w_scale64, per_channel)
    if _ndim(w_zero) == 1 and w_zero.shape[0] > 1:
        w_zero64 = api.reshape(w_zero64, per_channel)
    real_w = (_cast(w, np.float64) - w_zero64) * w_scale64
    out = _convolve(ctx, real_x, real_w, None)
    if bias is not None:
        scale = _cast(x_scale, np.float64) * api.reshape(_cast(w_scale, np.float64), (-1,))
        out = out + api.reshape(_cast(bias, np.float64) * scale, (1, -1) + (1,) * (
            _ndim(out) - 2))
    quantised = elementwise.round(out / _cast(y_scale, np.float64)) + _cast(y_zero,
                                                                          np.float64)
    if y_zero.dtype not in _QUANT_RANGES:
        raise UnsupportedError(f"QLinearConv node {ctx.node.name!r}: type {y_zero.dtype}")
    low, high = _QUANT_RANGES[y_zero.dtype]
    return _cast(api.clamp(quantised, low, high), y_zero.dtype)

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
    return api.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out

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
        out = api.reshape(out, tuple(out.shape[:2]) + (out.shape[3],))
    if builtins.any(output_padding):
        out = pad_nd(out, [[0, 0], [0, 0]] + [[0, p_] for p_ in output_padding])
    grow = [[0, 0], [0, 0]] + [[builtins.max(-b_, 0), builtins.max(-e_, 0)]
                               for b_, e_ in zip(begin, end)]
    if builtins.any(g_ for pair in grow for g_ in pair):
        out = pad_nd(out, grow)
    index = [slice(None), slice(None)]
    for b_, e_, size in zip(begin, end, out.shape[2:]):
        index.append(slice(builtins.max(b_, 0), size - builtins.max(e_, 0)))
    out = api.getitem(out, tuple(index))
    if bias is not None:
        out = out + api.reshape(bias, (1, -1) + (1,) * spatial)
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
            out = pooled if out is None else api.maximum(out, pooled)
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
    return api.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out

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
    return api.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out


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
    powered = api.pow(api.abs(x), _like(p, x))
    padded = pad_nd(powered, [[0, 0], [0, 0]] + [[b_, e_] for b_, e_ in zip(begin, end)])
    window_sum = NF.avg_pool2d(padded, tuple(kernel), stride=tuple(strides), padding=0,
                               ceil_mode=bool(ctx.attr("ceil_mode", 0))) * _like(
        int(np.prod(kernel)), x)
    out = api.pow(window_sum, _like(1.0 / p, x))
    return api.reshape(out, tuple(out.shape[:2]) + (out.shape[3],)) if one_d else out
