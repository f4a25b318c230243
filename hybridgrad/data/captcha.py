"""Synthetic text-captcha images from the ``captcha`` package, reproducible per (seed, index).

``captcha.image.ImageCaptcha`` draws its randomness from module-level state (the ``secrets``
module in captcha >= 0.6, the global ``random`` module before), which cannot be seeded. While it
draws one item, :class:`CaptchaDataset` swaps that state for a ``random.Random`` seeded from
``(seed, index)`` (and restores it after, under a lock), so the same seed and index give the
same text and the same pixels in any process or thread, in any order of access.

Example:
    >>> dataset = CaptchaDataset(size=3, length=4, seed=0)
    >>> image, text = dataset[0]
    >>> image.shape, image.dtype, len(text)
    ((64, 160), dtype('uint8'), 4)
    >>> bool((dataset[0][0] == image).all()) and dataset[0][1] == text
    True
"""

from __future__ import annotations

import random
import threading
from typing import Callable, Sequence

import numpy as np

from hybridgrad.data.dataset import Dataset
from hybridgrad.data.encoding import DIGITS_UPPERCASE

_lock = threading.Lock()


class _SeededSecrets:
    """The subset of the ``secrets`` API that captcha uses, backed by a seeded Random."""

    def __init__(self, rng: random.Random):
        self._rng = rng

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)

    def choice(self, sequence):
        return self._rng.choice(sequence)


def _item_seed(seed: int, index: int, stream: int) -> int:
    state = np.random.SeedSequence([seed, index, stream]).generate_state(2, dtype=np.uint64)
    return int(state[0]) << 64 | int(state[1])


class CaptchaDataset(Dataset):
    """``size`` captcha images of random text, deterministic per ``(seed, index)``.

    Args:
        size: number of items.
        charset: characters to draw from (default digits + upper-case letters, 36).
        length: fixed text length, or ``(min, max)`` for lengths drawn uniformly (inclusive),
            for CTC-style variable-length recognition.
        height, width: image size (default 64 x 160).
        seed: the data set's seed.
        transform: applied to the grayscale ``height x width`` uint8 NumPy image
            (e.g. ``ToTensor()``).
        target_transform: applied to the text (e.g. a codec from
            :mod:`hybridgrad.data.encoding`: ``OneHotTextCodec(...)`` or ``CTCTextCodec(...)``).
        fonts, font_sizes: passed to ``ImageCaptcha`` (default: its bundled font).

    Example:
        >>> from hybridgrad.data.encoding import OneHotTextCodec
        >>> codec = OneHotTextCodec("0123456789", max_len=4)
        >>> ds = CaptchaDataset(size=2, charset="0123456789", length=4, target_transform=codec)
        >>> ds[1][1].shape
        (40,)
    """

    def __init__(self, size: int = 10000, charset: str = DIGITS_UPPERCASE,
                 length: int | Sequence[int] = 4, height: int = 64, width: int = 160,
                 seed: int = 0, transform: Callable | None = None,
                 target_transform: Callable | None = None, fonts: list | None = None,
                 font_sizes: tuple | None = None):
        try:
            from captcha.image import ImageCaptcha
        except ImportError as error:
            raise ImportError("CaptchaDataset needs the captcha package, an optional extra of "
                              "hybridgrad: pip install 'hybridgrad[captcha]'") from error
        if int(size) != size or size < 0:
            raise ValueError(f"CaptchaDataset: size must be a non-negative integer, got {size!r}")
        if not charset:
            raise ValueError("CaptchaDataset: charset is empty")
        if isinstance(length, (int, np.integer)):
            low = high = int(length)
        else:
            low, high = (int(v) for v in length)
        if not 1 <= low <= high:
            raise ValueError(f"CaptchaDataset: length must be a positive int or (min, max) with "
                             f"1 <= min <= max, got {length!r}")
        self.size, self.charset = int(size), str(charset)
        self.min_length, self.max_length = low, high
        self.height, self.width, self.seed = int(height), int(width), int(seed)
        self.transform, self.target_transform = transform, target_transform
        self._generator = ImageCaptcha(width=self.width, height=self.height, fonts=fonts,
                                       font_sizes=font_sizes)

    def __len__(self) -> int:
        return self.size

    def text(self, index: int) -> str:
        """The text of item ``index`` (cheap: no image is drawn)."""
        rng = random.Random(_item_seed(self.seed, index, 0))
        length = rng.randint(self.min_length, self.max_length)
        return "".join(rng.choice(self.charset) for _ in range(length))

    def generate(self, index: int) -> tuple[np.ndarray, str]:
        """The raw ``(grayscale uint8 image, text)`` of item ``index``, before transforms."""
        import captcha.image as captcha_image

        text = self.text(index)
        rng = random.Random(_item_seed(self.seed, index, 1))
        with _lock:
            saved_secrets = getattr(captcha_image, "secrets", None)
            saved_state = random.getstate()
            try:
                if saved_secrets is not None:
                    captcha_image.secrets = _SeededSecrets(rng)
                random.seed(_item_seed(self.seed, index, 2))
                picture = self._generator.generate_image(text)
            finally:
                if saved_secrets is not None:
                    captcha_image.secrets = saved_secrets
                random.setstate(saved_state)
        return np.asarray(picture.convert("L"), dtype=np.uint8), text

    def __getitem__(self, index: int):
        index = int(index)
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(f"CaptchaDataset: index {index} is out of range for size "
                             f"{self.size}")
        image, text = self.generate(index)
        target = text
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(text)
        return image, target
