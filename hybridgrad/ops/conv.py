"""Convolution and pooling primitives: fused im2col kernels with VJPs in framework operators.

Convolution is bilinear in (input, weight), so three primitives close under differentiation:

* ``conv2d(x, w)``: cross-correlation (PyTorch's ``conv2d`` without bias), N C H W layout;
* ``conv_transpose2d(g, w)``: its adjoint in ``x`` (the input gradient; also ConvTranspose2d);
* ``conv2d_weight(x, g)``: its adjoint in ``w`` (the weight gradient, a correlation of the input
  with the output gradient).

Each VJP is one of the other two, so gradients of gradients (and the symbolic compiler) work.
The forwards build an im2col buffer from a strided view (``as_strided``: no loop over pixels)
and do ONE (batched) matmul; col2im adds one strided slice per kernel tap.

Max pooling is ``max_pool2d`` (values); its VJP finds each window's first maximum
(``max_pool2d_taps``, PyTorch's tie rule) and ``max_pool2d_scatter`` adds the gradient there;
``max_pool2d_gather`` is the scatter's adjoint (second order). Loops run over kernel taps only.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops.registry import apply
    >>> x = hg.ones(1, 1, 3, 3, requires_grad=True)
    >>> w = hg.ones(1, 1, 2, 2, requires_grad=True)
    >>> y = apply("conv2d", x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)
    >>> y.tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    >>> y.sum().backward()
    >>> x.grad._array[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops.kernels import SAMPLE_BLOCKS
from hybridgrad.ops.registry import PER_SAMPLE, OpError, Spec, apply, promote, register


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool = False) -> int:
    """Output length of a convolution/pooling window sweep along one axis (PyTorch's formula).

    Example:
        >>> conv_output_size(28, 3, 1, 0, 1)
        26
        >>> conv_output_size(5, 2, 2, 0, 1, ceil_mode=True)
        3
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        # PyTorch: the last window must start inside the input or the left padding.
        if (out - 1) * stride >= size + padding:
            out -= 1
        return out
    return span // stride + 1


# ----------------------------------------------------------------------------------------------
# Array kernels (on the array module xp, the first argument of each).


def _pad_spatial(xp, x, padding: tuple, extra: tuple = (0, 0), value=0):
    """Pad the last two axes by ``padding`` on both sides plus ``extra`` at the end."""
    ph, pw = padding
    eh, ew = extra
    if not (ph or pw or eh or ew):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph + eh, w + 2 * pw + ew), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


# Two memory layouts for the column buffer, chosen per call (measured on 1-2 cores):
# * sample-major (N, G, Cg*KH*KW, OH*OW): one matmul batched over samples, results land in
#   N C H W directly (no transposing copies); best when each sample's OH*OW is large;
# * channel-major (G, Cg*KH*KW, N*OH*OW): one big matmul (better BLAS efficiency when OH*OW is
#   small), at the price of transposing the gradient and the result.
# The forward always uses the sample-major layout (measured no slower in both regimes).
PER_SAMPLE_MIN_PIXELS = 256


def _per_sample(out_size: tuple, per_sample: bool | None) -> bool:
    if per_sample is not None:
        return per_sample
    return out_size[0] * out_size[1] >= PER_SAMPLE_MIN_PIXELS


def _windows(xp, x, kernel: tuple, out_size: tuple, stride: tuple, dilation: tuple,
             sample_major: bool):
    """Strided view of a padded (N, C, H, W) array, no copy: (N, C, KH, KW, OH, OW) when
    sample-major, else (C, KH, KW, N, OH, OW)."""
    kh, kw = kernel
    oh, ow = out_size
    sn, sc, sh, sw = x.strides
    n, c = x.shape[:2]
    taps = (sh * dilation[0], sw * dilation[1])
    steps = (sh * stride[0], sw * stride[1])
    as_strided = xp.lib.stride_tricks.as_strided
    if sample_major:
        view = as_strided(x, shape=(n, c, kh, kw, oh, ow), strides=(sn, sc) + taps + steps)
    else:
        view = as_strided(x, shape=(c, kh, kw, n, oh, ow), strides=(sc,) + taps + (sn,) + steps)
    # Only the im2col copy below reads this view of overlapping windows (never written).
    return view


