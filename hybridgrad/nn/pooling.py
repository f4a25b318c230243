"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d (PyTorch's API).

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.MaxPool2d(2)(hg.zeros(1, 3, 8, 8)).shape
    (1, 3, 4, 4)
"""

# ruff: noqa: A002 - "input" is PyTorch's argument name
from __future__ import annotations

from hybridgrad.nn import functional as F
from hybridgrad.nn.module import Module


class MaxPool2d(Module):
    """Maximum over kernel_size windows; stride defaults to kernel_size.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.MaxPool2d(3, stride=2, padding=1)(hg.zeros(1, 1, 7, 7)).shape
        (1, 1, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """Maximum over windows of (N, C, L).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.MaxPool1d(2)(hg.zeros(1, 3, 8)).shape
        (1, 3, 4)
    """

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """Average over windows; count_include_pad decides whether padding counts in the divisor.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.AvgPool2d(2)(hg.ones(1, 1, 4, 4)).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """Average over windows of (N, C, L).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.AvgPool1d(2)(hg.ones(1, 1, 4)).tolist()
        [[[1.0, 1.0]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (int, or (H, W) with None meaning "keep").

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.AdaptiveAvgPool2d((1, None))(hg.zeros(2, 3, 5, 7)).shape
        (2, 3, 1, 7)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(Module):
    """Average pooling of (N, C, L) to a fixed length.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.AdaptiveAvgPool1d(1)(hg.ones(2, 3, 5)).shape
        (2, 3, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


def _adaptive_bounds(size: int, out: int) -> list:
    """PyTorch's adaptive windows: [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """Max pooling of (N, C, H, W) (or (C, H, W)) to a fixed output size, with PyTorch's window
    bounds; ``return_indices`` also gives each maximum's flat position in its H x W plane.

    Example:
        >>> import hybridgrad as hg
        >>> adaptive_max_pool2d(hg.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    import numpy as np

    from hybridgrad.ops import api as ops

    height, width = input.shape[-2], input.shape[-1]
    out_h, out_w = ((output_size, output_size) if isinstance(output_size, int)
                    else tuple(output_size))
    out_h, out_w = out_h or height, out_w or width
    rows = []
    for top, bottom in _adaptive_bounds(height, out_h):
        cells = [ops.amax(input[..., top:bottom, left:right], (-2, -1), keepdim=True)
                 for left, right in _adaptive_bounds(width, out_w)]
        rows.append(ops.cat(cells, -1))
    pooled = ops.cat(rows, -2)
    if not return_indices:
        return pooled
    array = input._array
    indices = np.empty(array.shape[:-2] + (out_h, out_w), dtype=np.int64)
    for i, (top, bottom) in enumerate(_adaptive_bounds(height, out_h)):
        for j, (left, right) in enumerate(_adaptive_bounds(width, out_w)):
            window = array[..., top:bottom, left:right].reshape(array.shape[:-2] + (-1,))
            best = window.argmax(-1)
            indices[..., i, j] = (top + best // (right - left)) * width + left + best % (
                right - left)
    from hybridgrad.tensor import Tensor

    return pooled, Tensor._wrap(indices)


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) to a fixed length.

    Example:
        >>> import hybridgrad as hg
        >>> adaptive_max_pool1d(hg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    from hybridgrad.ops import api as ops

    result = adaptive_max_pool2d(ops.unsqueeze(input, -2), (1, output_size), return_indices)
    if return_indices:
        return ops.squeeze(result[0], -2), ops.squeeze(result[1], -2)
    return ops.squeeze(result, -2)


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size (see :func:`adaptive_max_pool2d`).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.AdaptiveMaxPool2d((1, 1))(hg.arange(8.0).reshape(1, 2, 2, 2)).flatten().tolist()
        [3.0, 7.0]
    """

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, L) to a fixed length.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.AdaptiveMaxPool1d(1)(hg.tensor([[[1.0, 4.0, 2.0]]])).tolist()
        [[[4.0]]]
    """

    def forward(self, input):
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)
