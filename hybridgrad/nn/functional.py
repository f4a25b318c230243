"""``hg.nn.functional`` (import as ``F``): the functional forms of the layers, PyTorch's names.

This module holds convolution, pooling, batch normalisation and embedding; activations, dropout,
normalisation, attention, recurrent cells, losses and one_hot are re-exported here from their
own modules.

Example:
    >>> import hybridgrad as hg
    >>> import hybridgrad.nn.functional as F
    >>> x = hg.ones(1, 1, 4, 4)
    >>> F.max_pool2d(F.conv2d(x, hg.ones(2, 1, 3, 3), padding=1), 2).shape
    (1, 2, 2, 2)
"""

# ruff: noqa: A002 - "input" is PyTorch's argument name
from __future__ import annotations

import numpy as np

from hybridgrad.autograd import apply_with_saved, no_grad
from hybridgrad.nn.linear import linear
from hybridgrad.ops import api as ops
from hybridgrad.ops.conv import conv_output_size
from hybridgrad.ops.registry import apply, state_symbol, update_state
from hybridgrad.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "embedding", "linear",
    "max_pool1d", "max_pool2d",
]


def _tuple(value, n: int, name: str, op: str) -> tuple:
    """An int or a length-n sequence of ints, as a tuple (PyTorch's _pair/_single)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{op}: {name} must be an int or {n} ints, got {value}")
    return value


def _spatial_input(x, op: str, spatial: int):
    """(batched input, was_unbatched): accept (C, *spatial) by adding a batch axis."""
    ndim = len(x.shape)
    if ndim == spatial + 2:
        return x, False
    if ndim == spatial + 1:
        return ops.unsqueeze(x, 0), True
    raise ValueError(f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D "
                     f"(batched) input, got shape {tuple(x.shape)}")


# ----------------------------------------------------------------------------------------------
# Convolution.


def _conv_padding(padding, kernel: tuple, dilation: tuple, stride: tuple, op: str):
    """Symmetric padding tuple plus any extra (right/bottom) padding that 'same' needs."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n, (0,) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            total = [d * (k - 1) for d, k in zip(dilation, kernel)]
            return tuple(t // 2 for t in total), tuple(t - t // 2 - t // 2 for t in total)
        raise ValueError(f"{op}: padding {padding!r} must be 'valid', 'same', an int or a tuple")
    return _tuple(padding, n, "padding", op), (0,) * n


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """2-D convolution (cross-correlation) of (N, C, H, W) with weight (O, C/groups, kH, kW).

    Example:
        >>> import hybridgrad as hg
        >>> conv2d(hg.ones(1, 1, 3, 3), hg.ones(1, 1, 2, 2)).tolist()
        [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    x, unbatched = _spatial_input(input, "conv2d", 2)
    if len(weight.shape) != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out, in/groups, kH, kW), got "
                         f"{tuple(weight.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = _tuple(stride, 2, "stride", "conv2d")
    dilation = _tuple(dilation, 2, "dilation", "conv2d")
    pad, extra = _conv_padding(padding, kernel, dilation, stride, "conv2d")
    if any(extra):
        x = ops.pad(x, (0, extra[1], 0, extra[0]))
    out = apply("conv2d", x, weight, stride=stride, padding=pad, dilation=dilation,
                groups=int(groups))
    if bias is not None:
        out = out + ops.reshape(bias, (1, -1, 1, 1))
    return ops.squeeze(out, 0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """1-D convolution of (N, C, L) with weight (O, C/groups, k).

    Example:
        >>> import hybridgrad as hg
        >>> conv1d(hg.ones(1, 1, 4), hg.ones(1, 1, 2)).tolist()
        [[[2.0, 2.0, 2.0]]]
    """
    x, unbatched = _spatial_input(input, "conv1d", 1)
    if len(weight.shape) != 3:
        raise ValueError(f"conv1d: weight must be 3-D (out, in/groups, k), got "
                         f"{tuple(weight.shape)}")
    if not isinstance(padding, str):
        padding = (0,) + _tuple(padding, 1, "padding", "conv1d")
    out = conv2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias,
                 (1,) + _tuple(stride, 1, "stride", "conv1d"), padding,
                 (1,) + _tuple(dilation, 1, "dilation", "conv1d"), groups)
    out = ops.squeeze(out, 2)
    return ops.squeeze(out, 0) if unbatched else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups: int = 1, dilation=1):
    """Transposed convolution (the adjoint of conv2d); weight is (in, out/groups, kH, kW).

    Output size: (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1.

    Example:
        >>> import hybridgrad as hg
        >>> conv_transpose2d(hg.ones(1, 1, 2, 2), hg.ones(1, 1, 2, 2), stride=2).shape
        (1, 1, 4, 4)
    """
    x, unbatched = _spatial_input(input, "conv_transpose2d", 2)
    if len(weight.shape) != 4:
        raise ValueError(f"conv_transpose2d: weight must be 4-D (in, out/groups, kH, kW), got "
                         f"{tuple(weight.shape)}")
    stride = _tuple(stride, 2, "stride", "conv_transpose2d")
    padding = _tuple(padding, 2, "padding", "conv_transpose2d")
    output_padding = _tuple(output_padding, 2, "output_padding", "conv_transpose2d")
    dilation = _tuple(dilation, 2, "dilation", "conv_transpose2d")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be "
                             f"smaller than either stride {stride} or dilation {dilation}")
    size = tuple((h - 1) * s - 2 * p + d * (k - 1) + o + 1 for h, s, p, d, k, o in zip(
        x.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding))
    if any(s < 1 for s in size):
        raise ValueError(f"conv_transpose2d: output size {size} is too small (input "
                         f"{tuple(x.shape)}, weight {tuple(weight.shape)}, padding {padding})")
    out = apply("conv_transpose2d", x, weight, input_size=size, stride=stride, padding=padding,
                dilation=dilation, groups=int(groups))
    if bias is not None:
        out = out + ops.reshape(bias, (1, -1, 1, 1))
    return ops.squeeze(out, 0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups: int = 1, dilation=1):
    """1-D transposed convolution; weight is (in, out/groups, k).

    Example:
        >>> import hybridgrad as hg
        >>> conv_transpose1d(hg.ones(1, 1, 2), hg.ones(1, 1, 2)).tolist()
        [[[1.0, 2.0, 1.0]]]
    """
    x, unbatched = _spatial_input(input, "conv_transpose1d", 1)
    pair = [(1,) + _tuple(v, 1, name, "conv_transpose1d") for v, name in
            ((stride, "stride"), (padding, "padding"), (output_padding, "output_padding"),
             (dilation, "dilation"))]
    pair[1] = (0,) + pair[1][1:]
    pair[2] = (0,) + pair[2][1:]
    out = conv_transpose2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias, pair[0],
                           pair[1], pair[2], groups, pair[3])
    out = ops.squeeze(out, 2)
    return ops.squeeze(out, 0) if unbatched else out


# ----------------------------------------------------------------------------------------------
# Pooling.


def _pool_args(kernel_size, stride, padding, dilation, op: str):
    kernel = _tuple(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else _tuple(stride, 2, "stride", op)
    return kernel, stride, _tuple(padding, 2, "padding", op), _tuple(dilation, 2, "dilation", op)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Maximum over windows; ``stride`` defaults to ``kernel_size``; padding never wins.

    With ``return_indices=True`` also returns each maximum's flat index into H*W (PyTorch's).

    Example:
        >>> import hybridgrad as hg
        >>> max_pool2d(hg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    x, unbatched = _spatial_input(input, "max_pool2d", 2)
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation,
                                                   "max_pool2d")
    attrs = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                 ceil_mode=bool(ceil_mode))
    out = apply("max_pool2d", x, **attrs)
    indices = apply("max_pool2d_indices", x.detach(), out.detach(), **attrs) \
        if return_indices else None
    if unbatched:
        out = ops.squeeze(out, 0)
        indices = None if indices is None else ops.squeeze(indices, 0)
    return (out, indices) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-D max pooling of (N, C, L).

    Example:
        >>> import hybridgrad as hg
        >>> max_pool1d(hg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    x, unbatched = _spatial_input(input, "max_pool1d", 1)

    def pair(value, first):
        return (first,) + _tuple(value, 1, "argument", "max_pool1d")

    result = max_pool2d(ops.unsqueeze(x, 2), pair(kernel_size, 1),
                        None if stride is None else pair(stride, 1), pair(padding, 0),
                        pair(dilation, 1), ceil_mode, return_indices)
    if return_indices:
        out, indices = result
        out, indices = ops.squeeze(out, 2), ops.squeeze(indices, 2)
        return (ops.squeeze(out, 0), ops.squeeze(indices, 0)) if unbatched else (out, indices)
    out = ops.squeeze(result, 2)
    return ops.squeeze(out, 0) if unbatched else out


def _avg_divisor(size: tuple, out_size: tuple, kernel, stride, padding, count_include_pad,
                 divisor_override) -> np.ndarray:
    """Divisor of every output window, exactly as PyTorch's CPU kernel computes it."""
    if divisor_override is not None:
        return np.full(out_size, float(divisor_override))
    factors = []
    for axis in range(2):
        start = np.arange(out_size[axis]) * stride[axis] - padding[axis]
        end = np.minimum(start + kernel[axis], size[axis] + padding[axis])
        pool = end - start
        clipped = np.minimum(end, size[axis]) - np.maximum(start, 0)
        factors.append(pool if count_include_pad else clipped)
    return np.outer(factors[0], factors[1]).astype(np.float64)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None):
    """Average over windows (a depthwise convolution with a ones kernel, then a divisor map).

    Example:
        >>> import hybridgrad as hg
        >>> avg_pool2d(hg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    x, unbatched = _spatial_input(input, "avg_pool2d", 2)
    kernel, stride, padding, _ = _pool_args(kernel_size, stride, padding, 1, "avg_pool2d")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"avg_pool2d: padding {padding} should be at most half of the kernel "
                         f"size {kernel}")
    n, c, h, w = x.shape
    out_size = tuple(conv_output_size(size, k, s, p, 1, ceil_mode) for size, k, s, p in
                     zip((h, w), kernel, stride, padding))
    if any(o < 1 for o in out_size):
        raise ValueError(f"avg_pool2d: kernel {kernel} does not fit the input {tuple(x.shape)}")
    # Zero padding: the symmetric part and whatever ceil_mode's last window needs.
    extra = [max(0, (o - 1) * s + k - (size + 2 * p)) for o, s, k, size, p in
             zip(out_size, stride, kernel, (h, w), padding)]
    planes = ops.reshape(x, (n * c, 1, h, w))
    if any(extra):
        planes = ops.pad(planes, (0, extra[1], 0, extra[0]))
    ones = Tensor._wrap(np.ones((1, 1) + kernel, dtype=x.dtype))
    sums = apply("conv2d", planes, ones, stride=stride, padding=padding, dilation=(1, 1),
                 groups=1)
    divisor = _avg_divisor((h, w), out_size, kernel, stride, padding, count_include_pad,
                           divisor_override)
    out = ops.reshape(sums, (n, c) + out_size) * Tensor._wrap((1.0 / divisor).astype(x.dtype))
    return ops.squeeze(out, 0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True):
    """1-D average pooling of (N, C, L).

    Example:
        >>> import hybridgrad as hg
        >>> avg_pool1d(hg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    x, unbatched = _spatial_input(input, "avg_pool1d", 1)

    def pair(value, first):
        return (first,) + _tuple(value, 1, "argument", "avg_pool1d")

    out = avg_pool2d(ops.unsqueeze(x, 2), pair(kernel_size, 1),
                     None if stride is None else pair(stride, 1), pair(padding, 0), ceil_mode,
                     count_include_pad)
    out = ops.squeeze(out, 2)
    return ops.squeeze(out, 0) if unbatched else out


def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix, PyTorch's bins [floor(i*size/out), ceil((i+1)*size/out))."""
    matrix = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start = (i * size) // out
        end = -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (None keeps that dimension), PyTorch's bins.

    Example:
        >>> import hybridgrad as hg
        >>> adaptive_avg_pool2d(hg.arange(16.0).reshape(1, 1, 4, 4), 1).tolist()
        [[[[7.5]]]]
    """
    x, unbatched = _spatial_input(input, "adaptive_avg_pool2d", 2)
    h, w = x.shape[2:]
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    out_h, out_w = (size if value is None else int(value)
                    for value, size in zip(output_size, (h, w)))
    if out_h < 1 or out_w < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size {output_size} must be positive")
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    rows = Tensor._wrap(_adaptive_matrix(h, out_h, dtype))
    cols = Tensor._wrap(_adaptive_matrix(w, out_w, dtype).T.copy())
    out = ops.matmul(ops.matmul(rows, x), cols)
    return ops.squeeze(out, 0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling of (N, C, L) to length ``output_size``.

    Example:
        >>> import hybridgrad as hg
        >>> adaptive_avg_pool1d(hg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    x, unbatched = _spatial_input(input, "adaptive_avg_pool1d", 1)
    if not isinstance(output_size, (int, np.integer)):
        (output_size,) = tuple(output_size)
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    cols = Tensor._wrap(_adaptive_matrix(x.shape[2], int(output_size), dtype).T.copy())
    out = ops.matmul(x, cols)
    return ops.squeeze(out, 0) if unbatched else out


# ----------------------------------------------------------------------------------------------
# Batch normalisation.


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Batch normalisation over the channel axis 1 of (N, C, *), PyTorch's semantics.

    Training normalises with the batch mean and biased variance and, when running statistics
    are given, updates them in place with the *unbiased* variance:
    ``running = (1 - momentum) * running + momentum * batch``. Evaluation uses the running
    statistics.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([[1.0], [3.0]])
        >>> mean, var = hg.zeros(1), hg.ones(1)
        >>> [round(v, 4) for v in batch_norm(x, mean, var, training=True).reshape(-1).tolist()]
        [-1.0, 1.0]
        >>> round(mean.item(), 4), round(var.item(), 4)
        (0.2, 1.1)
    """
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {shape}")
    channels = shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(value.shape)}, expected "
                             f"({channels},) for input {shape}")
    axes = (0,) + tuple(range(2, len(shape)))
    view = (1, channels) + (1,) * (len(shape) - 2)
    if training:
        count = int(np.prod([shape[a] for a in axes]))
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {shape}")
        if isinstance(input, Tensor) and input.dtype.kind == "f":
            return _fused_batch_norm(input, running_mean, running_var, weight, bias, momentum,
                                     eps, count)
        mean = ops.mean(input, axes, keepdim=True)
        centered = input - mean
        var = ops.mean(centered * centered, axes, keepdim=True)
        out = centered / ops.sqrt(var + eps)
        # Eager tensors are written now; symbols (tracing, hg.jit) record the writes as side
        # effects of the compiled graph, run on every call.
        with no_grad():
            _update_running_statistics(running_mean, running_var, mean, var, momentum, count)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when "
                             "training=False")
        mean = Tensor._wrap(running_mean._array.reshape(view).astype(input.dtype, copy=False))
        inv_std = Tensor._wrap((1.0 / np.sqrt(running_var._array.astype(np.float64) + eps))
                               .reshape(view).astype(input.dtype))
        out = (input - mean) * inv_std
    if weight is not None:
        out = out * ops.reshape(weight, view)
    if bias is not None:
        out = out + ops.reshape(bias, view)
    return out


