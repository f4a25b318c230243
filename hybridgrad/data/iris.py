"""Iris (Fisher, 1936) from scikit-learn's bundled copy: 150 flowers, 4 features, 3 classes.

scikit-learn is an optional extra (``pip install "hybridgrad[analysis]"``); without it,
building :class:`Iris` raises an ImportError that says so.

Example:
    >>> iris = Iris()
    >>> features, label = iris[0]
    >>> len(iris), features.shape, features.dtype, label
    (150, (4,), dtype('float32'), 0)
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hybridgrad.data.dataset import Dataset
from hybridgrad.tensor import Tensor


def _load_iris():
    try:
        from sklearn.datasets import load_iris
    except ImportError as error:
        raise ImportError("Iris needs scikit-learn, an optional extra of hybridgrad: "
                          "pip install 'hybridgrad[analysis]' (or pip install scikit-learn)"
                          ) from error
    return load_iris()


class Iris(Dataset):
    """The Iris data set: ``(features float32 (4,), label int 0-2)`` per flower.

    ``data`` (float32 ``(150, 4)``) and ``targets`` (int64 ``(150,)``) are tensors;
    ``feature_names`` and ``classes`` name the columns and labels. Split it with
    :func:`hybridgrad.data.random_split`.

    Example:
        >>> Iris().classes
        ['setosa', 'versicolor', 'virginica']
    """

    def __init__(self, transform: Callable | None = None,
                 target_transform: Callable | None = None):
        bunch = _load_iris()
        self._features = np.ascontiguousarray(bunch.data, dtype=np.float32)
        self._labels = np.asarray(bunch.target, dtype=np.int64)
        self.feature_names = list(bunch.feature_names)
        self.classes = [str(name) for name in bunch.target_names]
        self.transform = transform
        self.target_transform = target_transform
        self.data = Tensor._wrap(self._features)
        self.targets = Tensor._wrap(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int):
        features, label = self._features[index], int(self._labels[index])
        if self.transform is not None:
            features = self.transform(features)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return features, label
