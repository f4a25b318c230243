"""Samplers: which dataset indices to visit, in what order, with reproducible shuffling.

A shuffling sampler fixes a 63-bit ``seed`` when it is built (from ``generator=``, or drawn from
``hg.default_generator()``, so ``hg.manual_seed`` controls it). The order of epoch ``k`` is a
pure function of ``(seed, k)``: ``np.random.default_rng([seed, k]).permutation(n)``. Each
``iter()`` uses the current epoch and then advances it; ``set_epoch(k)`` jumps to epoch ``k``,
so a run resumed from a checkpoint sees exactly the data order the interrupted run would have.

Example:
    >>> sampler = RandomSampler(range(5), generator=0)
    >>> first, second = list(sampler), list(sampler)
    >>> first != second
    True
    >>> sampler.set_epoch(0)
    >>> list(sampler) == first
    True
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from hybridgrad.tensor import default_generator

_DRAW_BLOCK = 4096  # indices drawn at once by a sampler with replacement


def derive_seed(generator, owner: str) -> int:
    """A 63-bit seed from None (hg.default_generator()), an int or a NumPy Generator.

    Example:
        >>> derive_seed(7, "x")
        7
    """
    if generator is None:
        return int(default_generator().integers(2 ** 63))
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(2 ** 63))
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        if generator < 0:
            raise ValueError(f"{owner}: a seed must be non-negative, got {generator}")
        return int(generator)
    raise TypeError(f"{owner}: generator must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


class Sampler:
    """Base class: an iterable of dataset indices with a length.

    Example:
        >>> class Evens(Sampler):
        ...     def __iter__(self):
        ...         return iter([0, 2, 4])
        ...     def __len__(self):
        ...         return 3
        >>> list(Evens())
        [0, 2, 4]
    """

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``0..len(data_source)-1`` in order.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class _EpochSeeded(Sampler):
    """Shared epoch bookkeeping of the shuffling samplers."""

    seed: int
    epoch: int

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` produce the order of ``epoch`` (0-based)."""
        if int(epoch) < 0:
            raise ValueError(f"{type(self).__name__}.set_epoch: epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def _next_rng(self) -> np.random.Generator:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        return rng


class RandomSampler(_EpochSeeded):
    """Random order without replacement (or ``num_samples`` draws with ``replacement=True``).

    Example:
        >>> sorted(RandomSampler(range(4), generator=3))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        if num_samples is not None and (int(num_samples) != num_samples or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer, "
                             f"got {num_samples}")
        self.seed = derive_seed(generator, "RandomSampler")
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self) -> Iterator[int]:
        # Drawn lazily, a block at a time, as PyTorch does: num_samples=10**10 with
        # replacement must not allocate the whole order up front (74.5 GiB of int64).
        rng = self._next_rng()
        n = len(self.data_source)
        return self._draw_with_replacement(rng, n) if self.replacement else self._permuted(rng, n)

    def _draw_with_replacement(self, rng: np.random.Generator, n: int) -> Iterator[int]:
        left = self.num_samples
        while left > 0:
            # Blocks draw the same stream as one call of the whole size (NumPy draws each
            # bounded integer in turn), so the order does not depend on the block size.
            block = min(left, _DRAW_BLOCK)
            yield from rng.integers(0, n, size=block).tolist()
            left -= block

    def _permuted(self, rng: np.random.Generator, n: int) -> Iterator[int]:
        full, rest = divmod(self.num_samples, n) if n else (0, 0)
        for _ in range(full):
            yield from rng.permutation(n).tolist()
        if rest:
            yield from rng.permutation(n)[:rest].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_EpochSeeded):
    """The given indices in a random order (a new one each epoch).

    Example:
        >>> sorted(SubsetRandomSampler([5, 9, 11], generator=0))
        [5, 9, 11]
    """

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = [int(i) for i in indices]
        self.seed = derive_seed(generator, "SubsetRandomSampler")
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        order = self._next_rng().permutation(len(self.indices))
        return iter([self.indices[i] for i in order])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_EpochSeeded):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (with
    replacement by default), PyTorch's sampler for unbalanced classes. Drawn lazily, a block at
    a time, like :class:`RandomSampler`.

    Example:
        >>> draws = list(WeightedRandomSampler([0.0, 1.0, 0.0], 5, generator=0))
        >>> draws
        [1, 1, 1, 1, 1]
        >>> sorted(WeightedRandomSampler([1, 1, 1], 3, replacement=False, generator=0))
        [0, 1, 2]
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        values = weights._array if hasattr(weights, "_array") else weights
        self.weights = np.asarray(values, dtype=np.float64).reshape(-1)
        if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer, "
                             f"got {num_samples!r}")
        if not np.all(np.isfinite(self.weights)) or np.any(self.weights < 0) \
                or self.weights.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and "
                             "not all zero")
        if not replacement and num_samples > np.count_nonzero(self.weights):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {num_samples} samples "
                               f"without replacement from {np.count_nonzero(self.weights)} "
                               "non-zero weights")
        self.num_samples = int(num_samples)
        self.replacement = bool(replacement)
        self.seed = derive_seed(generator, "WeightedRandomSampler")
        self.epoch = 0

    def __iter__(self) -> Iterator[int]:
        rng = self._next_rng()
        probabilities = self.weights / self.weights.sum()
        if not self.replacement:
            order = rng.choice(len(probabilities), size=self.num_samples, replace=False,
                               p=probabilities)
            return iter(order.tolist())
        return self._draw(rng, probabilities)

    def _draw(self, rng: np.random.Generator, probabilities: np.ndarray) -> Iterator[int]:
        left = self.num_samples
        while left > 0:
            block = min(left, _DRAW_BLOCK)
            yield from rng.choice(len(probabilities), size=block, p=probabilities).tolist()
            left -= block

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
        [[0, 1], [2, 3], [4]]
        >>> len(BatchSampler(SequentialSampler(range(5)), 2, drop_last=True))
        2
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, "
                             f"got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list]:
        batch = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
