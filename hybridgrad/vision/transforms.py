"""``torchvision.transforms``: hybridgrad's own (``Compose``, ``ToTensor``, ``Normalize``,
``Lambda``, ``RandomAffine``) plus the PIL-image ones torchvision programs use (``Resize``,
``CenterCrop``, ``RandomCrop``, ``RandomHorizontalFlip``, ``RandomVerticalFlip``,
``Grayscale``, ``Pad``, ``ToPILImage``). Images are PIL images (as datasets return them) or
``C x H x W`` tensors; random choices draw from ``hg.default_generator()``, so
``hg.manual_seed`` makes them repeatable.

Example:
    >>> import numpy as np
    >>> from PIL import Image
    >>> image = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4))
    >>> Compose([CenterCrop(2), ToTensor()])(image).shape
    (1, 2, 2)
    >>> Resize((8, 6))(image).size   # PIL sizes are (width, height)
    (6, 8)
"""

from __future__ import annotations

import numbers

import numpy as np

from hybridgrad.data.transforms import Compose, Lambda, Normalize, RandomAffine, ToTensor
from hybridgrad.tensor import Tensor, default_generator

__all__ = ["CenterCrop", "Compose", "Grayscale", "Lambda", "Normalize", "Pad", "RandomAffine",
           "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "ToPILImage",
           "ToTensor"]


def _pair(size, name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) != 2:
        raise ValueError(f"{name}: size must be an int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def _pil(image):
    """A PIL image from a PIL image, an H x W (x C) array or a C x H x W tensor."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image, None
    array = image._array if isinstance(image, Tensor) else np.asarray(image)
    if isinstance(image, Tensor):  # C x H x W: one float PIL image per channel
        return [Image.fromarray(np.asarray(channel, dtype=np.float32), mode="F")
                for channel in array.reshape(-1, *array.shape[-2:])], array.shape
    return Image.fromarray(array), None


def _back(result, shape):
    if shape is None:
        return result
    stacked = np.stack([np.asarray(channel, dtype=np.float32) for channel in result])
    return Tensor._wrap(stacked.reshape(*shape[:-2], *stacked.shape[-2:]))


def _each(image, function):
    pil, shape = _pil(image)
    return _back([function(p) for p in pil] if shape is not None else function(pil), shape)


class Resize:
    """Resize to ``size`` (an int: the shorter side, keeping the aspect ratio; or
    ``(height, width)``), bilinear by default as in torchvision.

    Example:
        >>> import hybridgrad as hg
        >>> Resize(4)(hg.ones(1, 2, 2)).shape
        (1, 4, 4)
    """

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        self.size = size
        self.interpolation = interpolation

    def _target(self, width: int, height: int) -> tuple[int, int]:
        if isinstance(self.size, numbers.Number) or len(self.size) == 1:
            short = int(self.size if isinstance(self.size, numbers.Number) else self.size[0])
            if width <= height:
                return short, int(short * height / width)
            return int(short * width / height), short
        height_out, width_out = _pair(self.size, "Resize")
        return width_out, height_out

    def __call__(self, image):
        from PIL import Image

        methods = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR,
                   "bicubic": Image.BICUBIC}
        method = methods.get(str(getattr(self.interpolation, "value", self.interpolation))
                             .lower(), Image.BILINEAR)
        return _each(image, lambda pil: pil.resize(self._target(*pil.size), method))

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


class CenterCrop:
    """The central ``size`` crop.

    Example:
        >>> import hybridgrad as hg
        >>> CenterCrop(2)(hg.arange(16.0).reshape(1, 4, 4)).tolist()
        [[[5.0, 6.0], [9.0, 10.0]]]
    """

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, image):
        height, width = self.size

        def crop(pil):
            top = int(round((pil.size[1] - height) / 2.0))
            left = int(round((pil.size[0] - width) / 2.0))
            return pil.crop((left, top, left + width, top + height))
        return _each(image, crop)


class Pad:
    """Pad every side by ``padding`` pixels of value ``fill``.

    Example:
        >>> import hybridgrad as hg
        >>> Pad(1)(hg.ones(1, 2, 2)).shape
        (1, 4, 4)
    """

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = padding
        self.fill = fill

    def _sides(self) -> tuple[int, int, int, int]:
        padding = self.padding
        if isinstance(padding, numbers.Number):
            return (int(padding),) * 4
        if len(padding) == 2:
            return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
        return tuple(int(p) for p in padding)

    def __call__(self, image):
        from PIL import Image

        left, top, right, bottom = self._sides()

        def pad(pil):
            out = Image.new(pil.mode, (pil.size[0] + left + right, pil.size[1] + top + bottom),
                            self.fill)
            out.paste(pil, (left, top))
            return out
        return _each(image, pad)


class RandomCrop:
    """A random ``size`` crop, after optional ``padding``.

    Example:
        >>> import hybridgrad as hg
        >>> RandomCrop(3, padding=1)(hg.ones(1, 4, 4)).shape
        (1, 3, 3)
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _pair(size, "RandomCrop")
        self.padding = padding
        self.fill = fill

    def __call__(self, image):
        if self.padding is not None:
            image = Pad(self.padding, self.fill)(image)
        height, width = self.size
        pil, shape = _pil(image)
        first = pil[0] if shape is not None else pil
        if first.size[1] < height or first.size[0] < width:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the image "
                             f"(height {first.size[1]}, width {first.size[0]})")
        rng = default_generator()
        top = int(rng.integers(0, first.size[1] - height + 1))
        left = int(rng.integers(0, first.size[0] - width + 1))
        return _each(image, lambda p: p.crop((left, top, left + width, top + height)))


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``.

    Example:
        >>> import hybridgrad as hg
        >>> RandomHorizontalFlip(p=1.0)(hg.tensor([[[1.0, 2.0]]])).tolist()
        [[[2.0, 1.0]]]
    """

    flip = "FLIP_LEFT_RIGHT"

    def __init__(self, p: float = 0.5):
        self.p = float(p)

    def __call__(self, image):
        from PIL import Image

        if default_generator().random() >= self.p:
            return image
        method = getattr(Image, self.flip)
        return _each(image, lambda pil: pil.transpose(method))


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``.

    Example:
        >>> import hybridgrad as hg
        >>> RandomVerticalFlip(p=1.0)(hg.tensor([[[1.0], [2.0]]])).tolist()
        [[[2.0], [1.0]]]
    """

    flip = "FLIP_TOP_BOTTOM"


