"""ONNX Fourier transforms as matrix products (differentiable), non-maximum suppression,
Col2Im and MaxUnpool.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins

import numpy as np

from hybridgrad.onnx.ops.core import _axis, _like, _ndim, const, onnx_op
from hybridgrad.onnx.ops.shapes import pad_nd
from hybridgrad.ops import api, reduction
from hybridgrad.ops.registry import apply

# ----------------------------------------------------------------------------------------------
# Fourier transforms as matrix products (differentiable), non-maximum suppression, Col2Im,
# MaxUnpool.


def _fit_length(x, axis: int, length: int):
    """Truncate or zero-pad ``x`` along ``axis`` to ``length``."""
    current = x.shape[axis]
    if current > length:
        return api.getitem(x, (slice(None),) * axis + (slice(0, length),))
    if current < length:
        widths = [[0, 0] for _ in range(_ndim(x))]
        widths[axis] = [0, length - current]
        return pad_nd(x, widths)
    return x


def dft(real, imaginary, length: int, inverse: bool = False, onesided: bool = False):
    """DFT along the last axis of (real, imaginary) parts (imaginary may be None).

    Returns (real, imaginary); the inverse with ``onesided`` is the real inverse of a
    Hermitian spectrum (NumPy's irfft) and returns (real, None).

    Example:
        >>> import hybridgrad as hg
        >>> re, im = dft(hg.tensor([1.0, 0.0, 0.0, 0.0]), None, 4)
        >>> re.tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    dtype = real.dtype
    if inverse and onesided:
        bins = length // 2 + 1
        k = np.arange(bins).reshape(-1, 1)
        n = np.arange(length).reshape(1, -1)
        angle = 2 * np.pi * k * n / length
        weights = np.full((bins, 1), 2.0)
        weights[0] = 1.0
        if length % 2 == 0:
            weights[-1] = 1.0
        cosine = const((weights * np.cos(angle) / length).astype(dtype))
        sine = const((weights * np.sin(angle) / length).astype(dtype))
        out = api.matmul(real, cosine)
        if imaginary is not None:
            out = out - api.matmul(imaginary, sine)
        return out, None
    bins = length // 2 + 1 if onesided else length
    k = np.arange(bins).reshape(-1, 1)
    n = np.arange(length).reshape(1, -1)
    angle = 2 * np.pi * k * n / length
    scale = 1.0 / length if inverse else 1.0
    cosine = const((np.cos(angle) * scale).T.astype(dtype))  # (length, bins)
    sine = const((np.sin(angle) * scale).T.astype(dtype))
    sign = 1.0 if inverse else -1.0
    out_real = api.matmul(real, cosine)
    out_imaginary = api.matmul(real, sine) * _like(sign, real)
    if imaginary is not None:
        out_real = out_real - api.matmul(imaginary, sine) * _like(sign, real)
        out_imaginary = out_imaginary + api.matmul(imaginary, cosine)
    return out_real, out_imaginary


@onnx_op("DFT")
def _dft(ctx):
    x = ctx.inputs[0]
    length = ctx.static(1)
    if ctx.version >= 20:
        axis_value = ctx.static(2)
        axis = -2 if axis_value is None else int(axis_value.reshape(-1)[0])
    else:
        axis = ctx.attr("axis", 1)
    axis = _axis(axis, _ndim(x))
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    if length is None or length.size == 0:
        length = 2 * (x.shape[axis] - 1) if inverse and onesided else x.shape[axis]
    else:
        length = int(length.reshape(-1)[0])
    real = api.getitem(x, (Ellipsis, 0))
    imaginary = api.getitem(x, (Ellipsis, 1)) if x.shape[-1] == 2 else None
    order = [d for d in range(_ndim(real)) if d != axis] + [axis]
    back = list(np.argsort(order))
    real = api.permute(real, order)
    imaginary = None if imaginary is None else api.permute(imaginary, order)
    needed = length // 2 + 1 if inverse and onesided else length
    real = _fit_length(real, _ndim(real) - 1, needed)
    imaginary = None if imaginary is None else _fit_length(imaginary, _ndim(imaginary) - 1,
                                                         needed)
    if not (inverse and onesided):
        # The fft primitive (NumPy's FFT, differentiable) on (..., length, 2) signals.
        if imaginary is None:
            imaginary = real * _like(0, real)
        spectrum = reduction.fft(api.stack([real, imaginary], -1), length, inverse=inverse,
                                  onesided=onesided)
        return api.permute(spectrum, back + [len(back)])
    out_real, out_imaginary = dft(real, imaginary, length, inverse, onesided)
    out_real = api.permute(out_real, back)
    if out_imaginary is None:
        return api.unsqueeze(out_real, -1)
    return api.stack([out_real, api.permute(out_imaginary, back)], -1)


@onnx_op("STFT")
def _stft(ctx):
    signal = ctx.inputs[0]
    hop = int(ctx.static(1).reshape(-1)[0])
    window = ctx.input(2)
    frame_length = ctx.static(3)
    frame_length = window.shape[0] if frame_length is None else int(frame_length.reshape(-1)[0])
    onesided = bool(ctx.attr("onesided", 1))
    length = signal.shape[1]
    frames = 1 + (length - frame_length) // hop
    real = api.getitem(signal, (Ellipsis, 0))  # (batch, length)
    imaginary = api.getitem(signal, (Ellipsis, 1)) if signal.shape[-1] == 2 else None
    starts = np.arange(frames) * hop
    index = starts.reshape(-1, 1) + np.arange(frame_length).reshape(1, -1)
    real = api.getitem(real, (slice(None), index))  # (batch, frames, frame_length)
    imaginary = None if imaginary is None else api.getitem(imaginary, (slice(None), index))
    if window is not None:
        real = real * window
        imaginary = None if imaginary is None else imaginary * window
    out_real, out_imaginary = dft(real, imaginary, frame_length, False, onesided)
    return api.stack([out_real, out_imaginary], -1)


def _iou_over(box, other, center: bool, threshold: float) -> bool:
    if center:
        x_center, y_center, width, height = box
        box = [y_center - height / 2, x_center - width / 2, y_center + height / 2,
               x_center + width / 2]
        x_center, y_center, width, height = other
        other = [y_center - height / 2, x_center - width / 2, y_center + height / 2,
                 x_center + width / 2]
    y1a, y2a = sorted((box[0], box[2]))
    x1a, x2a = sorted((box[1], box[3]))
    y1b, y2b = sorted((other[0], other[2]))
    x1b, x2b = sorted((other[1], other[3]))
    width = builtins.min(x2a, x2b) - builtins.max(x1a, x1b)
    height = builtins.min(y2a, y2b) - builtins.max(y1a, y1b)
    if width <= 0 or height <= 0:
        return False
    intersection = width * height
    area_a, area_b = (x2a - x1a) * (y2a - y1a), (x2b - x1b) * (y2b - y1b)
    union = area_a + area_b - intersection
    if area_a <= 0 or area_b <= 0 or union <= 0:
        return False
    return intersection / union > threshold


@onnx_op("NonMaxSuppression")
def _non_max_suppression(ctx):
    boxes = ctx.static(0).astype(np.float64)
    scores = ctx.static(1).astype(np.float64)
    limit = ctx.static(2)
    limit = 0 if limit is None or limit.size == 0 else int(limit.reshape(-1)[0])
    iou = ctx.static(3)
    iou = 0.0 if iou is None or iou.size == 0 else float(iou.reshape(-1)[0])
    score_threshold = ctx.static(4)
    center = bool(ctx.attr("center_point_box", 0))
    selected = []
    for batch in range(scores.shape[0]):
        for klass in range(scores.shape[1]):
            class_scores = scores[batch, klass]
            candidates = [i for i in range(len(class_scores)) if score_threshold is None
                          or score_threshold.size == 0
                          or class_scores[i] > float(score_threshold.reshape(-1)[0])]
            # Highest score first; among equal scores the lower index first.
            candidates.sort(key=lambda i: (-class_scores[i], i))
            kept: list = []
            for index in candidates:
                if len(kept) >= limit:
                    break
                if all(not _iou_over(boxes[batch, index], boxes[batch, other], center, iou)
                       for other in kept):
                    kept.append(index)
            selected += [(batch, klass, index) for index in kept]
    return const(np.asarray(selected, np.int64).reshape(-1, 3))


@onnx_op("Col2Im")
def _col2im(ctx):
    x = ctx.inputs[0]
    image = [int(v) for v in ctx.static(1).reshape(-1)]
    kernel = [int(v) for v in ctx.static(2).reshape(-1)]
    spatial = len(image)
    dilations = list(ctx.attr("dilations", [1] * spatial))
    strides = list(ctx.attr("strides", [1] * spatial))
    pads = list(ctx.attr("pads", [0] * (2 * spatial)))
    batch, columns = x.shape[0], x.shape[1]
    channels = columns // int(np.prod(kernel))
    blocks = [(size + pads[d] + pads[d + spatial] - dilations[d] * (kernel[d] - 1) - 1)
              // strides[d] + 1 for d, size in enumerate(image)]
    padded = [size + pads[d] + pads[d + spatial] for d, size in enumerate(image)]
    # Destination of every (kernel offset, block) pair in the padded image.
    kernel_grid = np.indices(kernel).reshape(spatial, -1)  # (spatial, K)
    block_grid = np.indices(blocks).reshape(spatial, -1)  # (spatial, L)
    positions = [kernel_grid[d][:, None] * dilations[d] + block_grid[d][None, :] * strides[d]
                 for d in range(spatial)]  # each (K, L)
    values = api.reshape(x, (batch, channels, kernel_grid.shape[1], block_grid.shape[1]))
    index = (slice(None), slice(None)) + tuple(positions)
    full = apply("index_add_zeros", values, shape=(batch, channels) + tuple(padded),
                 index=index)
    crop = (slice(None), slice(None)) + tuple(slice(pads[d], pads[d] + image[d])
                                              for d in range(spatial))
    return api.getitem(full, crop)


@onnx_op("MaxUnpool")
def _max_unpool(ctx):
    x = ctx.inputs[0]
    indices = ctx.static(1).astype(np.int64).reshape(-1)
    kernel = list(ctx.attr("kernel_shape"))
    spatial = len(kernel)
    strides = list(ctx.attr("strides", [1] * spatial))
    pads = list(ctx.attr("pads", [0] * (2 * spatial)))
    inferred = [x.shape[0], x.shape[1]] + [
        (x.shape[d + 2] - 1) * strides[d] - (pads[d] + pads[spatial + d]) + kernel[d]
        for d in range(spatial)]
    flat = apply("index_add_zeros", api.reshape(x, (-1,)), shape=(int(np.prod(inferred)),),
                 index=(indices,))
    out = api.reshape(flat, tuple(inferred))
    requested = ctx.static(2)
    if requested is not None:
        target = [int(v) for v in requested.reshape(-1)]
        out = pad_nd(out, [[0, t - c] for t, c in zip(target, inferred)])
    return out
