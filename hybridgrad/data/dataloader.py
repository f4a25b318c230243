"""DataLoader: batches from a dataset, reproducible shuffling, optional background threads.

Shuffling uses the loader's own seed (from ``generator=``, else drawn from
``hg.default_generator()`` when the loader is built), so the order of epoch ``k`` depends only on
``(seed, k)``. ``set_epoch(k)`` selects an epoch; ``state_dict()``/``load_state_dict()`` save and
restore ``{seed, epoch, batches already yielded}`` so a resumed run continues with the very next
batch of the interrupted one (store it in the checkpoint with ``hg.save``).

``num_workers > 0`` loads batches in that many background *threads* (NumPy, PIL and file reads
release the GIL), at most ``num_workers * prefetch_factor`` batches ahead through a bounded
window; batches still come out in order and an exception raised while loading is re-raised in
the consumer, with its original traceback.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.data import DataLoader, TensorDataset
    >>> dataset = TensorDataset(hg.arange(10).float(), hg.arange(10))
    >>> loader = DataLoader(dataset, batch_size=4, shuffle=True, generator=0)
    >>> [y.shape for x, y in loader]
    [(4,), (4,), (2,)]
    >>> len(loader)
    3
"""

from __future__ import annotations

import collections.abc
import contextvars
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any, Callable

import numpy as np

from hybridgrad.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)
from hybridgrad.tensor import Tensor


