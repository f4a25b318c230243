"""Captcha splits cached on disk as PNG files + a labels file, loaded as one uint8 array.

Generating a captcha costs ~3 ms (the ``captcha`` package draws with Pillow), so training for
several epochs on freshly drawn images spends most of its time drawing. :func:`load_split`
draws a split once (in threads), writes ``NNNNNN.png`` files and ``labels.tsv`` into a folder
named after everything that determines the pixels (charset, lengths, size, seed, count), and
reads them back as an ``(N, H, W)`` uint8 array on later calls. Train, validation and test
splits use disjoint seeds (:data:`SPLIT_SEEDS`), so no image is shared between them.

Example:
    >>> import tempfile
    >>> spec = CaptchaSpec(charset="0123456789", length=(4, 4), height=32, width=64)
    >>> images, texts = load_split(spec, "test", 3, cache_dir=tempfile.mkdtemp())
    >>> images.shape, images.dtype, [len(t) for t in texts]
    ((3, 32, 64), dtype('uint8'), [4, 4, 4])
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from hybridgrad.data.captcha import CaptchaDataset
from hybridgrad.data.encoding import DIGITS_UPPERCASE

#: Base seed of each split; the dataset seed is ``SPLIT_SEEDS[split] + seed``, and the bases are
#: a million apart, so runs with different ``seed`` never share a split's images.
SPLIT_SEEDS = {"train": 1_000_000, "val": 2_000_000, "test": 3_000_000}


@dataclass(frozen=True)
class CaptchaSpec:
    """What the captcha images look like: charset, text lengths (inclusive range), size.

    Example:
        >>> CaptchaSpec(length=(4, 6)).max_length
        6
        >>> CaptchaSpec.parse_length("4-6"), CaptchaSpec.parse_length("4")
        ((4, 6), (4, 4))
    """

    charset: str = DIGITS_UPPERCASE
    length: tuple = (4, 4)
    height: int = 64
    width: int = 160

    @property
    def min_length(self) -> int:
        return int(self.length[0])

    @property
    def max_length(self) -> int:
        return int(self.length[1])

    @property
    def variable(self) -> bool:
        return self.min_length != self.max_length

    @staticmethod
    def parse_length(text) -> tuple:
        """``"4"`` -> ``(4, 4)``, ``"4-6"`` -> ``(4, 6)``; ints and pairs pass through."""
        if isinstance(text, (tuple, list)):
            low, high = (int(v) for v in text)
        elif isinstance(text, int):
            low = high = text
        else:
            parts = str(text).split("-")
            try:
                values = [int(p) for p in parts]
            except ValueError:
                values = []
            if len(values) not in (1, 2):
                raise ValueError(f"captcha length must be N or MIN-MAX (e.g. 4 or 4-6), got "
                                 f"{text!r}")
            low, high = values[0], values[-1]
        if not 1 <= low <= high:
            raise ValueError(f"captcha length must satisfy 1 <= MIN <= MAX, got {text!r}")
        return (low, high)

    def dataset(self, split: str, size: int, seed: int = 0, **kwargs) -> CaptchaDataset:
        """The :class:`CaptchaDataset` of one split (drawn on the fly)."""
        if split not in SPLIT_SEEDS:
            raise ValueError(f"unknown split {split!r}: use one of {sorted(SPLIT_SEEDS)}")
        return CaptchaDataset(size=size, charset=self.charset, length=tuple(self.length),
                              height=self.height, width=self.width,
                              seed=SPLIT_SEEDS[split] + int(seed), **kwargs)

    def key(self, split: str, size: int, seed: int) -> str:
        description = repr(sorted({**asdict(self), "length": list(self.length), "split": split,
                                   "size": size, "seed": seed}.items()))
        digest = hashlib.sha1(description.encode()).hexdigest()[:12]
        return f"{split}-{size}-{self.min_length}_{self.max_length}-{self.height}x{self.width}-" \
               f"s{seed}-{digest}"


def default_cache_dir() -> str:
    """``$HYBRIDGRAD_CACHE/captcha``, else ``$XDG_CACHE_HOME/hybridgrad/captcha``.

    Example:
        >>> default_cache_dir().endswith("captcha")
        True
    """
    root = os.environ.get("HYBRIDGRAD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "hybridgrad")
    return os.path.join(root, "captcha")


def generate_split(spec: CaptchaSpec, split: str, size: int, seed: int = 0,
                   workers: int = 2) -> tuple[np.ndarray, list[str]]:
    """Draw a split into memory (threads; deterministic regardless of ``workers``).

    Example:
        >>> spec = CaptchaSpec(charset="AB", length=(1, 2), height=32, width=64)
        >>> a, texts = generate_split(spec, "val", 2, workers=1)
        >>> b, same = generate_split(spec, "val", 2, workers=2)
        >>> bool((a == b).all()) and texts == same
        True
    """
    dataset = spec.dataset(split, size, seed)
    images = np.empty((size, spec.height, spec.width), dtype=np.uint8)
    texts = [""] * size

    def draw(index):
        images[index], texts[index] = dataset.generate(index)

    if workers > 1 and size > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(draw, range(size)))
    else:
        for index in range(size):
            draw(index)
    return images, texts


def _write_split(folder: str, images: np.ndarray, texts: list[str]) -> None:
    from PIL import Image

    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".partial-", dir=parent)
    for index, image in enumerate(images):
        Image.fromarray(image).save(os.path.join(staging, f"{index:06d}.png"))
    with open(os.path.join(staging, "labels.tsv"), "w", encoding="utf-8") as handle:
        handle.writelines(f"{index:06d}.png\t{text}\n" for index, text in enumerate(texts))
    try:
        os.replace(staging, folder)  # a complete folder appears at once, or not at all
    except OSError:  # another process finished first: keep its copy
        import shutil

        shutil.rmtree(staging, ignore_errors=True)


def read_folder(folder: str) -> tuple[np.ndarray, list[str]]:
    """Read a folder of ``labels.tsv`` (``file<TAB>text`` lines) and grayscale images.

    Example:
        >>> import tempfile
        >>> spec = CaptchaSpec(charset="AB", length=(2, 2), height=16, width=32)
        >>> cache = tempfile.mkdtemp()
        >>> _ = load_split(spec, "train", 2, cache_dir=cache)
        >>> images, texts = read_folder(os.path.join(cache, os.listdir(cache)[0]))
        >>> images.shape, len(texts)
        ((2, 16, 32), 2)
    """
    from PIL import Image

    labels = os.path.join(folder, "labels.tsv")
    if not os.path.exists(labels):
        raise FileNotFoundError(f"captcha folder {folder} has no labels.tsv")
    names, texts = [], []
    with open(labels, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise ValueError(f"{labels}, line {number}: expected 'file<TAB>text', got "
                                 f"{line!r}")
            names.append(parts[0])
            texts.append(parts[1])
    arrays = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as image:
            arrays.append(np.asarray(image.convert("L"), dtype=np.uint8))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"captcha folder {folder}: images differ in size {sorted(shapes)}")
    return np.stack(arrays) if arrays else np.zeros((0, 1, 1), np.uint8), texts


def load_split(spec: CaptchaSpec, split: str, size: int, seed: int = 0,
               cache_dir: str | None = None, workers: int = 2,
               use_cache: bool = True) -> tuple[np.ndarray, list[str]]:
    """The ``(N, H, W)`` uint8 images and texts of a split, from the disk cache when there.

    With ``use_cache=False`` the split is drawn in memory and nothing is written.
    """
    if not use_cache:
        return generate_split(spec, split, size, seed, workers)
    folder = os.path.join(cache_dir or default_cache_dir(), spec.key(split, size, seed))
    if os.path.exists(os.path.join(folder, "labels.tsv")):
        return read_folder(folder)
    images, texts = generate_split(spec, split, size, seed, workers)
    _write_split(folder, images, texts)
    return images, texts


def downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks of ``(..., H, W)`` images (any dtype -> float32).

    Example:
        >>> downsample(np.arange(16, dtype=np.uint8).reshape(4, 4), 2).tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    images = np.asarray(images, dtype=np.float32)
    if factor == 1:
        return images
    *lead, height, width = images.shape
    if height % factor or width % factor:
        raise ValueError(f"downsample: {height}x{width} is not divisible by {factor}")
    blocks = images.reshape(*lead, height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(-3, -1))


__all__ = ["CaptchaSpec", "SPLIT_SEEDS", "default_cache_dir", "downsample", "generate_split",
           "load_split", "read_folder"]
