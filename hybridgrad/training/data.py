"""Data for the training commands: MNIST as in-memory arrays, the normalisations the models
expect, and the loaders.

Example:
    >>> import numpy as np
    >>> from hybridgrad.training.data import normalize
    >>> normalize(np.array([0.0, 1.0], dtype=np.float32), "tanh").tolist()
    [-1.0, 1.0]
"""

from __future__ import annotations

import functools
import os

import numpy as np

import hybridgrad as hg

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
NORMALIZATIONS = ("standard", "tanh", "unit")


class DatasetNotFoundError(Exception):
    """The data set is not where it was looked for; the message says what to do."""


def normalize(images01, mode: str):
    """Map images in [0, 1] to a model's input range: ``"standard"`` (MNIST mean/std, for the
    classifiers), ``"tanh"`` ([-1, 1], the GAN's), ``"unit"`` (unchanged, the VAE's Bernoulli
    pixels). Works on NumPy arrays and tensors.

    Example:
        >>> import numpy as np
        >>> round(float(normalize(np.float32(0.1307), "standard")), 6)
        0.0
    """
    if mode == "standard":
        return (images01 - MNIST_MEAN) / MNIST_STD
    if mode == "tanh":
        return images01 * 2.0 - 1.0
    if mode == "unit":
        return images01
    raise ValueError(f"normalize: mode must be one of {NORMALIZATIONS}, not {mode!r}")


def _arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8/float [N, 28, 28], labels int64 [N]) from an MNIST data set object."""
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if data is not None and targets is not None:
        return np.asarray(data), np.asarray(targets)
    images, labels = zip(*(dataset[index] for index in range(len(dataset))))
    return (np.stack([np.asarray(image) for image in images]),
            np.asarray([int(label) for label in labels]))


@functools.lru_cache(maxsize=2)
def _raw_mnist(train: bool, root: str | None, download: bool, environment: str | None,
               cache: str | None = None):
    """The split's arrays as stored (uint8), read once per process: tests and the commands
    that load MNIST repeatedly pay the decompression once."""
    from hybridgrad import data as hg_data

    split = "training" if train else "test"
    try:
        dataset = hg_data.MNIST(root=root, train=train, download=download)
    except (FileNotFoundError, RuntimeError, OSError) as error:
        where = (f"in {root}" if root else "in $HYBRIDGRAD_DATA/mnist, the user cache or the "
                 "package")
        looked = getattr(error, "looked_in", None)
        detail = (f"looked in {looked} for {error.file_names}" if looked else str(error))
        raise DatasetNotFoundError(
            f"the MNIST {split} set was not found {where} ({detail}). Put the four IDX files "
            f"(train-images-idx3-ubyte.gz, ...) in a folder and pass it with --data-dir, or set "
            f"HYBRIDGRAD_DATA to the folder above mnist/, or add --download to fetch them."
        ) from None
    except ValueError as error:  # IDXError: a truncated or corrupt file
        raise DatasetNotFoundError(
            f"the MNIST {split} set cannot be read: {error}. Replace the file (delete it and "
            f"run again with --download to fetch a verified copy)."
        ) from None
    images, labels = _arrays(dataset)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def load_mnist(train: bool, root: str | None = None, subset: int | None = None,
               download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST as ``(images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N])``, the first
    ``subset`` images when given. Raises :class:`DatasetNotFoundError` with advice when missing.

    Example (needs the data set):
        >>> import os
        >>> images, labels = load_mnist(False, subset=4)  # doctest: +SKIP
        >>> images.shape, labels.dtype  # doctest: +SKIP
        ((4, 1, 28, 28), dtype('int64'))
    """
    images, labels = _raw_mnist(train, root, download, os.environ.get("HYBRIDGRAD_DATA"),
                                os.environ.get("XDG_CACHE_HOME"))
    if subset is not None:
        images, labels = images[:subset], labels[:subset]
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    images = images.astype(np.float32) / np.float32(scale)
    return images.reshape(len(images), 1, 28, 28), labels.astype(np.int64)


def mnist_source(root: str | None = None, train: bool = True) -> str:
    """One line saying which copy of MNIST :func:`load_mnist` reads (the folder and why: the
    --data-dir folder, ``$HYBRIDGRAD_DATA``, the user cache or the copy embedded in the package).

    Example:
        >>> import tempfile
        >>> mnist_source(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        'none found in .../mnist'
    """
    from hybridgrad.data.mnist import MNIST, SOURCES

    folder, source = MNIST.locate(root, train)
    if folder is None:
        return f"none found in {root}/mnist" if root else "none found"
    return f"{SOURCES[source]} ({folder})"


def make_loader(images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool,
                seed: int = 0, drop_last: bool = False):
    """A :class:`hybridgrad.data.DataLoader` over the arrays; ``seed`` fixes the shuffle order
    of every epoch (the loader's ``state_dict`` records where iteration stands).

    Example:
        >>> import numpy as np
        >>> loader = make_loader(np.zeros((5, 1, 2, 2), np.float32), np.arange(5), 2, False)
        >>> [len(batch[1]) for batch in loader]
        [2, 2, 1]
    """
    from hybridgrad import data as hg_data

    dataset = hg_data.TensorDataset(hg.tensor(images), hg.tensor(labels))
    return hg_data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                              generator=seed if shuffle else None, drop_last=drop_last)