def _stack(arrays: list, what: str) -> Tensor:
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) != 1:
        raise RuntimeError(f"default_collate: {what} in a batch must all have the same shape, "
                           f"got shapes {sorted(shapes)}")
    return Tensor._wrap(np.stack(arrays))


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch, PyTorch's rules with hybridgrad tensors.

    Tensors and NumPy arrays are stacked along a new first dimension (dtype kept); Python ints
    become int64, floats float64 and bools bool tensors (as in PyTorch); strings stay a list;
    dicts, tuples, lists and named tuples are collated field by field (tuples and lists come back
    as lists, as in PyTorch).

    Example:
        >>> import numpy as np
        >>> samples = [(np.zeros((2, 2), np.uint8), 3), (np.ones((2, 2), np.uint8), 1)]
        >>> batch = default_collate(samples)
        >>> batch[0].shape, batch[0].dtype, batch[1].tolist()
        ((2, 2, 2), dtype('uint8'), [3, 1])
        >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])["name"]
        ['a', 'b']
    """
    if not batch:
        raise ValueError("default_collate: cannot collate an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t._array for t in batch], "tensors")
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: NumPy arrays of dtype {elem.dtype} cannot become "
                            "tensors")
        return _stack([np.asarray(a) for a in batch], "arrays")
    if isinstance(elem, (np.number, np.bool_)):
        return Tensor._wrap(np.array(batch, dtype=elem.dtype))
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor._wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = {len(sample) for sample in batch}
        if len(sizes) != 1:
            raise RuntimeError("default_collate: each element in a batch of sequences must have "
                               f"the same length, got lengths {sorted(sizes)}")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError("default_collate: a batch must contain tensors, NumPy arrays, numbers, "
                    f"strings, dicts or sequences; found {type(elem).__name__}")


def default_convert(sample: Any) -> Any:
    """Convert one sample (``batch_size=None``): arrays and NumPy scalars become tensors.

    Example:
        >>> import numpy as np
        >>> default_convert((np.ones(2), 3))[0].shape
        (2,)
    """
    if isinstance(sample, np.ndarray) and sample.dtype.kind in "biuf":
        return Tensor._wrap(sample)
    if isinstance(sample, (np.number, np.bool_)):
        return Tensor._wrap(np.asarray(sample))
    if isinstance(sample, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(value) for value in sample))
    if isinstance(sample, (tuple, list)):
        return type(sample)(default_convert(value) for value in sample)
    return sample


class DataLoader:
    """Iterate over a dataset in (optionally shuffled) batches.

    Args mirror PyTorch's: ``batch_size`` (None: unbatched samples), ``shuffle``, ``sampler``,
    ``batch_sampler``, ``num_workers`` (background threads, 0 = load in the caller),
    ``collate_fn`` (default :func:`default_collate`), ``drop_last``, ``timeout`` (seconds to wait
    for a background batch, 0 = forever), ``worker_init_fn(worker_id)`` (called in each thread),
    ``generator`` (NumPy Generator or int seed for the shuffle; default: a seed drawn from
    ``hg.default_generator()`` now), ``prefetch_factor`` (batches in flight per worker, default 2).

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.data import TensorDataset
        >>> loader = DataLoader(TensorDataset(hg.arange(6)), batch_size=4, drop_last=True)
        >>> [batch[0].tolist() for batch in loader]
        [[0, 1, 2, 3]]
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | None = None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False):
        if isinstance(num_workers, bool) or int(num_workers) != num_workers or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, "
                             f"got {num_workers!r}")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor needs num_workers > 0 (background "
                             "threads); with num_workers=0 batches are loaded on demand")
        if prefetch_factor is not None and (int(prefetch_factor) != prefetch_factor
                                            or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive integer, "
                             f"got {prefetch_factor!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be >= 0, got {timeout}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                             "batch_size, shuffle, sampler, and drop_last")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None (no batching) is mutually exclusive "
                             "with drop_last")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = None if num_workers == 0 else int(prefetch_factor or 2)
        self.pin_memory = pin_memory  # accepted for PyTorch compatibility; CPU only
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = persistent_workers
        self.drop_last = bool(drop_last)
        if sampler is None and batch_sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, self.drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.batch_size = None if batch_size is None else (
            batch_size if batch_sampler is None or not hasattr(batch_sampler, "batch_size")
            else batch_sampler.batch_size)
        self.collate_fn = collate_fn or (default_collate if batch_size is not None
                                         else default_convert)
        self.epoch = 0  # the epoch the next iter() runs
        self._resume_skip = 0  # batches of that epoch to skip (set by load_state_dict)
        self._position = None  # (epoch, batches handed out) of the iteration in progress

    # Reproducible order.
    def _index_source(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (0-based) from its first batch.

        Each ``iter(loader)`` starts a new epoch (as in PyTorch) and advances the counter.

        Example:
            >>> import hybridgrad as hg
            >>> from hybridgrad.data import TensorDataset
            >>> loader = DataLoader(TensorDataset(hg.arange(8)), batch_size=8, shuffle=True,
            ...                     generator=5)
            >>> epoch0 = next(iter(loader))[0].tolist(); epoch1 = next(iter(loader))[0].tolist()
            >>> epoch0 != epoch1
            True
            >>> loader.set_epoch(0); next(iter(loader))[0].tolist() == epoch0
            True
        """
        if int(epoch) < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)
        self._resume_skip = 0
        self._position = None

    @property
    def seed(self) -> int | None:
        """The shuffle seed (None when the sampler does not shuffle)."""
        source = self._seeded_sampler()
        return None if source is None else source.seed

    def _seeded_sampler(self):
        source = self.sampler if self.sampler is not None else self.batch_sampler
        while source is not None and not hasattr(source, "seed"):
            source = getattr(source, "sampler", None)
        return source

    def state_dict(self) -> dict:
        """Where iteration stands: ``{"seed", "epoch", "batches_done"}`` (JSON-friendly).

        During an epoch it names that epoch and the batches already handed out; between epochs
        it names the next epoch with ``batches_done`` 0.

        Example:
            >>> import hybridgrad as hg
            >>> from hybridgrad.data import TensorDataset
            >>> loader = DataLoader(TensorDataset(hg.arange(10)), batch_size=2, shuffle=True,
            ...                     generator=1)
            >>> it = iter(loader); _ = next(it); _ = next(it)
            >>> state = loader.state_dict(); state["epoch"], state["batches_done"]
            (0, 2)
            >>> rest = [b[0].tolist() for b in it]
            >>> again = DataLoader(TensorDataset(hg.arange(10)), batch_size=2, shuffle=True)
            >>> again.load_state_dict(state)
            >>> [b[0].tolist() for b in again] == rest
            True
        """
        if self._position is not None:
            epoch, done = self._position
        else:
            epoch, done = self.epoch, self._resume_skip
        return {"seed": self.seed, "epoch": epoch, "batches_done": done}

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next iteration continues epoch ``state["epoch"]`` after the batches
        already done, with the saved shuffle seed."""
        seed = state.get("seed")
        if seed is not None:
            source = self._seeded_sampler()
            if source is None:
                raise ValueError("DataLoader.load_state_dict: the state has a shuffle seed but "
                                 "this loader does not shuffle")
            source.seed = int(seed)
        self.set_epoch(int(state["epoch"]))
        self._resume_skip = int(state.get("batches_done", 0))

    def __len__(self) -> int:
        return len(self._index_source())

    # Iteration.
    def _fetch(self, indices):
        if self.batch_size is None and self.batch_sampler is None:
            return self.collate_fn(self.dataset[indices])
        return self.collate_fn([self.dataset[i] for i in indices])

    def __iter__(self):
        source = self._index_source()
        epoch, skip = self.epoch, self._resume_skip
        self.epoch, self._resume_skip = epoch + 1, 0
        self._position = (epoch, skip)
        if hasattr(source, "set_epoch"):
            source.set_epoch(epoch)
        index_batches = itertools.islice(iter(source), skip, None)
        batches = (self._iterate_in_threads(index_batches) if self.num_workers
                   else map(self._fetch, index_batches))
        return self._track(batches, epoch, skip)

    def _track(self, batches, epoch: int, done: int):
        try:
            for batch in batches:
                done += 1
                self._position = (epoch, done)
                yield batch
            if self._position == (epoch, done):
                self._position = None  # finished: state_dict now names the next epoch
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    def _iterate_in_threads(self, index_batches):
        worker_ids = itertools.count()
        lock = threading.Lock()

        def initializer():
            with lock:
                worker_id = next(worker_ids)
            if self.worker_init_fn is not None:
                self.worker_init_fn(worker_id)

        executor = ThreadPoolExecutor(self.num_workers, thread_name_prefix="hybridgrad-loader",
                                      initializer=initializer)
        window = collections.deque()
        limit = self.num_workers * self.prefetch_factor
        timeout = self.timeout or None
        try:
            for indices in index_batches:
                context = contextvars.copy_context()
                window.append(executor.submit(context.run, self._fetch, indices))
                if len(window) >= limit:
                    yield self._result(window.popleft(), timeout)
            while window:
                yield self._result(window.popleft(), timeout)
        finally:
            for future in window:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _result(future, timeout):
        try:
            return future.result(timeout=timeout)
        except FutureTimeoutError as error:
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for a "
                               "batch from a background worker") from error
