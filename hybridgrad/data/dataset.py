"""Map-style datasets with PyTorch's names: Dataset, TensorDataset, Subset, ConcatDataset,
random_split.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.data import TensorDataset, random_split
    >>> dataset = TensorDataset(hg.arange(10), hg.arange(10) * 2)
    >>> x, y = dataset[3]
    >>> x.item(), y.item()
    (3, 6)
    >>> train, test = random_split(dataset, [0.8, 0.2], generator=0)
    >>> len(train), len(test)
    (8, 2)
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Sequence

import numpy as np

from hybridgrad.tensor import default_generator


class Dataset:
    """A map-style dataset: ``__getitem__(index)`` and ``__len__``.

    Subclasses implement both. ``dataset_a + dataset_b`` concatenates, as in PyTorch.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, index):
        ...         return index * index
        >>> [Squares()[i] for i in range(4)]
        [0, 1, 4, 9]
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _normalize_index(index, length: int, owner: str) -> int:
    index = int(index)
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"{owner}: index {index} is out of range for a dataset of "
                         f"length {length}")
    return index


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of tensors (or arrays) sharing the first dimension.

    Example:
        >>> import hybridgrad as hg
        >>> ds = TensorDataset(hg.zeros(5, 2), hg.arange(5))
        >>> len(ds), ds[4][0].shape, ds[4][1].item()
        (5, (2,), 4)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        sizes = [int(t.shape[0]) if len(getattr(t, "shape", ())) else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = [tuple(getattr(t, "shape", ())) for t in tensors]
            raise ValueError(f"TensorDataset: all tensors need the same first dimension, "
                             f"got shapes {shapes}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index):
        index = _normalize_index(index, len(self), "TensorDataset")
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Subset(Dataset):
    """The samples of ``dataset`` at the given ``indices``, in that order.

    Example:
        >>> import hybridgrad as hg
        >>> sub = Subset(TensorDataset(hg.arange(10)), [7, 2])
        >>> [sub[i][0].item() for i in range(len(sub))]
        [7, 2]
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[_normalize_index(index, len(self), "Subset")]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after another.

    Example:
        >>> import hybridgrad as hg
        >>> both = ConcatDataset([TensorDataset(hg.arange(3)), TensorDataset(hg.arange(10, 12))])
        >>> len(both), both[3][0].item()
        (5, 10)
    """

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = []
        total = 0
        for dataset in self.datasets:
            total += len(dataset)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = _normalize_index(index, len(self), "ConcatDataset")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        offset = index - (self.cumulative_sizes[which - 1] if which else 0)
        return self.datasets[which][offset]


def as_numpy_generator(generator, owner: str) -> np.random.Generator:
    """A NumPy Generator from None (hg.default_generator()), an int seed or a Generator.

    Example:
        >>> rng = as_numpy_generator(3, "x")
        >>> rng.integers(100) == np.random.default_rng(3).integers(100)
        np.True_
    """
    if generator is None:
        return default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(f"{owner}: generator must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


def random_split(dataset: Dataset, lengths: Sequence, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)`` or fractions summing to 1 (the remainder
    of the floor is handed out round-robin, as in PyTorch). ``generator`` is a NumPy Generator,
    an int seed, or None for ``hg.default_generator()``.

    Example:
        >>> import hybridgrad as hg
        >>> a, b = random_split(TensorDataset(hg.arange(5)), [3, 2], generator=1)
        >>> sorted(a.indices + b.indices)
        [0, 1, 2, 3, 4]
    """
    total = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:  # PyTorch's rule
        for fraction in lengths:
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction {fraction} is not between 0 and 1")
        counts = [int(math.floor(total * fraction)) for fraction in lengths]
        for i in range(total - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != total:
        raise ValueError(f"random_split: sum of input lengths {list(lengths)} does not equal the "
                         f"length of the input dataset ({total})")
    rng = as_numpy_generator(generator, "random_split")
    permutation = rng.permutation(total).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, permutation[start:start + int(length)]))
        start += int(length)
    return subsets