def _fused_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, count):
    """Eager training-mode batch norm as one primitive (ops/fused.py), same semantics as the
    composite below it (which symbolic graphs keep using)."""
    channels = input.shape[1]
    if weight is None:
        weight = Tensor._wrap(np.ones(channels, dtype=input.dtype))
    if bias is None:
        bias = Tensor._wrap(np.zeros(channels, dtype=input.dtype))
    out, (mean, var, _) = apply_with_saved("batch_norm_train", input, weight, bias,
                                           eps=float(eps))
    if running_mean is not None:
        running_mean._array[...] = ((1 - momentum) * running_mean._array
                                  + momentum * mean.reshape(channels))
    if running_var is not None:
        unbiased = var.reshape(channels) * (count / (count - 1))
        running_var._array[...] = (1 - momentum) * running_var._array + momentum * unbiased
    return out


def _update_running_statistics(running_mean, running_var, mean, var, momentum, count):
    """running = (1 - momentum) * running + momentum * batch (the unbiased variance), through
    the registry's state-update hook, so tensors and symbols take the same formulas."""
    channels = mean.shape[1]
    # While tracing, the update reads the statistic on every run of the graph, not its value now.
    read = (lambda tensor: tensor) if isinstance(mean, Tensor) else state_symbol
    if running_mean is not None:
        update_state(running_mean, (1 - momentum) * read(running_mean)
                     + momentum * ops.reshape(mean, (channels,)))
    if running_var is not None:
        unbiased = ops.reshape(var, (channels,)) * (count / (count - 1))
        update_state(running_var, (1 - momentum) * read(running_var) + momentum * unbiased)


