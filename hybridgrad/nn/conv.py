"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d (PyTorch's API).

Weights have PyTorch's shapes (Conv: (out, in/groups, *k); ConvTranspose: (in, out/groups, *k))
and PyTorch's default initialisation, so state_dicts move between the frameworks.

Example:
    >>> import hybridgrad as hg
    >>> conv = hg.nn.Conv2d(3, 8, 3, padding=1)
    >>> conv(hg.zeros(2, 3, 5, 5)).shape, conv.weight.shape
    ((2, 8, 5, 5), (8, 3, 3, 3))
"""

# ruff: noqa: A002 - "input" is PyTorch's argument name
from __future__ import annotations

import math

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn import functional as F
from hybridgrad.nn import init
from hybridgrad.nn.module import Module, Parameter


class _ConvNd(Module):
    _dims = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, output_padding=0):
        super().__init__()
        check_device(device)
        name = type(self).__name__
        n = self._dims
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must be positive and divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode {padding_mode!r} is not supported "
                                      "(only 'zeros')")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._tuple(kernel_size, n, "kernel_size", name)
        self.stride = F._tuple(stride, n, "stride", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding {padding!r} must be 'same' or 'valid'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got {self.stride}")
            self.padding = padding
        else:
            self.padding = F._tuple(padding, n, "padding", name)
        self.dilation = F._tuple(dilation, n, "dilation", name)
        self.output_padding = F._tuple(output_padding, n, "output_padding", name)
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or np.float32)
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.zeros(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros((out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)); bias U(-1/sqrt(fan_in), ...)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) (or unbatched (C, L)).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Conv1d(2, 4, 3)(hg.zeros(1, 2, 10)).shape
        (1, 4, 8)
    """

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) (or unbatched (C, H, W)); im2col + one matmul.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Conv2d(1, 4, 3, stride=2)(hg.zeros(1, 1, 7, 7)).shape
        (1, 4, 3, 3)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: string padding is not supported")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)

    def _output_padding(self, input, output_size) -> tuple:
        """output_padding that yields ``output_size`` (PyTorch's forward(input, output_size))."""
        if output_size is None:
            return self.output_padding
        n = self._dims
        output_size = tuple(int(s) for s in output_size)[-n:]
        spatial = tuple(input.shape)[-n:]
        result = []
        for axis in range(n):
            smallest = ((spatial[axis] - 1) * self.stride[axis] - 2 * self.padding[axis]
                        + self.dilation[axis] * (self.kernel_size[axis] - 1) + 1)
            extra = output_size[axis] - smallest
            if not 0 <= extra < max(self.stride[axis], self.dilation[axis]):
                raise ValueError(f"{type(self).__name__}: requested output size {output_size} "
                                 f"is not reachable from input {tuple(input.shape)}")
            result.append(extra)
        return tuple(result)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the adjoint of Conv1d); weight (in, out/groups, k).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.ConvTranspose1d(2, 3, 4, stride=2)(hg.zeros(1, 2, 5)).shape
        (1, 3, 12)
    """

    _dims = 1

    def forward(self, input, output_size=None):
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (the adjoint of Conv2d); weight (in, out/groups, kH, kW).

    Example:
        >>> import hybridgrad as hg
        >>> up = hg.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
        >>> up(hg.zeros(1, 4, 5, 5)).shape
        (1, 2, 10, 10)
    """

    def forward(self, input, output_size=None):
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)


