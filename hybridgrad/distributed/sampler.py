"""``DistributedSampler``: each rank's share of every epoch's (shuffled) indices.

PyTorch's semantics: every rank draws the same permutation (same ``seed``, same epoch), pads it
by repeating its start until it divides evenly (or, with ``drop_last``, cuts the tail) and takes
every ``num_replicas``-th index from position ``rank``. So the ranks' shares are equal in size,
disjoint (apart from the padding) and together cover the data set, and a batch of ``B`` on each
of ``N`` ranks together is a batch of ``N*B`` from one shuffled order.

The permutation of epoch ``k`` is ``np.random.default_rng([seed, k]).permutation(n)``, as in the
other hybridgrad samplers. One difference from PyTorch, shared with those samplers: each
``iter()`` uses the current epoch and then advances it, so forgetting ``set_epoch`` does not
repeat one order forever; ``set_epoch(k)`` still jumps to epoch ``k`` (the DataLoader calls it).

Example:
    >>> shares = [list(DistributedSampler(range(10), num_replicas=3, rank=r, seed=0))
    ...           for r in range(3)]
    >>> [len(share) for share in shares]
    [4, 4, 4]
    >>> sorted(set(sum(shares, []))) == list(range(10))
    True
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from hybridgrad.data.sampler import _EpochSeeded


class DistributedSampler(_EpochSeeded):
    """Indices of ``dataset`` for process ``rank`` of ``num_replicas`` (defaults: this
    process's rank and the world size from :mod:`hybridgrad.distributed`).

    ``shuffle`` (default True): a new permutation each epoch from ``seed`` (default 0; it must
    be the same on every rank). ``drop_last``: drop the tail that does not divide evenly
    instead of padding with repeated indices.

    Example:
        >>> sampler = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
        >>> list(sampler), len(sampler)
        ([1, 3, 0], 3)
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False,
        ...                         drop_last=True))
        [1, 3]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from hybridgrad.distributed.runtime import get_communicator

            communicator = get_communicator()
            num_replicas = communicator.size if num_replicas is None else num_replicas
            rank = communicator.rank if rank is None else rank
        if isinstance(num_replicas, bool) or int(num_replicas) != num_replicas \
                or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, "
                             f"got {num_replicas!r}")
        if isinstance(rank, bool) or int(rank) != rank or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"DistributedSampler: seed must be a non-negative integer, "
                             f"got {seed!r}")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        length = len(dataset)
        if self.drop_last and length % self.num_replicas != 0:
            self.num_samples = math.ceil((length - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(length / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        rng = self._next_rng()
        length = len(self.dataset)
        indices = rng.permutation(length) if self.shuffle else np.arange(length)
        if not self.drop_last:
            padding = self.total_size - length
            if padding > 0:
                indices = np.concatenate([indices] * math.ceil(self.total_size / max(length, 1)))
                indices = indices[:self.total_size]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].astype(np.int64)
                    .tolist())

    def __len__(self) -> int:
        return self.num_samples
