"""Image transforms with torchvision's names: Compose, ToTensor, Normalize, NormalizeToRange,
RandomAffine, Lambda.

Images before ``ToTensor`` are NumPy arrays ``H x W`` or ``H x W x C`` (or PIL images); after it
they are float32 hybridgrad tensors ``C x H x W`` with values in ``[0, 1]``. The notes' two
preprocessing recipes:

* zero mean, unit variance: ``Normalize(mean, std)`` with the dataset's per-channel statistics
  (MNIST: ``Normalize((0.1307,), (0.3081,))``);
* squash to ``[-1, 1]`` (for tanh generators, GANs): ``NormalizeToRange(-1, 1)``, which is exactly
  ``Normalize(0.5, 0.5)`` applied to ``[0, 1]`` input: ``(x - 0.5) / 0.5``.

Example:
    >>> import numpy as np
    >>> image = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    >>> to_range = Compose([ToTensor(), NormalizeToRange(-1, 1)])
    >>> to_range(image).tolist()
    [[[-1.0, 1.0], [-0.6000000238418579, -0.19999998807907104]]]
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Sequence

import numpy as np

from hybridgrad.data.dataset import as_numpy_generator
from hybridgrad.tensor import Tensor


class Compose:
    """Apply transforms one after another.

    Example:
        >>> Compose([lambda x: x + 1, lambda x: x * 10])(1)
        20
    """

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self) -> str:
        body = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose({body}\n)"


class Lambda:
    """Wrap a function as a transform.

    Example:
        >>> Lambda(lambda x: x * 2)(21)
        42
    """

    def __init__(self, function: Callable):
        if not callable(function):
            raise TypeError(f"Lambda: argument should be callable, got {type(function).__name__}")
        self.function = function

    def __call__(self, image):
        return self.function(image)

    def __repr__(self) -> str:
        return "Lambda()"


def _as_array(image) -> np.ndarray:
    if isinstance(image, Tensor):
        return image._array
    if isinstance(image, np.ndarray):
        return image
    if hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
        return np.asarray(image)
    raise TypeError(f"expected a NumPy array, tensor or PIL image, got {type(image).__name__}")


class ToTensor:
    """``H x W`` or ``H x W x C`` image (uint8 array or PIL image) -> float32 ``C x H x W``.

    uint8 values are divided by 255 (so they land in ``[0, 1]``), bools become 0/1, floating
    images keep their values (cast to float32), as in torchvision.

    Example:
        >>> import numpy as np
        >>> t = ToTensor()(np.full((28, 28), 255, dtype=np.uint8))
        >>> t.shape, t.dtype, t._array.max()
        ((1, 28, 28), dtype('float32'), np.float32(1.0))
    """

    def __call__(self, image) -> Tensor:
        array = _as_array(image)
        if array.ndim == 2:
            array = array[None, :, :]
        elif array.ndim == 3:
            array = array.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an H x W or H x W x C image, got shape "
                             f"{tuple(array.shape)}")
        if array.dtype == np.uint8:
            out = array.astype(np.float32) / np.float32(255)
        elif array.dtype.kind in "biuf":
            out = array.astype(np.float32)
        else:
            raise TypeError(f"ToTensor: unsupported image dtype {array.dtype}")
        return Tensor._wrap(np.ascontiguousarray(out))

    def __repr__(self) -> str:
        return "ToTensor()"


def _per_channel(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"Normalize: {name} is empty")
    return array


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a ``(..., C, H, W)`` tensor.

    ``mean`` and ``std`` are a number (every channel) or one value per channel.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([[[0.0, 1.0]], [[0.5, 0.5]]])  # 2 channels, 1 x 2
        >>> Normalize(mean=(0.5, 0.0), std=(0.5, 0.25))(x).tolist()
        [[[-1.0, 1.0]], [[2.0, 2.0]]]
    """

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = _per_channel(mean, "mean")
        self.std = _per_channel(std, "std")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero after conversion to float, "
                             f"leading to division by zero (std={self.std.tolist()})")
        self.inplace = inplace

    def __call__(self, tensor) -> Tensor:
        array = _as_array(tensor)
        if array.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor of shape (..., C, H, W), got "
                             f"{tuple(array.shape)}")
        channels = array.shape[-3]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values.size not in (1, channels):
                raise ValueError(f"Normalize: {name} has {values.size} values but the tensor "
                                 f"has {channels} channels (shape {tuple(array.shape)})")
        dtype = array.dtype if array.dtype.kind == "f" else np.float32
        mean = self.mean.astype(dtype).reshape(-1, 1, 1)
        std = self.std.astype(dtype).reshape(-1, 1, 1)
        if self.inplace and array.dtype.kind == "f":
            array -= mean
            array /= std
            return tensor if isinstance(tensor, Tensor) else Tensor._wrap(array)
        return Tensor._wrap(((array.astype(dtype, copy=False) - mean) / std).astype(dtype))

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class NormalizeToRange(Normalize):
    """Map ``[0, 1]`` input (what :class:`ToTensor` gives) linearly onto ``[low, high]``.

    ``NormalizeToRange(-1, 1)`` is ``Normalize(0.5, 0.5)``: the notes' "squash pixels to -1..1"
    that keeps tanh/sigmoid inputs out of their flat, saturated regions.

    Example:
        >>> import hybridgrad as hg
        >>> NormalizeToRange(-1, 1)(hg.tensor([[[0.0, 0.5, 1.0]]])).tolist()
        [[[-1.0, 0.0, 1.0]]]
    """

    def __init__(self, low: float = -1.0, high: float = 1.0):
        if not high > low:
            raise ValueError(f"NormalizeToRange: need low < high, got low={low}, high={high}")
        scale = high - low
        super().__init__(mean=-low / scale, std=1.0 / scale)
        self.low, self.high = float(low), float(high)

    def __repr__(self) -> str:
        return f"NormalizeToRange(low={self.low}, high={self.high})"


