"""ONNX normalisation and global pooling composed of elementwise operators and
reductions.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

from hybridgrad.onnx.ops.core import UnsupportedError, _axis, _cast, _like, _ndim, np_dtype, onnx_op
from hybridgrad.onnx.ops.shapes import pad_nd
from hybridgrad.ops import api

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
    scale = api.reshape(_cast(scale, x.dtype), shape)
    bias = api.reshape(_cast(bias, x.dtype), shape)
    if ctx.attr("training_mode", 0):
        # Normalise with the batch's statistics; also return the updated running statistics.
        axes = (0,) + tuple(range(2, _ndim(x)))
        batch_mean = api.mean(x, axes, keepdim=True)
        batch_var = api.mean((x - batch_mean) * (x - batch_mean), axes, keepdim=True)
        y = (x - batch_mean) / api.sqrt(batch_var + _like(epsilon, x)) * scale + bias
        momentum = ctx.attr("momentum", 0.9)
        running_mean = mean * _like(momentum, mean) + _cast(
            api.reshape(batch_mean, (-1,)), mean.dtype) * _like(1 - momentum, mean)
        running_var = var * _like(momentum, var) + _cast(
            api.reshape(batch_var, (-1,)), var.dtype) * _like(1 - momentum, var)
        return [y, running_mean, running_var][:builtins.max(ctx.n_outputs, 1)]
    mean, var = api.reshape(_cast(mean, x.dtype), shape), api.reshape(_cast(var, x.dtype), shape)
    return (x - mean) / api.sqrt(var + _like(epsilon, x)) * scale + bias


@onnx_op("InstanceNormalization")
def _instance_norm(ctx):
    x, scale, bias = ctx.inputs[:3]
    axes = tuple(range(2, _ndim(x)))
    mean = api.mean(x, axes, keepdim=True)
    var = api.mean((x - mean) * (x - mean), axes, keepdim=True)
    shape = (1, -1) + (1,) * (_ndim(x) - 2)
    normalised = (x - mean) / api.sqrt(var + _like(ctx.attr("epsilon", 1e-5), x))
    return normalised * api.reshape(scale, shape) + api.reshape(bias, shape)


@onnx_op("LayerNormalization")
def _layer_norm(ctx):
    x, scale, bias = ctx.inputs[0], ctx.inputs[1], ctx.input(2)
    axis = _axis(ctx.attr("axis", -1), _ndim(x))
    axes = tuple(range(axis, _ndim(x)))
    stash = np_dtype(ctx.attr("stash_type", 1))
    xs = _cast(x, stash) if x.dtype.kind == "f" else x
    mean = api.mean(xs, axes, keepdim=True)
    centered = xs - mean
    var = api.mean(centered * centered, axes, keepdim=True)
    inv_std = _like(1, var) / api.sqrt(var + _like(ctx.attr("epsilon", 1e-5), var))
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
    mean = api.mean(x, axes, keepdim=True)
    centered = x - mean
    var = api.mean(centered * centered, axes, keepdim=True)
    return centered / (api.sqrt(var) + _like(1e-9, x))


@onnx_op("LpNormalization")
def _lp_normalization(ctx):
    x = ctx.inputs[0]
    axis = _axis(ctx.attr("axis", -1), _ndim(x))
    p = ctx.attr("p", 2)
    if p == 1:
        norm = api.sum(api.abs(x), axis, keepdim=True)
    elif p == 2:
        norm = api.sqrt(api.sum(x * x, axis, keepdim=True))
    else:
        raise ctx.error(f"p must be 1 or 2, got {p}")
    return api.where(norm == _like(0, norm), _like(0, x), x / api.where(
        norm == _like(0, norm), _like(1, norm), norm))


@onnx_op("GlobalAveragePool")
def _global_average_pool(ctx):
    x = ctx.inputs[0]
    return api.mean(x, tuple(range(2, _ndim(x))), keepdim=True)


@onnx_op("GlobalMaxPool")
def _global_max_pool(ctx):
    x = ctx.inputs[0]
    return api.amax(x, tuple(range(2, _ndim(x))), keepdim=True)


@onnx_op("GlobalLpPool")
def _global_lp_pool(ctx):
    x = ctx.inputs[0]
    p = ctx.attr("p", 2)
    axes = tuple(range(2, _ndim(x)))
    return api.pow(api.sum(api.pow(api.abs(x), _like(p, x)), axes, keepdim=True), _like(1.0 / p, x))


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
        piece = api.getitem(padded, (slice(None), slice(offset, offset + channels)))
        window = piece if window is None else window + piece
    denominator = api.pow(window * _like(alpha / size, x) + _like(bias, x), _like(beta, x))
    return x / denominator
