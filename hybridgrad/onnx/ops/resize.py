"""ONNX Resize: nearest, linear and cubic; separable index arithmetic, differentiable in
the input.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from hybridgrad.onnx.ops.core import UnsupportedError, _axis, _like, _ndim, const, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Resize (nearest and linear; separable index arithmetic, differentiable in the input).


def _source_coordinates(out_size, in_size, scale, mode, roi_start=0.0, roi_end=1.0):
    positions = np.arange(out_size, dtype=np.float64)
    if mode == "half_pixel":
        return (positions + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (positions + 0.5) / scale - 0.5 if out_size > 1 else np.zeros(out_size)
    if mode == "align_corners":
        # ONNX's reference divides by the unrounded output length in_size * scale.
        length = in_size * scale
        return np.zeros(out_size) if length == 1 else positions * (in_size - 1) / (length - 1)
    if mode == "asymmetric":
        return positions / scale
    if mode == "half_pixel_symmetric":
        adjustment = out_size / (scale * in_size)
        offset = in_size / 2 * (1 - adjustment)
        return offset + (positions + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        if out_size > 1:
            return (roi_start * (in_size - 1) + positions * (roi_end - roi_start)
                    * (in_size - 1) / (out_size - 1))
        return np.full(out_size, 0.5 * (roi_start + roi_end) * (in_size - 1))
    raise UnsupportedError(f"Resize: coordinate_transformation_mode {mode!r} is not supported")


def _nearest(coordinates, rule):
    if rule == "round_prefer_floor":
        return np.where(coordinates % 1 == 0.5, np.floor(coordinates), np.round(coordinates))
    if rule == "round_prefer_ceil":
        return np.where(coordinates % 1 == 0.5, np.ceil(coordinates), np.round(coordinates))
    if rule == "floor":
        return np.floor(coordinates)
    if rule == "ceil":
        return np.ceil(coordinates)
    raise UnsupportedError(f"Resize: nearest_mode {rule!r} is not supported")


def _cubic_weights(fraction, a):
    """Keys' cubic convolution weights for the 4 taps at offsets -1, 0, 1, 2."""
    distances = np.stack([1 + fraction, fraction, 1 - fraction, 2 - fraction], axis=-1)
    absolute = np.abs(distances)
    near = ((a + 2) * absolute - (a + 3)) * absolute * absolute + 1
    far = ((a * absolute - 5 * a) * absolute + 8 * a) * absolute - 4 * a
    return np.where(absolute <= 1, near, np.where(absolute < 2, far, 0.0))


def _resize_axis(x, axis, in_size, coords, mode, ctx, extrapolate):
    """Resample one axis: out[..., i, ...] = sum_k weight[i, k] * x[..., tap[i, k], ...]."""
    ndim = _ndim(x)
    if mode == "nearest":
        taps = np.clip(_nearest(coords, ctx.attr("nearest_mode", "round_prefer_floor")),
                       0, in_size - 1).astype(np.int64)[:, None]
        weights = np.ones((len(coords), 1))
    elif mode == "linear":
        low = np.floor(coords)
        fraction = coords - low
        taps = np.stack([low, low + 1], axis=-1)
        weights = np.stack([1 - fraction, fraction], axis=-1)
        clipped = np.clip(coords, 0, in_size - 1)
        if not extrapolate:
            # Linear interpolation clamps the coordinate into the input.
            low = np.floor(clipped)
            fraction = clipped - low
            taps = np.stack([low, np.minimum(low + 1, in_size - 1)], axis=-1)
            weights = np.stack([1 - fraction, fraction], axis=-1)
    else:
        low = np.floor(coords)
        taps = low[:, None] + np.arange(-1, 3)[None, :]
        weights = _cubic_weights(coords - low, ctx.attr("cubic_coeff_a", -0.75))
        if ctx.attr("exclude_outside", 0):
            weights = np.where((taps < 0) | (taps > in_size - 1), 0.0, weights)
            weights = weights / weights.sum(axis=1, keepdims=True)
    taps = np.clip(taps, 0, in_size - 1).astype(np.int64)
    prefix = (slice(None),) * axis
    out = None
    for k in range(taps.shape[1]):
        weight = weights[:, k].reshape([-1 if d == axis else 1 for d in range(ndim)])
        term = api.getitem(x, prefix + (taps[:, k],)) * const(weight.astype(x.dtype))
        out = term if out is None else out + term
    return out


@onnx_op("Resize", "Upsample")
def _resize(ctx):
    x = ctx.inputs[0]
    ndim = _ndim(x)
    transform = "asymmetric"
    roi = sizes = None
    if ctx.op_type == "Upsample":
        scales = ctx.attr("scales") if ctx.version < 9 else ctx.static(1)
        mode = ctx.attr("mode", "nearest")
        ctx.attrs.setdefault("nearest_mode", "floor")
    elif ctx.version < 11:
        scales = ctx.static(1)
        mode = ctx.attr("mode", "nearest")
        ctx.attrs.setdefault("nearest_mode", "floor")
    else:
        roi, scales, sizes = ctx.static(1), ctx.static(2), ctx.static(3)
        transform = ctx.attr("coordinate_transformation_mode", "half_pixel")
        mode = ctx.attr("mode", "nearest")
    mode = "linear" if mode == "bilinear" else mode
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedError(f"{ctx.op_type} node {ctx.node.name!r}: mode {mode!r} is not "
                               "supported")
    if ctx.attr("antialias", 0):
        raise UnsupportedError(f"Resize node {ctx.node.name!r}: antialias=1 is not supported")
    axes = ctx.attr("axes")
    axes = list(range(ndim)) if axes is None else [_axis(a, ndim) for a in axes]
    scale_list = [1.0] * ndim
    out_shape = list(x.shape)
    if sizes is not None and sizes.size:
        sizes = [int(v) for v in sizes.reshape(-1)]
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        if policy == "stretch":
            for axis, size in zip(axes, sizes):
                out_shape[axis] = size
                scale_list[axis] = size / x.shape[axis]
        else:
            ratios = [size / x.shape[axis] for axis, size in zip(axes, sizes)]
            ratio = builtins.min(ratios) if policy == "not_larger" else builtins.max(ratios)
            for axis in axes:
                scale_list[axis] = ratio
                out_shape[axis] = int(math.floor(x.shape[axis] * ratio + 0.5))
    else:
        for axis, scale in zip(axes, np.asarray(scales).reshape(-1)):
            scale_list[axis] = float(scale)
            out_shape[axis] = int(math.floor(x.shape[axis] * float(scale)))
    roi = None if roi is None or roi.size == 0 else roi.reshape(-1).astype(np.float64)
    extrapolation = ctx.attr("extrapolation_value", 0.0)
    out = x
    for position, axis in enumerate(axes):
        in_size, out_size = x.shape[axis], out_shape[axis]
        if in_size == out_size and scale_list[axis] == 1.0 and transform != "tf_crop_and_resize":
            continue
        if roi is not None:
            roi_start, roi_end = roi[position], roi[len(axes) + position]
        else:
            roi_start, roi_end = 0.0, 1.0
        coords = _source_coordinates(out_size, in_size, scale_list[axis], transform,
                                     roi_start, roi_end)
        out = _resize_axis(out, axis, in_size, coords, mode, ctx, extrapolate=False)
        if transform == "tf_crop_and_resize":
            outside = (coords < 0) | (coords > in_size - 1)
            if outside.any():
                mask = outside.reshape([-1 if d == axis else 1 for d in range(ndim)])
                out = api.where(const(mask), _like(extrapolation, out), out)
    return out