def _range(value, name: str, center: float = 0.0) -> tuple:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"RandomAffine: if {name} is a single number, it must be "
                             f"non-negative, got {value}")
        return (center - float(value), center + float(value))
    value = tuple(float(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"RandomAffine: {name} should be a number or a pair, got {value}")
    return value


class RandomAffine:
    """Random rotation, translation and scaling, implemented with NumPy.

    ``degrees``: a number d (angle drawn from ``[-d, d]``) or ``(min, max)``; positive angles
    turn the picture counter-clockwise, as in torchvision. ``translate=(a, b)``: horizontal shift
    drawn from ``[-a * W, a * W]`` and vertical from ``[-b * H, b * H]``, rounded to whole pixels.
    ``scale=(lo, hi)``: zoom factor. ``interpolation``: ``"nearest"`` or ``"bilinear"``. Pixels
    that come from outside the image get ``fill``. ``generator``: NumPy Generator or int seed
    (default ``hg.default_generator()``); the same seed gives the same sequence of transforms.

    Inputs: a NumPy ``H x W`` / ``H x W x C`` image (or PIL image, returned as an array), or a
    tensor ``(..., H, W)`` (every leading channel moved the same way).

    Example:
        >>> import numpy as np
        >>> image = np.zeros((5, 5), dtype=np.uint8); image[2, 2] = 255
        >>> shifted = RandomAffine(degrees=0, translate=(0.2, 0.2), generator=0)(image)
        >>> int(shifted.sum()) == 255, shifted.dtype
        (True, dtype('uint8'))
    """

    def __init__(self, degrees, translate=None, scale=None, interpolation: str = "nearest",
                 fill: float = 0, center=None, generator=None):
        self.degrees = _range(degrees, "degrees")
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translate should be a pair of fractions in "
                                 f"[0, 1], got {translate}")
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or not all(s > 0 for s in scale):
                raise ValueError(f"RandomAffine: scale should be a pair of positive numbers, "
                                 f"got {scale}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomAffine: interpolation must be 'nearest' or 'bilinear', "
                             f"got {interpolation!r}")
        self.translate, self.scale = translate, scale
        self.interpolation, self.fill, self.center = interpolation, fill, center
        self.generator = as_numpy_generator(generator, "RandomAffine")

    def get_params(self, height: int, width: int) -> tuple:
        """Draw ``(angle, (dx, dy), scale)`` for an image of that size."""
        rng = self.generator
        angle = float(rng.uniform(*self.degrees))
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            dx = int(round(float(rng.uniform(-max_dx, max_dx))))
            dy = int(round(float(rng.uniform(-max_dy, max_dy))))
        else:
            dx = dy = 0
        zoom = float(rng.uniform(*self.scale)) if self.scale is not None else 1.0
        return angle, (dx, dy), zoom

    def __call__(self, image):
        is_tensor = isinstance(image, Tensor)
        array = _as_array(image)
        if is_tensor:
            if array.ndim < 2:
                raise ValueError(f"RandomAffine: expected a tensor (..., H, W), got shape "
                                 f"{tuple(array.shape)}")
            height, width = array.shape[-2:]
        else:
            if array.ndim not in (2, 3):
                raise ValueError(f"RandomAffine: expected an H x W or H x W x C image, got "
                                 f"shape {tuple(array.shape)}")
            height, width = array.shape[:2]
        angle, translation, zoom = self.get_params(height, width)
        out = affine(array, angle, translation, zoom, self.interpolation, self.fill,
                     self.center, channels_last=not is_tensor)
        return Tensor._wrap(out) if is_tensor else out

    def __repr__(self) -> str:
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, "
                f"scale={self.scale}, interpolation={self.interpolation!r})")


