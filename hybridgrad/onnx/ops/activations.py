"""ONNX activation operators: LeakyRelu, PRelu, Elu, Selu, Gelu, Softmax, Hardmax...

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from hybridgrad.onnx.ops.core import _axis, _cast, _like, _ndim, const, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Activations.


@onnx_op("LeakyRelu")
def _leaky_relu(ctx):
    x = ctx.inputs[0]
    return api.where(x >= _like(0, x), x, x * _like(ctx.attr("alpha", 0.01), x))


@onnx_op("PRelu")
def _prelu(ctx):
    x, slope = ctx.inputs[0], ctx.inputs[1]
    if ctx.version < 7 and _ndim(slope) == 1 and _ndim(x) > 2 and slope.shape[0] == x.shape[1]:
        # PRelu-6 and older: a 1-D slope holds one value per channel (axis 1).
        slope = api.reshape(slope, (-1,) + (1,) * (_ndim(x) - 2))
    return api.where(x >= _like(0, x), x, x * slope)


@onnx_op("ThresholdedRelu")
def _thresholded_relu(ctx):
    x = ctx.inputs[0]
    return api.where(x > _like(ctx.attr("alpha", 1.0), x), x, _like(0, x))


def _elu(x, alpha):
    negative = (api.exp(api.minimum(x, _like(0, x))) - _like(1, x)) * _like(alpha, x)
    return api.where(x > _like(0, x), x, negative)


@onnx_op("Elu")
def _elu_op(ctx):
    return _elu(ctx.inputs[0], ctx.attr("alpha", 1.0))


@onnx_op("Celu")
def _celu(ctx):
    x, alpha = ctx.inputs[0], ctx.attr("alpha", 1.0)
    return api.maximum(x, _like(0, x)) + api.minimum(
        _like(0, x), (api.exp(x / _like(alpha, x)) - _like(1, x)) * _like(alpha, x))


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
    return api.clamp(linear, 0.0, 1.0)


@onnx_op("HardSwish")
def _hard_swish(ctx):
    x = ctx.inputs[0]
    return x * api.clamp(x * _like(1 / 6, x) + _like(0.5, x), 0.0, 1.0)


@onnx_op("Mish")
def _mish(ctx):
    x = ctx.inputs[0]
    return x * api.tanh(api.softplus(x))


@onnx_op("Gelu")
def _gelu(ctx):
    x = ctx.inputs[0]
    if ctx.attr("approximate", "none") == "tanh":
        inner = (x + x * x * x * _like(0.044715, x)) * _like(math.sqrt(2 / math.pi), x)
        return x * _like(0.5, x) * (api.tanh(inner) + _like(1, x))
    return x * _like(0.5, x) * (api.erf(x * _like(1 / math.sqrt(2), x)) + _like(1, x))


@onnx_op("Shrink")
def _shrink(ctx):
    x = ctx.inputs[0]
    bias, lambd = _like(ctx.attr("bias", 0.0), x), _like(ctx.attr("lambd", 0.5), x)
    return api.where(x < -lambd, x + bias, api.where(x > lambd, x - bias, _like(0, x)))


def _softmax_like(ctx, function: Callable):
    x = ctx.inputs[0]
    ndim = _ndim(x)
    if ctx.version < 13:
        # Before opset 13 the input is coerced to 2-D [prod(d[:axis]), prod(d[axis:])].
        axis = _axis(ctx.attr("axis", 1), ndim)
        shape = x.shape
        flat = api.reshape(x, (int(np.prod(shape[:axis], dtype=np.int64)), -1))
        return api.reshape(function(flat, 1), shape)
    return function(x, _axis(ctx.attr("axis", -1), ndim))


@onnx_op("Softmax")
def _softmax(ctx):
    return _softmax_like(ctx, lambda x, axis: api.softmax(x, axis))


@onnx_op("LogSoftmax")
def _log_softmax(ctx):
    return _softmax_like(ctx, lambda x, axis: api.log_softmax(x, axis))


def _hardmax(x, axis):
    index = api.argmax(x, axis, keepdim=True)
    positions = const(np.arange(x.shape[axis]).reshape(
        [-1 if d == axis else 1 for d in range(_ndim(x))]))
    return _cast(api.eq(index, positions), x.dtype)


@onnx_op("Hardmax")
def _hardmax_op(ctx):
    return _softmax_like(ctx, _hardmax)