# ----------------------------------------------------------------------------------------------
# Embedding.


def embedding(input, weight, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False):
    """Rows of ``weight`` picked by the integer ``input``; output shape input.shape + (dim,).

    The row at ``padding_idx`` gets no gradient. ``max_norm`` renormalises (in place) the rows
    looked up whose norm exceeds it, like PyTorch.

    Example:
        >>> import hybridgrad as hg
        >>> embedding(hg.tensor([[2, 0]]), hg.arange(6.0).reshape(3, 2)).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not "
                                  "supported")
    indices = input._array if isinstance(input, Tensor) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if len(weight.shape) != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"{tuple(weight.shape)}")
    num = weight.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= num):
        raise IndexError(f"embedding: index out of range [0, {num}) (got values in "
                         f"[{indices.min()}, {indices.max()}])")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings {num}")
        padding_idx = padding_idx % num
    if max_norm is not None:
        with no_grad():
            rows = np.unique(indices)
            norms = np.linalg.norm(weight._array[rows].astype(np.float64), ord=norm_type, axis=1)
            scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight._array[rows] = (weight._array[rows] * scale[:, None]).astype(weight.dtype)
    picked = ops.getitem(weight, indices.astype(np.int64, copy=False))
    if padding_idx is not None and getattr(weight, "requires_grad", False):
        keep = Tensor._wrap((indices != padding_idx)[..., None])
        picked = ops.where(keep, picked, picked.detach())
    return picked



# ----------------------------------------------------------------------------------------------
# The rest of ``hg.nn.functional`` lives beside the modules that use it; re-exported here so
# that ``import hybridgrad.nn.functional as F`` offers PyTorch's whole functional namespace.

from hybridgrad.labels import one_hot  # noqa: E402
from hybridgrad.nn.activation import (  # noqa: E402
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from hybridgrad.nn.attention import scaled_dot_product_attention  # noqa: E402
from hybridgrad.nn.ctc import ctc_loss  # noqa: E402
from hybridgrad.nn.dropout import dropout  # noqa: E402
from hybridgrad.nn.layernorm import layer_norm  # noqa: E402
from hybridgrad.nn.losses import (  # noqa: E402
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from hybridgrad.ops.api import pad  # noqa: E402

__all__ += [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "ctc_loss",
    "dropout", "elu", "gelu", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu",
    "log_softmax", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "scaled_dot_product_attention",
    "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
]

# PyTorch's other functionals, defined beside their layers.
from hybridgrad.nn.activation import (  # noqa: E402
    celu,
    celu_,
    elu_,
    glu,
    gumbel_softmax,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu_,
    logsigmoid,
    mish,
    prelu,
    relu6,
    relu_,
    rrelu,
    rrelu_,
    selu,
    selu_,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
    threshold_,
)
from hybridgrad.nn.distance import cosine_similarity, pairwise_distance  # noqa: E402
from hybridgrad.nn.dropout import dropout1d, dropout2d, dropout3d  # noqa: E402
from hybridgrad.nn.losses_more import (  # noqa: E402
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from hybridgrad.nn.normalization import (  # noqa: E402
    group_norm,
    instance_norm,
    local_response_norm,
    normalize,
    rms_norm,
)
from hybridgrad.nn.pooling import adaptive_max_pool1d, adaptive_max_pool2d  # noqa: E402
from hybridgrad.nn.resampling import (  # noqa: E402
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
)

__all__ += [
    "celu", "cosine_similarity", "dropout1d", "dropout2d", "dropout3d", "glu", "group_norm",
    "hardsigmoid", "hardswish", "hardtanh", "instance_norm", "interpolate", "logsigmoid", "mish",
    "normalize", "pairwise_distance", "pixel_shuffle", "pixel_unshuffle", "prelu", "relu6",
    "selu", "softmin", "softsign", "tanhshrink", "threshold", "upsample",
    "celu_", "cosine_embedding_loss", "elu_", "gaussian_nll_loss", "gumbel_softmax",
    "hardshrink", "hardtanh_", "hinge_embedding_loss", "leaky_relu_", "local_response_norm",
    "margin_ranking_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "relu_",
    "rms_norm", "rrelu", "rrelu_", "selu_", "soft_margin_loss", "softshrink", "threshold_",
    "triplet_margin_loss", "adaptive_max_pool1d", "adaptive_max_pool2d",
]
