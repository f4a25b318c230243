"""ONNX Attention (opset 23+): scaled dot-product attention with masks, caches and grouped
queries.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from hybridgrad.onnx.ops.core import _cast, _like, _ndim, const, np_dtype, onnx_op
from hybridgrad.onnx.ops.shapes import pad_nd
from hybridgrad.ops import api
from hybridgrad.ops.registry import apply

# ----------------------------------------------------------------------------------------------
# Attention (opset 23+): scaled dot-product attention with masks, caches and grouped queries.


def _split_heads(x, heads: int):
    batch, length, hidden = x.shape
    return api.permute(api.reshape(x, (batch, length, heads, hidden // heads)), (0, 2, 1, 3))


def _bias_softmax(scores, bias_all_masked):
    """Softmax over the last axis where a row of only -inf gives zeros (no NaN)."""
    row_max = api.amax(scores, -1, keepdim=True).detach()
    safe_max = api.where(api.logical_and(apply("isinf", row_max), row_max < _like(0, row_max)),
                       _like(0, row_max), row_max)
    exponentials = api.exp(scores - safe_max)
    total = api.sum(exponentials, -1, keepdim=True)
    total = api.where(total == _like(0, total), _like(1, total), total)
    probabilities = exponentials / total
    if bias_all_masked is not None:
        probabilities = api.where(bias_all_masked, _like(0, probabilities), probabilities)
    return probabilities


@onnx_op("Attention")
def _attention(ctx):
    q, k, v = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    mask, past_key, past_value = ctx.input(3), ctx.input(4), ctx.input(5)
    nonpad = ctx.static(6)
    three_d = _ndim(q) == 3
    q_heads, kv_heads = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    if three_d:
        q, k, v = _split_heads(q, q_heads), _split_heads(k, kv_heads), _split_heads(v, kv_heads)
    dtype = q.dtype
    scale = ctx.attr("scale")
    if scale is None:
        scale = 1 / math.sqrt(q.shape[3])
    root = _like(np.sqrt(scale), q)
    if past_key is not None:
        k = api.cat([past_key, k], 2)
    if past_value is not None:
        v = api.cat([past_value, v], 2)
    present_key, present_value = k, v
    q_length, kv_length = q.shape[2], k.shape[2]
    negative_infinity = dtype.type(-np.inf)
    bias = None  # additive bias: a tensor, or None for zeros
    if mask is not None:
        if mask.shape[-1] < kv_length:
            widths = [[0, 0]] * (_ndim(mask) - 1) + [[0, kv_length - mask.shape[-1]]]
            mask = pad_nd(mask, widths, value=False if mask.dtype == np.bool_ else -np.inf)
        if mask.dtype == np.bool_:
            mask = api.where(mask, const(dtype.type(0)), const(negative_infinity))
        bias = mask
    left, right = ctx.attr("left_window_size", -1), ctx.attr("right_window_size", -1)
    if past_key is None and nonpad is not None:
        offset = nonpad.reshape(-1, 1, 1, 1) - q_length
    else:
        offset = past_key.shape[2] if past_key is not None else 0
    rows = np.arange(q_length).reshape(-1, 1)
    columns = np.arange(kv_length).reshape(1, -1)
    allowed = None
    if ctx.attr("is_causal", 0):
        allowed = columns <= rows + offset
    if left >= 0 or right >= 0:
        difference = rows + offset - columns
        window = np.ones(np.shape(difference), bool)
        if left >= 0:
            window &= difference <= left
        if right >= 0:
            window &= -difference <= right
        allowed = window if allowed is None else allowed & window
    if allowed is not None:
        structural = const(np.where(allowed, dtype.type(0), negative_infinity).astype(dtype))
        bias = structural if bias is None else bias + structural
    if nonpad is not None:
        padding = np.arange(kv_length) < nonpad.reshape(-1, 1)
        padding = np.where(padding, 0, -np.inf).astype(dtype).reshape(-1, 1, 1, kv_length)
        bias = const(padding) if bias is None else bias + const(padding)
    if kv_heads is None:
        kv_heads = k.shape[1]
    q_heads = q.shape[1]
    if q_heads != kv_heads and q_heads % kv_heads == 0:
        # Grouped-query attention: each key/value head serves q_heads / kv_heads query heads.
        repeat = np.repeat(np.arange(kv_heads), q_heads // kv_heads)
        k = api.getitem(k, (slice(None), repeat))
        v = api.getitem(v, (slice(None), repeat))
    scores = api.matmul(q * root, api.transpose(k * root, 2, 3))
    softcap = ctx.attr("softcap", 0.0)
    if softcap and softcap > 0:
        scores = api.tanh(scores / _like(softcap, scores)) * _like(softcap, scores)
    mode = ctx.attr("qk_matmul_output_mode", 0)
    with_bias = scores if bias is None else scores + bias
    qk_output = with_bias if mode == 2 else scores
    precision = ctx.attr("softmax_precision")
    softmax_input = _cast(with_bias, np_dtype(precision)) if precision is not None else with_bias
    all_masked = None
    if bias is not None:
        bias_max = api.amax(bias, -1, keepdim=True)
        all_masked = api.logical_and(apply("isinf", bias_max), bias_max < _like(0, bias_max))
    probabilities = _cast(_bias_softmax(softmax_input, all_masked), dtype)
    if mode == 3:
        qk_output = probabilities
    y = api.matmul(probabilities, v)
    if three_d:
        y = api.permute(y, (0, 2, 1, 3))
        y = api.reshape(y, (y.shape[0], y.shape[1], -1))
    return [y, present_key, present_value, _cast(qk_output, dtype)][:builtins.max(
        ctx.n_outputs, 1)]
