"""ONNX spatial transformers: AffineGrid and GridSample (differentiable in the image and
the grid).

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.onnx.ops.core import UnsupportedError, _cast, _like, const, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Spatial transformers: AffineGrid and GridSample (differentiable in the image and the grid).


def _reflect(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Reflect coordinates into [low, high] by the nearest border, repeatedly."""
    span = high - low
    out = values.astype(np.float64).copy()
    below, above = out < low, out > high
    for mask, distance, toward_low in ((below, low - out, True), (above, out - high, False)):
        if span == 0:
            out[mask] = low
            continue
        flips = np.floor(distance / span)
        rest = distance - flips * span
        even = flips % 2 == 0
        start, end = (low, high) if toward_low else (high, low)
        sign = 1 if toward_low else -1
        out = np.where(mask & even, start + sign * rest, out)
        out = np.where(mask & ~even, end - sign * rest, out)
    return out


def _cubic_coefficients(fraction):
    alpha = -0.75
    coefficients = []
    for distance in (fraction + _like(1, fraction), fraction, _like(1, fraction) - fraction,
                     _like(2, fraction) - fraction):
        absolute = api.abs(distance)
        near = ((absolute * (alpha + 2) - (alpha + 3)) * absolute * absolute) + _like(1, absolute)
        far = ((absolute * alpha - 5 * alpha) * absolute + 8 * alpha) * absolute - 4 * alpha
        coefficients.append(api.where(absolute <= _like(1, absolute), near, far))
    return coefficients


@onnx_op("GridSample")
def _grid_sample(ctx):
    x, grid = ctx.inputs[0], ctx.inputs[1]
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(ctx.attr("mode", "linear"),
                                                          ctx.attr("mode", "linear"))
    padding = ctx.attr("padding_mode", "zeros")
    align = bool(ctx.attr("align_corners", 0))
    sizes = list(x.shape[2:])
    spatial = len(sizes)
    batch = x.shape[0]
    out_shape = tuple(grid.shape[1:-1])
    taps_per_dim, weights_per_dim = [], []
    for d in range(spatial):
        size = sizes[d]
        normalised = api.getitem(grid, (Ellipsis, spatial - 1 - d))  # grid lists x (last) first
        if align:
            coordinate = (normalised + _like(1, grid)) * _like((size - 1) / 2, grid)
        else:
            coordinate = ((normalised + _like(1, grid)) * _like(size, grid) - _like(1, grid)) \
                * _like(0.5, grid)
        low, high = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        if mode == "nearest":
            coordinate = const(np.rint(coordinate._array).astype(grid.dtype))
        concrete = np.asarray(coordinate._array, np.float64)
        outside = (concrete < low) | (concrete > high)
        if padding == "border" and outside.any():
            coordinate = api.clamp(coordinate, 0.0, size - 1.0)
        elif padding == "reflection" and outside.any():
            reflected = _reflect(concrete, low, high)
            # Reflection is piecewise linear: coordinate * sign + offset keeps the gradient.
            sign = np.where(outside, np.sign(np.where(
                np.abs(np.floor(np.where(concrete < low, low - concrete, concrete - high)
                                / builtins.max(high - low, 1e-12))) % 2 == 0, -1.0, 1.0)),
                1.0)
            offset = reflected - sign * concrete
            coordinate = coordinate * const(sign.astype(grid.dtype)) + const(
                offset.astype(grid.dtype))
        concrete = np.asarray(coordinate._array, np.float64)
        if mode == "nearest":
            taps = [concrete.astype(np.int64)]
            weights = [None]
        else:
            base = np.floor(concrete).astype(np.int64)
            fraction = coordinate - const(base.astype(grid.dtype))
            if mode == "linear":
                taps = [base, base + 1]
                weights = [_like(1, fraction) - fraction, fraction]
            elif mode == "cubic":
                taps = [base - 1, base, base + 1, base + 2]
                weights = _cubic_coefficients(fraction)
            else:
                raise UnsupportedError(f"GridSample node {ctx.node.name!r}: mode {mode!r}")
        taps_per_dim.append(taps)
        weights_per_dim.append(weights)
    batch_index = np.arange(batch).reshape((batch,) + (1,) * len(out_shape))
    batch_index = np.broadcast_to(batch_index, (batch,) + out_shape)
    out = None
    for combination in np.ndindex(*[len(t) for t in taps_per_dim]):
        valid = np.ones((batch,) + out_shape, bool)
        indices = []
        weight = None
        for d, k in enumerate(combination):
            tap = taps_per_dim[d][k]
            size = sizes[d]
            if padding == "zeros":
                valid &= (tap >= 0) & (tap < size)
                tap = np.clip(tap, 0, size - 1)
            elif padding == "border":
                tap = np.clip(tap, 0, size - 1)
            else:
                low, high = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
                tap = np.clip(_reflect(tap.astype(np.float64), low, high).astype(np.int64), 0,
                              size - 1)
            indices.append(tap)
            w = weights_per_dim[d][k]
            if w is not None:
                weight = w if weight is None else weight * w
        values = api.getitem(x, (batch_index, slice(None)) + tuple(indices))  # (N, *out, C)
        if not valid.all():
            values = api.where(const(valid[..., None]), values, _like(0, values))
        if weight is not None:
            values = values * api.unsqueeze(_cast(weight, x.dtype), -1)
        out = values if out is None else out + values
    order = [0, len(out_shape) + 1] + list(range(1, len(out_shape) + 1))
    return api.permute(out, order)


@onnx_op("AffineGrid")
def _affine_grid(ctx):
    theta = ctx.inputs[0]
    size = [int(v) for v in ctx.static(1).reshape(-1)]
    align = bool(ctx.attr("align_corners", 0))
    spatial = size[2:]

    def positions(length):
        if align:
            return np.linspace(-1, 1, length) if length > 1 else np.zeros(1)
        return (2 * np.arange(length) + 1) / length - 1

    axes = [positions(length) for length in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")  # per spatial dim, shape spatial
    # Homogeneous coordinates in x, y(, z) order: the last spatial axis is x.
    columns = [m.reshape(-1) for m in mesh[::-1]] + [np.ones(int(np.prod(spatial)))]
    base = const(np.stack(columns, -1).astype(theta.dtype))  # (points, dims + 1)
    grid = api.matmul(base, api.transpose(theta, 1, 2))  # (N, points, dims)
    return api.reshape(grid, (size[0],) + tuple(spatial) + (len(spatial),))
