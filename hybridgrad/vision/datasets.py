"""``torchvision.datasets.MNIST`` / ``FashionMNIST`` over hybridgrad's IDX reader.

Where the files are looked for, first match wins: torchvision's own layout
``root/MNIST/raw/`` (``root/FashionMNIST/raw/``), then ``root`` and ``root/mnist``
(``root/fashion-mnist``); for MNIST then hybridgrad's own places (``$HYBRIDGRAD_DATA/mnist``,
the user cache, and the copy packaged with hybridgrad where there is one), which
``download=True`` uses instead of the network when they hold the files. As in torchvision,
``dataset[i]`` is ``(PIL image, int label)`` before transforms, ``data`` is a uint8
``(N, 28, 28)`` tensor and ``targets`` an int64 tensor; the pre-0.2 names ``train_data``,
``train_labels``, ``test_data``, ``test_labels`` still work, with torchvision's warning.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from hybridgrad.data.mnist import MNIST_MD5
    >>> root = tempfile.mkdtemp(); raw = os.path.join(root, "MNIST", "raw"); os.makedirs(raw)
    >>> def idx(path, array):
    ...     kind = 3 if array.ndim == 3 else 1
    ...     with open(path, "wb") as f:
    ...         f.write(bytes([0, 0, 8, kind]) + b"".join(
    ...             int(n).to_bytes(4, "big") for n in array.shape) + array.tobytes())
    >>> idx(os.path.join(raw, "t10k-images-idx3-ubyte"), np.zeros((2, 28, 28), np.uint8))
    >>> idx(os.path.join(raw, "t10k-labels-idx1-ubyte"), np.array([3, 1], np.uint8))
    >>> test = MNIST(root, train=False)
    >>> image, label = test[0]
    >>> image.size, label, len(test), test.targets.tolist()
    ((28, 28), 3, 2, [3, 1])
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from hybridgrad.data import mnist as _project_mnist
from hybridgrad.data.dataset import Dataset
from hybridgrad.data.mnist import read_idx
from hybridgrad.tensor import Tensor

__all__ = ["FashionMNIST", "MNIST"]


class MNIST(Dataset):
    """torchvision's ``MNIST(root, train=True, transform=None, target_transform=None,
    download=False)`` (see the module docstring for where files are looked for).

    Example:
        >>> MNIST.classes[7]
        '7 - seven'
    """

    folder_name = "MNIST"
    other_folders = ("mnist",)
    resources = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=".", train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False):
        self.root = os.path.expanduser(str(root)) if root is not None else "."
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        names = self.resources[self.train]
        folder = self._find(Path(self.root), names)
        if folder is not None:
            images = read_idx(self._file(folder, names[0]))
            labels = read_idx(self._file(folder, names[1]))
        else:
            images, labels = self._elsewhere(download)
        self.data = Tensor._wrap(np.ascontiguousarray(images))
        self.targets = Tensor._wrap(np.asarray(labels).astype(np.int64))

    # The raw file or its .gz, as the project's own MNIST finds them.
    _file = staticmethod(_project_mnist.MNIST._file)

    def _find(self, root: Path, names) -> Path | None:
        folders = [root / self.folder_name / "raw", root / self.folder_name, root]
        folders += [root / other for other in self.other_folders]
        for folder in folders:
            if all(self._file(folder, name) is not None for name in names):
                return folder
        return None

    def _elsewhere(self, download: bool):
        from hybridgrad.data import mnist

        try:
            # hybridgrad's own places ($HYBRIDGRAD_DATA, the cache, the packaged copy): what
            # torchvision's download would have fetched, without the network when present.
            found = mnist.MNIST(root=None, train=self.train, download=download)
        except mnist.DatasetNotFoundError as error:
            raise RuntimeError(
                f"Dataset not found. You can use download=True to download it "
                f"(torchvision's message). hybridgrad looked in {self.root}/{self.folder_name}"
                f"/raw and {self.root} first, then: {error}") from None
        return found.data._array, found.targets._array

    def __len__(self) -> int:
        return len(self.data._array)

    def __getitem__(self, index: int):
        from PIL import Image

        image = Image.fromarray(self.data._array[index], mode="L")
        target = int(self.targets._array[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    # torchvision's pre-0.2 names, with its warnings.
    @property
    def train_labels(self) -> Tensor:
        """torchvision's old name of ``targets`` (with its warning)."""
        warnings.warn("train_labels has been renamed targets", stacklevel=2)
        return self.targets

    @property
    def test_labels(self) -> Tensor:
        """torchvision's old name of ``targets`` (with its warning)."""
        warnings.warn("test_labels has been renamed targets", stacklevel=2)
        return self.targets

    @property
    def train_data(self) -> Tensor:
        """torchvision's old name of ``data`` (with its warning)."""
        warnings.warn("train_data has been renamed data", stacklevel=2)
        return self.data

    @property
    def test_data(self) -> Tensor:
        """torchvision's old name of ``data`` (with its warning)."""
        warnings.warn("test_data has been renamed data", stacklevel=2)
        return self.data

    @property
    def class_to_idx(self) -> dict:
        """Class name -> label, as torchvision has it."""
        return {name: index for index, name in enumerate(self.classes)}

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


class FashionMNIST(MNIST):
    """torchvision's ``FashionMNIST``: Zalando's clothing images in MNIST's format. hybridgrad
    has no copy of them and no network: place the four files in ``root/FashionMNIST/raw``.

    Example:
        >>> FashionMNIST.classes[0]
        'T-shirt/top'
    """

    folder_name = "FashionMNIST"
    other_folders = ("fashion-mnist", "fashion_mnist")
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]

    def _elsewhere(self, download: bool):
        names = ", ".join(self.resources[self.train])
        raise RuntimeError(
            f"Dataset not found: FashionMNIST files ({names}, optionally .gz) are not in "
            f"{self.root}/FashionMNIST/raw. hybridgrad runs without network and carries no copy"
            f" of FashionMNIST{' (download=True cannot fetch it)' if download else ''}: "
            f"place the files there")