def affine(array: np.ndarray, angle: float, translate=(0, 0), scale: float = 1.0,
           interpolation: str = "nearest", fill: float = 0, center=None,
           channels_last: bool = True) -> np.ndarray:
    """Rotate by ``angle`` degrees (counter-clockwise) about the centre, zoom, then shift.

    Each output pixel is looked up at its inverse-mapped source position (nearest or bilinear);
    sources outside the image give ``fill``. Spatial dims are the first two with
    ``channels_last`` (``H x W [x C]``), else the last two (``(..., H, W)``).

    Example:
        >>> import numpy as np
        >>> image = np.arange(9).reshape(3, 3)
        >>> bool((affine(image, 90) == np.rot90(image)).all())
        True
    """
    if channels_last:
        moved = array if array.ndim == 2 else np.moveaxis(array, 2, 0)
    else:
        moved = array
    height, width = moved.shape[-2:]
    cx, cy = ((width - 1) / 2.0, (height - 1) / 2.0) if center is None else center
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    # Forward map in display coordinates (y down), counter-clockwise on screen:
    # p_out = c + t + s * R(theta) (p_in - c) with R = [[cos, sin], [-sin, cos]].
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    u = xs - cx - translate[0]
    v = ys - cy - translate[1]
    src_x = (cos * u - sin * v) / scale + cx
    src_y = (sin * u + cos * v) / scale + cy
    if interpolation == "nearest":
        ix, iy = np.rint(src_x).astype(np.int64), np.rint(src_y).astype(np.int64)
        inside = (ix >= 0) & (ix < width) & (iy >= 0) & (iy < height)
        values = moved[..., np.clip(iy, 0, height - 1), np.clip(ix, 0, width - 1)]
        out = np.where(inside, values, np.asarray(fill, dtype=moved.dtype))
    else:
        x0, y0 = np.floor(src_x).astype(np.int64), np.floor(src_y).astype(np.int64)
        fx, fy = src_x - x0, src_y - y0
        source = moved.astype(np.float64)
        out = np.zeros(moved.shape, dtype=np.float64)
        for ox, oy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                               (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            px, py = x0 + ox, y0 + oy
            inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
            values = source[..., np.clip(py, 0, height - 1), np.clip(px, 0, width - 1)]
            out += weight * np.where(inside, values, float(fill))
        if moved.dtype.kind in "iub":
            info = np.iinfo(moved.dtype) if moved.dtype.kind != "b" else None
            out = np.rint(out)
            if info is not None:
                out = np.clip(out, info.min, info.max)
        out = out.astype(moved.dtype)
    if channels_last and array.ndim == 3:
        out = np.moveaxis(out, 0, 2)
    return np.ascontiguousarray(out)