def _im2col(xp, x, kernel, out_size, stride, padding, dilation, groups, sample_major: bool):
    """Contiguous column buffer of the padded input: (N, G, Cg*KH*KW, OH*OW) when sample-major,
    else (G, Cg*KH*KW, N*OH*OW)."""
    cols = xp.ascontiguousarray(_windows(xp, _pad_spatial(xp, x, padding), kernel, out_size,
                                         stride, dilation, sample_major))
    n, c = x.shape[:2]
    rows = (c // groups) * kernel[0] * kernel[1]
    if sample_major:
        return cols.reshape(n, groups, rows, out_size[0] * out_size[1])
    return cols.reshape(groups, rows, -1)


def _conv2d_array(xp, x, w, stride, padding, dilation, groups):
    n, _, h, width = x.shape
    out_channels, _, kh, kw = w.shape
    oh = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = conv_output_size(width, kw, stride[1], padding[1], dilation[1])
    cols = _im2col(xp, x, (kh, kw), (oh, ow), stride, padding, dilation, groups, True)
    weight = w.reshape(groups, out_channels // groups, -1)
    out = xp.matmul(weight, cols)  # (N, G, O/G, OH*OW): already N C H W
    return out.reshape(n, out_channels, oh, ow)


def _conv_transpose2d_array(xp, g, w, input_size, stride, padding, dilation, groups,
                            per_sample=None):
    """Adjoint of conv2d in x: col2im of W^T g (a loop over the KH*KW kernel taps only)."""
    n, out_channels, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    channels = cg * groups
    h, width = input_size
    ph, pw = padding
    weight_t = w.reshape(groups, out_channels // groups, cg * kh * kw).transpose(0, 2, 1)
    hp = max(h + 2 * ph, dilation[0] * (kh - 1) + stride[0] * (oh - 1) + 1)
    wp = max(width + 2 * pw, dilation[1] * (kw - 1) + stride[1] * (ow - 1) + 1)
    if _per_sample((oh, ow), per_sample):
        g2 = g.reshape(n, groups, out_channels // groups, oh * ow)
        cols = xp.matmul(weight_t, g2).reshape(n, channels, kh, kw, oh, ow)
        out = xp.zeros((n, channels, hp, wp), dtype=cols.dtype)
    else:
        g2 = g.transpose(1, 0, 2, 3).reshape(groups, out_channels // groups, n * oh * ow)
        cols = xp.matmul(weight_t, g2).reshape(channels, kh, kw, n, oh, ow)
        cols = cols.transpose(3, 0, 1, 2, 4, 5)  # a view: (N, C, KH, KW, OH, OW)
        out = xp.zeros((channels, n, hp, wp), dtype=cols.dtype).transpose(1, 0, 2, 3)
    for i in range(kh):
        row = i * dilation[0]
        rows = slice(row, row + stride[0] * (oh - 1) + 1, stride[0])
        for j in range(kw):
            col = j * dilation[1]
            out[:, :, rows, col:col + stride[1] * (ow - 1) + 1:stride[1]] += cols[:, :, i, j]
    return out[:, :, ph:ph + h, pw:pw + width]


def _conv2d_weight_array(xp, x, g, kernel_size, stride, padding, dilation, groups,
                         per_sample=None):
    """Adjoint of conv2d in w: correlate the input's columns with the output gradient."""
    n, out_channels, oh, ow = g.shape
    channels = x.shape[1]
    if _per_sample((oh, ow), per_sample):
        cols = _im2col(xp, x, kernel_size, (oh, ow), stride, padding, dilation, groups, True)
        g2 = g.reshape(n, groups, out_channels // groups, oh * ow)
        dw = xp.matmul(g2, cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, O/G, Cg*KH*KW)
    else:
        cols = _im2col(xp, x, kernel_size, (oh, ow), stride, padding, dilation, groups, False)
        g2 = g.transpose(1, 0, 2, 3).reshape(groups, out_channels // groups, n * oh * ow)
        # cols @ g2^T (then a small transpose) is the faster operand order for OpenBLAS here.
        dw = xp.matmul(cols, g2.transpose(0, 2, 1)).transpose(0, 2, 1)
    return xp.ascontiguousarray(dw).reshape(out_channels, channels // groups, *kernel_size)


# ----------------------------------------------------------------------------------------------
# Shape rules.


def _check_groups(op: str, channels: int, out_channels: int, groups: int, weight_cg: int):
    if groups < 1 or channels % groups or out_channels % groups:
        raise OpError(f"{op}: groups={groups} must divide both the input channels ({channels}) "
                      f"and the output channels ({out_channels})")
    if channels // groups != weight_cg:
        raise OpError(f"{op}: expected weight of shape (out, {channels // groups}, kH, kW) for "
                      f"{channels} input channels and groups={groups}, got weight with "
                      f"{weight_cg} channels per group")


def _conv2d_shape(x, w, stride, padding, dilation, groups):
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise OpError(f"conv2d: expected a 4-D input (N, C, H, W) and a 4-D weight "
                      f"(out, in/groups, kH, kW), got input {tuple(x.shape)} and weight "
                      f"{tuple(w.shape)}")
    n, c, h, width = x.shape
    o, cg, kh, kw = w.shape
    _check_groups("conv2d", c, o, groups, cg)
    oh = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = conv_output_size(width, kw, stride[1], padding[1], dilation[1])
    if oh < 1 or ow < 1:
        raise OpError(f"conv2d: kernel {(kh, kw)} (dilation {dilation}) is larger than the "
                      f"padded input {(h + 2 * padding[0], width + 2 * padding[1])} "
                      f"(input {tuple(x.shape)})")
    return Spec((n, o, oh, ow), promote(x.dtype, w.dtype))


def _conv_transpose2d_shape(g, w, input_size, stride, padding, dilation, groups):
    if len(g.shape) != 4 or len(w.shape) != 4:
        raise OpError(f"conv_transpose2d: expected a 4-D input and weight, got "
                      f"{tuple(g.shape)} and {tuple(w.shape)}")
    if g.shape[1] != w.shape[0]:
        raise OpError(f"conv_transpose2d: input has {g.shape[1]} channels but the weight "
                      f"{tuple(w.shape)} expects {w.shape[0]}")
    if g.shape[1] % groups:
        raise OpError(f"conv_transpose2d: groups={groups} must divide the input channels "
                      f"({g.shape[1]})")
    return Spec((g.shape[0], w.shape[1] * groups) + tuple(input_size),
                promote(g.dtype, w.dtype))


def _conv2d_weight_shape(x, g, kernel_size, stride, padding, dilation, groups):
    return Spec((g.shape[1], x.shape[1] // groups) + tuple(kernel_size),
                promote(x.dtype, g.dtype))


# ----------------------------------------------------------------------------------------------
# VJPs (framework operators only).


def _fit(y, shape: tuple):
    """Crop the spatial tail of ``y`` to ``shape`` (conv of an output_padding-sized tensor)."""
    if tuple(y.shape) == tuple(shape):
        return y
    return y[:, :, :shape[2], :shape[3]]


def _conv2d_vjp(g, inputs, out, needs, stride, padding, dilation, groups):
    x, w = inputs
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    grad_x = grad_w = None
    if needs[0]:
        grad_x = apply("conv_transpose2d", g, w, input_size=tuple(x.shape[2:]), **attrs)
    if needs[1]:
        grad_w = apply("conv2d_weight", x, g, kernel_size=tuple(w.shape[2:]), **attrs)
    return grad_x, grad_w


def _conv_transpose2d_vjp(h, inputs, out, needs, input_size, stride, padding, dilation,
                          groups):
    g, w = inputs
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    grad_g = grad_w = None
    if needs[0]:
        grad_g = _fit(apply("conv2d", h, w, **attrs), tuple(g.shape))
    if needs[1]:
        grad_w = apply("conv2d_weight", h, g, kernel_size=tuple(w.shape[2:]), **attrs)
    return grad_g, grad_w


def _conv2d_weight_vjp(h, inputs, out, needs, kernel_size, stride, padding, dilation, groups):
    x, g = inputs
    attrs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    grad_x = grad_g = None
    if needs[0]:
        grad_x = apply("conv_transpose2d", g, h, input_size=tuple(x.shape[2:]), **attrs)
    if needs[1]:
        grad_g = _fit(apply("conv2d", x, h, **attrs), tuple(g.shape))
    return grad_x, grad_g


@register("conv2d", gradcheck="tests/nn/test_conv.py",
          shape=_conv2d_shape, vjp=_conv2d_vjp, promotes=True, aliasing="fresh",
          out_kernel=SAMPLE_BLOCKS, rows=PER_SAMPLE,
          formula="conv2d({x}, {w})",
          derivatives=("conv_transpose2d(grad, {w})", "conv2d_weight({x}, grad)"),
          arg_names=("x", "w"))
def _conv2d(xp, x, w, stride, padding, dilation, groups):
    """2-D cross-correlation (N, C, H, W) * (O, C/groups, kH, kW), im2col + one matmul."""
    _conv2d_shape(x, w, stride, padding, dilation, groups)
    return _conv2d_array(xp, x, w, stride, padding, dilation, groups)


@register("conv_transpose2d", gradcheck="tests/nn/test_conv.py",
          shape=_conv_transpose2d_shape, vjp=_conv_transpose2d_vjp, aliasing="fresh",
          out_kernel=SAMPLE_BLOCKS, rows=PER_SAMPLE,
          promotes=True, formula="conv_transpose2d({g}, {w})",
          derivatives=("conv2d(grad, {w})", "conv2d_weight(grad, {g})"), arg_names=("g", "w"))
def _conv_transpose2d(xp, g, w, input_size, stride, padding, dilation, groups):
    """Adjoint of conv2d with respect to its input; the output has spatial size input_size."""
    _conv_transpose2d_shape(g, w, input_size, stride, padding, dilation, groups)
    return _conv_transpose2d_array(xp, g, w, input_size, stride, padding, dilation, groups)


@register("conv2d_weight", gradcheck="tests/nn/test_conv.py",
          shape=_conv2d_weight_shape, vjp=_conv2d_weight_vjp, promotes=True, aliasing="fresh",
          out_kernel=SAMPLE_BLOCKS, why_not={"rows": "sums over the samples (a weight gradient)"},
          formula="conv2d_weight({x}, {g})",
          derivatives=("conv_transpose2d({g}, grad)", "conv2d({x}, grad)"),
          arg_names=("x", "g"))
def _conv2d_weight(xp, x, g, kernel_size, stride, padding, dilation, groups):
    """Adjoint of conv2d with respect to its weight (the weight gradient)."""
    return _conv2d_weight_array(xp, x, g, kernel_size, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------------------------
# Max pooling.



def _pool_geometry(shape, kernel_size, stride, padding, dilation, ceil_mode):
    n, c, h, w = shape
    for axis in range(2):
        if padding[axis] * 2 > kernel_size[axis]:
            raise OpError(f"max_pool2d: padding {padding} should be at most half of the kernel "
                          f"size {kernel_size}")
    oh = conv_output_size(h, kernel_size[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = conv_output_size(w, kernel_size[1], stride[1], padding[1], dilation[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise OpError(f"max_pool2d: kernel {kernel_size} does not fit the input {tuple(shape)} "
                      f"(padding {padding}, dilation {dilation})")
    # Extra padding at the end so that ceil_mode's last window is inside the array.
    extra_h = max(0, (oh - 1) * stride[0] + dilation[0] * (kernel_size[0] - 1) + 1
                  - (h + 2 * padding[0]))
    extra_w = max(0, (ow - 1) * stride[1] + dilation[1] * (kernel_size[1] - 1) + 1
                  - (w + 2 * padding[1]))
    return (oh, ow), (extra_h, extra_w)


def _tap_views(padded, kernel_size, stride, dilation, out_size):
    """Yield (tap number, (N, C, OH, OW) strided view) for each kernel position: the loop runs
    over the kH*kW taps, each step a whole-array operation."""
    oh, ow = out_size
    for i in range(kernel_size[0]):
        r = i * dilation[0]
        for j in range(kernel_size[1]):
            c = j * dilation[1]
            yield i * kernel_size[1] + j, padded[:, :, r:r + stride[0] * (oh - 1) + 1:stride[0],
                                                 c:c + stride[1] * (ow - 1) + 1:stride[1]]


def _fill_value(xp, dtype):
    return -math.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _max_pool_shape(x, kernel_size, stride, padding, dilation, ceil_mode):
    if len(x.shape) != 4:
        raise OpError(f"max_pool2d: expected a 4-D input (N, C, H, W), got {tuple(x.shape)}")
    (oh, ow), _ = _pool_geometry(tuple(x.shape), kernel_size, stride, padding, dilation,
                                 ceil_mode)
    return Spec(tuple(x.shape[:2]) + (oh, ow), x.dtype)


def _max_pool_vjp(g, inputs, out, needs, **attrs):
    x = inputs[0]
    taps = apply("max_pool2d_taps", x.detach(), out.detach(), **attrs)
    return (apply("max_pool2d_scatter", g, taps, input_shape=tuple(x.shape), **attrs),)


def _max_pool_vjp_array(xp, g, inputs, out, saved, needs, **attrs):
    """First order: one fused pass per tap (None, so the two primitives run, where it does
    not apply)."""
    fast = _max_pool_backward_array(xp, inputs[0], out, g, **attrs)
    return None if fast is None else (fast,)


@register("max_pool2d", gradcheck="tests/nn/test_conv.py",
          shape=_max_pool_shape, vjp=_max_pool_vjp, formula="maxpool({a})", aliasing="fresh",
          rows=PER_SAMPLE, why_not={"out_kernel": "not written yet (a copy, then maxima)"},
          derivatives=("1 at each window's (first) maximum, else 0",), arg_names=("a",),
          vjp_array=_max_pool_vjp_array)
def _max_pool2d(xp, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Maximum over each window (padding never wins; NaN propagates)."""
    out_size, extra = _pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    padded = _pad_spatial(xp, x, padding, extra, value=_fill_value(xp, x.dtype))
    result = None
    for _, view in _tap_views(padded, kernel_size, stride, dilation, out_size):
        if result is None:
            result = view.copy()
        else:
            xp.maximum(result, view, out=result)
    return result


def _max_pool_backward_array(xp, x, best, g, kernel_size, stride, padding, dilation, ceil_mode):
    """max_pool2d_scatter(g, max_pool2d_taps(x, best)) in one pass per tap, for windows that do
    not overlap, float inputs without NaN maxima and a finite gradient; None otherwise (the
    caller then uses the two primitives). Measured: 5 -> 3 ms for (64, 32, 26, 26), 2x2."""
    if (x.dtype.kind != "f" or _overlapping(kernel_size, stride, dilation)
            or xp.isnan(best).any() or not xp.isfinite(g).all()):
        return None
    out_size, extra = _pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    padded = _pad_spatial(xp, x, padding, extra, value=_fill_value(xp, x.dtype))
    result, _ = _padded_zeros(xp, x.shape, g.dtype, kernel_size, stride, padding, dilation,
                              ceil_mode)
    hit = xp.empty(best.shape, dtype=bool)
    first = xp.empty(best.shape, dtype=bool)
    found = xp.empty(best.shape, dtype=bool)
    last = kernel_size[0] * kernel_size[1] - 1
    taps = zip(_tap_views(padded, kernel_size, stride, dilation, out_size),
               _tap_views(result, kernel_size, stride, dilation, out_size))
    for (tap, view), (_, target) in taps:
        if tap == 0:
            xp.equal(view, best, out=found)
            xp.multiply(g, found, out=target)
            continue
        xp.equal(view, best, out=hit)
        xp.greater(hit, found, out=first)  # the first tap that equals the maximum wins
        if tap != last:
            xp.logical_or(found, hit, out=found)
        xp.multiply(g, first, out=target)
    n, c, h, w = x.shape
    return result[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


def _tap_dtype(kernel_size) -> np.dtype:
    return np.dtype(np.uint8 if kernel_size[0] * kernel_size[1] <= 255 else np.int32)


def _taps_array(xp, x, best, kernel_size, stride, padding, dilation, ceil_mode):
    """Tap number of each window's first maximum, given the maxima ``best`` (the forward's
    output, so the maximum is not recomputed)."""
    out_size, extra = _pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    padded = _pad_spatial(xp, x, padding, extra, value=_fill_value(xp, x.dtype))
    dtype = _tap_dtype(kernel_size)
    taps = xp.zeros(best.shape, dtype=dtype)
    nan = x.dtype.kind == "f" and xp.isnan(best).any()
    hit = xp.empty(best.shape, dtype=bool)
    first = xp.empty(best.shape, dtype=bool)
    found = xp.zeros(best.shape, dtype=bool)
    # Bool arithmetic instead of masked assignment (branch-free, several times faster):
    # the first tap that equals the maximum wins, PyTorch's tie rule.
    for tap, view in _tap_views(padded, kernel_size, stride, dilation, out_size):
        xp.equal(view, best, out=hit)
        if nan:
            hit |= xp.isnan(view) & xp.isnan(best)
        xp.greater(hit, found, out=first)
        xp.logical_or(found, hit, out=found)
        if tap:
            taps += first.astype(dtype) * dtype.type(tap)
    return taps


def _taps_shape(x, out, **attrs):
    return Spec(_max_pool_shape(x, **attrs).shape, _tap_dtype(attrs["kernel_size"]))


# Facts of max pooling's gradient primitives: sample i of the result reads sample i of every
# (batched) input; their forwards allocate.
_POOL_GRADIENT_ROWS = lambda batched, shapes, rows, **_attrs: all(batched)  # noqa: E731
_POOL_GRADIENT_KERNEL = {"out_kernel": "gradient plumbing of max pooling; allocates its result"}


@register("max_pool2d_taps", shape=_taps_shape, formula="argmaxpool({a})", arg_names=("a", "b"),
          aliasing="fresh", rows=_POOL_GRADIENT_ROWS, why_not=_POOL_GRADIENT_KERNEL)
def _max_pool2d_taps(xp, x, out, kernel_size, stride, padding, dilation, ceil_mode):
    """Which kernel tap (i * kW + j) holds each window's first maximum (out = max_pool2d(x))."""
    return _taps_array(xp, x, out, kernel_size, stride, padding, dilation, ceil_mode)


@register("max_pool2d_indices",
          shape=lambda x, out, **attrs: Spec(_max_pool_shape(x, **attrs).shape,
                                             np.dtype(np.int64)),
          formula="argmaxpool({a})", arg_names=("a", "b"), aliasing="fresh",
          rows=_POOL_GRADIENT_ROWS, why_not=_POOL_GRADIENT_KERNEL)
def _max_pool2d_indices(xp, x, out, kernel_size, stride, padding, dilation, ceil_mode):
    """Flat index (into H*W) of each window's first maximum, like PyTorch's return_indices."""
    taps = _taps_array(xp, x, out, kernel_size, stride, padding, dilation, ceil_mode)
    taps = taps.astype(xp.int64)
    oh, ow = taps.shape[2:]
    rows = (xp.arange(oh) * stride[0] - padding[0])[:, None] + (taps // kernel_size[1]) \
        * dilation[0]
    cols = (xp.arange(ow) * stride[1] - padding[1])[None, :] + (taps % kernel_size[1]) \
        * dilation[1]
    return rows * x.shape[3] + cols


def _overlapping(kernel_size, stride, dilation) -> bool:
    return any(s < d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel_size))


def _padded_zeros(xp, input_shape, dtype, kernel_size, stride, padding, dilation, ceil_mode):
    out_size, extra = _pool_geometry(input_shape, kernel_size, stride, padding, dilation,
                                     ceil_mode)
    n, c, h, w = input_shape
    shape = (n, c, h + 2 * padding[0] + extra[0], w + 2 * padding[1] + extra[1])
    # Windows that tile the input exactly (stride == kernel, no padding, no remainder) write
    # every element, so the buffer need not be zeroed first.
    tiles = (padding == (0, 0) and dilation == (1, 1) and tuple(stride) == tuple(kernel_size)
             and out_size[0] * stride[0] == h and out_size[1] * stride[1] == w)
    return (xp.empty if tiles else xp.zeros)(shape, dtype=dtype), out_size


def _scatter_shape(g, taps, input_shape, **attrs):
    return Spec(tuple(input_shape), g.dtype)


def _scatter_vjp(h, inputs, out, needs, input_shape, **attrs):
    g, taps = inputs
    return (apply("max_pool2d_gather", h, taps, **attrs), None)


@register("max_pool2d_scatter", gradcheck="tests/nn/test_conv.py",
          shape=_scatter_shape, vjp=_scatter_vjp,
          formula="unpool({g})", derivatives=("gather(grad)", "0"), arg_names=("g", "taps"),
          aliasing="fresh", why_not=dict(_POOL_GRADIENT_KERNEL,
                                         rows="its input_shape attribute is the whole batch's"))
def _max_pool2d_scatter(xp, g, taps, input_shape, kernel_size, stride, padding, dilation,
                        ceil_mode):
    """Zeros of ``input_shape`` with g added at each window's argmax (overlaps accumulate)."""
    out, out_size = _padded_zeros(xp, input_shape, g.dtype, kernel_size, stride, padding,
                                  dilation, ceil_mode)
    overlapping = _overlapping(kernel_size, stride, dilation)
    # g * hit rather than a masked copy: branch-free and several times faster; where() keeps
    # an infinite or NaN gradient from leaking (inf * 0) into the other window positions.
    finite = g.dtype.kind != "f" or xp.isfinite(g).all()
    hit = xp.empty(taps.shape, dtype=bool)
    for tap, view in _tap_views(out, kernel_size, stride, dilation, out_size):
        xp.equal(taps, tap, out=hit)
        if not finite:
            picked = xp.where(hit, g, 0)
            view[...] = view + picked if overlapping else picked
        elif overlapping:
            view += g * hit
        else:
            xp.multiply(g, hit, out=view)
    n, c, h, w = input_shape
    return out[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


def _gather_shape(h, taps, **attrs):
    return Spec(tuple(taps.shape), h.dtype)


def _gather_vjp(g, inputs, out, needs, **attrs):
    h, taps = inputs
    return (apply("max_pool2d_scatter", g, taps, input_shape=tuple(h.shape), **attrs), None)


@register("max_pool2d_gather", gradcheck="tests/nn/test_conv.py",
          shape=_gather_shape, vjp=_gather_vjp, formula="pick({h})",
          derivatives=("unpool(grad)", "0"), arg_names=("h", "taps"), aliasing="fresh",
          rows=_POOL_GRADIENT_ROWS, why_not=_POOL_GRADIENT_KERNEL)
def _max_pool2d_gather(xp, h, taps, kernel_size, stride, padding, dilation, ceil_mode):
    """Pick h at each window's argmax (the adjoint of max_pool2d_scatter)."""
    out_size, extra = _pool_geometry(h.shape, kernel_size, stride, padding, dilation, ceil_mode)
    padded = _pad_spatial(xp, h, padding, extra)
    result = xp.zeros(taps.shape, dtype=h.dtype)
    finite = h.dtype.kind != "f" or xp.isfinite(h).all()
    hit = xp.empty(taps.shape, dtype=bool)
    for tap, view in _tap_views(padded, kernel_size, stride, dilation, out_size):
        xp.equal(taps, tap, out=hit)
        result += view * hit if finite else xp.where(hit, view, 0)
    return result
