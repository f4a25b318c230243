"""Resampling and padding layers: ``api.interpolate``/``nn.Upsample`` (nearest, linear,
bilinear), ``nn.PixelShuffle``/``PixelUnshuffle``, and the padding modules (``ZeroPad2d``,
``ConstantPad*``, ``ReflectionPad*``, ``ReplicationPad*``).

Everything is indexing (``getitem`` with index arrays), reshapes and weighted sums, so the
gradients are PyTorch's (nearest neighbours accumulate, linear weights distribute).

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.Upsample(scale_factor=2)(hg.tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

import math

import numpy as np

from hybridgrad.nn.module import Module
from hybridgrad.ops import api

__all__ = [
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "PixelShuffle",
    "PixelUnshuffle", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d",
    "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d",
    "interpolate", "pixel_shuffle", "pixel_unshuffle", "upsample",
]


def _take(input, axis: int, positions: np.ndarray):
    index = [slice(None)] * len(input.shape)
    index[axis] = positions
    return api.getitem(input, tuple(index))


def _sizes(input, size, scale_factor, spatial: int) -> tuple[list, list]:
    in_sizes = list(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out_sizes = [int(size)] * spatial if isinstance(size, int) else [int(s) for s in size]
        scales = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        factors = ([float(scale_factor)] * spatial if isinstance(scale_factor, (int, float))
                   else [float(f) for f in scale_factor])
        out_sizes = [int(math.floor(i * f)) for i, f in zip(in_sizes, factors)]
        scales = [1.0 / f for f in factors]
    if len(out_sizes) != spatial:
        raise ValueError(f"interpolate: expected {spatial} output sizes for input shape "
                         f"{list(input.shape)}, got {out_sizes}")
    return out_sizes, scales


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor=None,
                antialias: bool = False):
    """Resize the spatial dimensions of (N, C, ...) inputs, as PyTorch's ``api.interpolate``
    (modes ``nearest``, ``nearest-exact``, ``linear``, ``bilinear``, ``trilinear``).

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        >>> interpolate(x, scale_factor=2, mode="bilinear")[0, 0, 0].tolist()
        [1.0, 1.25, 1.75, 2.0]
    """
    spatial = len(input.shape) - 2
    if spatial < 1:
        raise ValueError(f"interpolate: expected a (N, C, ...) input, got shape "
                         f"{list(input.shape)}")
    out_sizes, scales = _sizes(input, size, scale_factor, spatial)
    if recompute_scale_factor and scale_factor is not None:
        scales = [i / o for i, o in zip(input.shape[2:], out_sizes)]
    if mode in ("nearest", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
        for position, (in_size, out_size, scale) in enumerate(zip(input.shape[2:], out_sizes,
                                                                  scales)):
            targets = np.arange(out_size, dtype=np.float64)
            if mode == "nearest":
                sources = np.floor(targets * scale)
            else:
                sources = np.floor((targets + 0.5) * scale)
            sources = np.minimum(sources.astype(np.int64), in_size - 1)
            input = _take(input, 2 + position, sources)
        return input
    if mode not in ("linear", "bilinear", "trilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported")
    expected = {"linear": 1, "bilinear": 2, "trilinear": 3}[mode]
    if spatial != expected:
        raise ValueError(f"interpolate: mode {mode!r} expects {expected} spatial dimensions, "
                         f"got input shape {list(input.shape)}")
    for position, (in_size, out_size, scale) in enumerate(zip(input.shape[2:], out_sizes,
                                                              scales)):
        targets = np.arange(out_size, dtype=np.float64)
        if align_corners:
            sources = targets * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
        else:
            sources = np.maximum((targets + 0.5) * scale - 0.5, 0.0)
        low = np.minimum(np.floor(sources).astype(np.int64), in_size - 1)
        high = np.minimum(low + 1, in_size - 1)
        weight_shape = [1] * len(input.shape)
        weight_shape[2 + position] = out_size
        weight = (sources - low).astype(input.dtype).reshape(weight_shape)
        input = _take(input, 2 + position, low) * (1 - weight) + _take(
            input, 2 + position, high) * weight
    return input


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """PyTorch's deprecated ``nn.functional.upsample`` (= :func:`interpolate`).

    Example:
        >>> import hybridgrad as hg
        >>> upsample(hg.ones(1, 1, 1, 1), scale_factor=2).shape
        (1, 1, 2, 2)
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def pixel_shuffle(input, upscale_factor: int):
    """(N, C*r*r, H, W) -> (N, C, H*r, W*r), as sub-pixel convolution layers use.

    Example:
        >>> import hybridgrad as hg
        >>> pixel_shuffle(hg.arange(4.0).reshape(1, 4, 1, 1), 2)[0, 0].tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    r = int(upscale_factor)
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)="
                           f"{channels} is not divisible by {r * r}")
    out_channels = channels // (r * r)
    lead = len(batch)
    x = api.reshape(input, tuple(batch) + (out_channels, r, r, height, width))
    order = list(range(lead)) + [lead, lead + 3, lead + 1, lead + 4, lead + 2]
    x = api.permute(x, tuple(order))
    return api.reshape(x, tuple(batch) + (out_channels, height * r, width * r))


def pixel_unshuffle(input, downscale_factor: int):
    """The inverse of :func:`pixel_shuffle`: (N, C, H*r, W*r) -> (N, C*r*r, H, W).

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.arange(16.0).reshape(1, 1, 4, 4)
        >>> bool((pixel_shuffle(pixel_unshuffle(x, 2), 2) == x).all())
        True
    """
    r = int(downscale_factor)
    *batch, channels, height, width = input.shape
    if height % r or width % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width ({height}, {width}) "
                           f"divisible by downscale_factor {r}")
    lead = len(batch)
    x = api.reshape(input, tuple(batch) + (channels, height // r, r, width // r, r))
    order = list(range(lead)) + [lead, lead + 2, lead + 4, lead + 1, lead + 3]
    x = api.permute(x, tuple(order))
    return api.reshape(x, tuple(batch) + (channels * r * r, height // r, width // r))


class Upsample(Module):
    """Resize with :func:`interpolate` (``size`` or ``scale_factor``, ``mode``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Upsample(size=(2, 4))(hg.ones(1, 1, 1, 2)).shape
        (1, 1, 2, 4)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        setting = (f"scale_factor={float(self.scale_factor)}" if self.scale_factor is not None
                   and not isinstance(self.scale_factor, tuple) else f"size={self.size}")
        return f"{setting}, mode='{self.mode}'"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-D upsampling.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.UpsamplingNearest2d(scale_factor=2)(hg.ones(1, 1, 1, 1)).shape
        (1, 1, 2, 2)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-D upsampling with ``align_corners=True`` (as PyTorch's).

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.UpsamplingBilinear2d(scale_factor=2)
        >>> layer(hg.tensor([[[[0.0, 3.0]]]]))[0, 0, 0].tolist()
        [0.0, 1.0, 2.0, 3.0]
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", align_corners=True)


class PixelShuffle(Module):
    """Applies :func:`pixel_shuffle`.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.PixelShuffle(2)(hg.ones(1, 8, 3, 3)).shape
        (1, 2, 6, 6)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Applies :func:`pixel_unshuffle`.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.PixelUnshuffle(2)(hg.ones(1, 2, 6, 6)).shape
        (1, 8, 3, 3)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class _Pad(Module):
    _mode = "constant"
    _dims = 2

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        self.padding = ((int(padding),) * (2 * self._dims) if isinstance(padding, int)
                        else tuple(int(p) for p in padding))
        self.value = value

    def forward(self, input):
        return api.pad(input, self.padding, self._mode, self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self._mode == "constant" else "")


def _pad_class(name: str, mode: str, dims: int, example: str, constant_value: bool) -> type:
    if constant_value:
        def __init__(self, padding, value: float = 0.0):  # noqa: N807
            _Pad.__init__(self, padding, value)
    else:
        def __init__(self, padding):  # noqa: N807
            _Pad.__init__(self, padding)

    doc = (f"Pads the last {dims} dimension(s) ({mode}; ``padding`` an int or PyTorch's "
           f"(left, right{', top, bottom' if dims == 2 else ''}) tuple).\n\n    Example:\n"
           f"{example}")
    return type(name, (_Pad,), {"__init__": __init__, "_mode": mode, "_dims": dims,
                                "__doc__": doc, "__module__": __name__})


ZeroPad2d = _pad_class("ZeroPad2d", "constant", 2, """        >>> import hybridgrad as hg
        >>> hg.nn.ZeroPad2d(1)(hg.ones(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """, False)
ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1, """        >>> import hybridgrad as hg
        >>> hg.nn.ConstantPad1d((1, 0), 5.0)(hg.zeros(1, 1, 1)).tolist()
        [[[5.0, 0.0]]]
    """, True)
ConstantPad2d = _pad_class("ConstantPad2d", "constant", 2, """        >>> import hybridgrad as hg
        >>> hg.nn.ConstantPad2d(1, 2.0)(hg.zeros(1, 1, 1, 1)).sum().item()
        16.0
    """, True)
ZeroPad1d = _pad_class("ZeroPad1d", "constant", 1, """        >>> import hybridgrad as hg
        >>> hg.nn.ZeroPad1d(1)(hg.ones(1, 1, 1)).tolist()
        [[[0.0, 1.0, 0.0]]]
    """, False)
CircularPad1d = _pad_class("CircularPad1d", "circular", 1, """        >>> import hybridgrad as hg
        >>> hg.nn.CircularPad1d(1)(hg.tensor([[[1.0, 2.0]]])).tolist()
        [[[2.0, 1.0, 2.0, 1.0]]]
    """, False)
CircularPad2d = _pad_class("CircularPad2d", "circular", 2, """
        >>> import hybridgrad as hg
        >>> hg.nn.CircularPad2d(1)(hg.ones(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """, False)
ReflectionPad1d = _pad_class("ReflectionPad1d", "reflect", 1, """        >>> import hybridgrad as hg
        >>> hg.nn.ReflectionPad1d(2)(hg.tensor([[[1.0, 2.0, 3.0]]])).tolist()
        [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    """, False)
ReflectionPad2d = _pad_class("ReflectionPad2d", "reflect", 2, """
        >>> import hybridgrad as hg
        >>> hg.nn.ReflectionPad2d(1)(hg.ones(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """, False)
ReplicationPad1d = _pad_class("ReplicationPad1d", "replicate", 1, """
        >>> import hybridgrad as hg
        >>> hg.nn.ReplicationPad1d((2, 1))(hg.tensor([[[1.0, 2.0]]])).tolist()
        [[[1.0, 1.0, 1.0, 2.0, 2.0]]]
    """, False)
ReplicationPad2d = _pad_class("ReplicationPad2d", "replicate", 2, """
        >>> import hybridgrad as hg
        >>> hg.nn.ReplicationPad2d(1)(hg.ones(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """, False)