class Grayscale:
    """To grey levels (ITU-R 601-2 luma, PIL's ``convert("L")``), 1 or 3 channels.

    Example:
        >>> import numpy as np
        >>> from PIL import Image
        >>> Grayscale()(Image.fromarray(np.zeros((2, 2, 3), np.uint8))).mode
        'L'
    """

    def __init__(self, num_output_channels: int = 1):
        self.num_output_channels = int(num_output_channels)

    def __call__(self, image):
        pil, shape = _pil(image)
        if shape is not None:
            raise TypeError("Grayscale: expected a PIL image")
        grey = pil.convert("L")
        return grey if self.num_output_channels == 1 else grey.convert("RGB")


class ToPILImage:
    """A ``C x H x W`` tensor in [0, 1] (or an H x W x C uint8 array) -> a PIL image.

    Example:
        >>> import hybridgrad as hg
        >>> ToPILImage()(hg.ones(1, 2, 3)).size
        (3, 2)
    """

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, picture):
        from PIL import Image

        array = picture._array if isinstance(picture, Tensor) else np.asarray(picture)
        if isinstance(picture, Tensor):
            if array.dtype.kind == "f":
                array = np.clip(array * 255.0, 0, 255).astype(np.uint8)
            array = array.transpose(1, 2, 0) if array.ndim == 3 else array
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        return Image.fromarray(array, mode=self.mode)
