"""Data parallelism: the same model on every process, gradients averaged every step.

The Horovod / ChainerMN recipe, on the communicator of :mod:`hybridgrad.distributed`:

1. :func:`broadcast_parameters` copies rank 0's parameters and buffers to every rank, so all
   replicas start identical.
2. Each rank runs forward and backward on its own shard of the batch.
3. :class:`GradientAverager` averages the gradients across ranks: it packs them into a few large
   contiguous buffers (buckets of about ``bucket_cap_mb`` megabytes, one per dtype run), calls
   ``allreduce`` once per bucket (not once per tensor: each call pays a latency), divides by the
   world size and unpacks. :class:`DistributedOptimizer` does this inside ``step()``;
   :class:`DistributedDataParallel` wraps the model and does it in ``allreduce_gradients()``.
4. Every rank applies the same update to the same weights, so replicas stay identical.

hybridgrad's autograd has no per-parameter gradient hooks, so averaging happens after
``backward()`` has finished rather than overlapping with it (PyTorch's DDP overlaps). A parameter
that received no gradient on some ranks counts as a zero gradient there (PyTorch's
``find_unused_parameters`` behaviour); one that received none on every rank keeps ``grad=None``.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad import distributed as dist
    >>> model = hg.nn.Linear(3, 2)
    >>> optimizer = dist.DistributedOptimizer(hg.optim.SGD(model.parameters(), lr=0.1))
    >>> dist.broadcast_parameters(model)
    >>> model(hg.ones(4, 3)).sum().backward(); optimizer.step()
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterable

import numpy as np

from hybridgrad.distributed.communicator import Communicator
from hybridgrad.distributed.runtime import get_communicator
from hybridgrad.nn.module import Module
from hybridgrad.tensor import Tensor

DEFAULT_BUCKET_CAP_MB = 25.0


def _named_tensors(source) -> list[tuple[str, Tensor]]:
    """(name, tensor) pairs of a module's parameters then buffers, or of a tensor iterable /
    a state_dict-like mapping."""
    if isinstance(source, Module):
        return list(source.named_parameters()) + [
            (name, buffer) for name, buffer in source.named_buffers() if buffer is not None]
    if isinstance(source, dict):
        return [(str(name), value) for name, value in source.items()
                if isinstance(value, Tensor)]
    if isinstance(source, Tensor):
        raise TypeError("broadcast_parameters: expected a Module, a dict of tensors or an "
                        "iterable of tensors, got a single Tensor; wrap it in a list")
    return [(str(index), tensor) for index, tensor in enumerate(source)]


def _check_same_layout(communicator: Communicator, named: list, what: str) -> None:
    """Every rank must hold the same tensors (names, shapes, dtypes) in the same order, or the
    buffers of a collective would not line up; say which rank differs and where."""
    if communicator.size == 1:
        return
    layout = [[name, list(tensor.shape), str(tensor.dtype)] for name, tensor in named]
    layouts = communicator.allgather_object(layout)
    for rank, other in enumerate(layouts):
        if other == layouts[0]:
            continue
        for index in range(max(len(other), len(layouts[0]))):
            mine = layouts[0][index] if index < len(layouts[0]) else None
            theirs = other[index] if index < len(other) else None
            if mine != theirs:
                raise ValueError(f"{what}: rank {rank}'s model differs from rank 0's at entry "
                                 f"{index}: rank 0 has {mine}, rank {rank} has {theirs} "
                                 f"([name, shape, dtype]); every rank must build the same model")


def _plan_buckets(arrays: list[np.ndarray], cap_bytes: float) -> list[list[int]]:
    """Split indices into runs of one dtype whose total size stays under ``cap_bytes`` (a
    tensor larger than the cap gets a bucket of its own)."""
    buckets: list[list[int]] = []
    size = 0.0
    for index, array in enumerate(arrays):
        if (not buckets or array.dtype != arrays[buckets[-1][0]].dtype
                or size + array.nbytes > cap_bytes):
            buckets.append([])
            size = 0.0
        buckets[-1].append(index)
        size += array.nbytes
    return buckets


def broadcast_parameters(source, root: int = 0, communicator: Communicator | None = None,
                         bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB,
                         check: bool = True) -> None:
    """Copy rank ``root``'s values into every rank's tensors, in place.

    ``source`` is a Module (its parameters and buffers), a dict of tensors (e.g. a
    ``state_dict()``) or an iterable of tensors. The tensors travel packed into a few large
    buffers. With ``check`` it first verifies (one small exchange) that every rank holds tensors
    of the same names, shapes and dtypes, and names the first difference.

    Example:
        >>> import hybridgrad as hg
        >>> model = hg.nn.Linear(2, 1)
        >>> before = model.weight.tolist(); broadcast_parameters(model)
        >>> model.weight.tolist() == before  # one process: nothing changes
        True
    """
    communicator = communicator or get_communicator()
    named = _named_tensors(source)
    if check:
        _check_same_layout(communicator, named, "broadcast_parameters")
    if communicator.size == 1:
        return
    tensors = [tensor for _, tensor in named]
    arrays = [tensor._array for tensor in tensors]
    for bucket in _plan_buckets(arrays, bucket_cap_mb * 1e6):
        flat = np.empty(sum(arrays[i].size for i in bucket), dtype=arrays[bucket[0]].dtype)
        offset = 0
        for i in bucket:
            flat[offset:offset + arrays[i].size] = arrays[i].reshape(-1)
            offset += arrays[i].size
        communicator.broadcast(flat, root)
        offset = 0
        for i in bucket:
            value = flat[offset:offset + arrays[i].size].reshape(arrays[i].shape)
            offset += arrays[i].size
            if arrays[i].flags.writeable:
                np.copyto(arrays[i], value)
            else:
                tensors[i]._array = value.copy()


def average_buffers(module: Module, communicator: Communicator | None = None) -> None:
    """Make every rank's buffers equal: floating-point buffers (batch norm's running mean and
    variance) become their mean over the ranks, the others (``num_batches_tracked``) rank 0's.

    Batch norm updates its running statistics from each rank's own batches, so replicas drift
    apart there even though their parameters stay identical; call this before evaluating or
    saving (timm's ``distribute_bn(reduce=True)``). The mean of the per-rank running variances
    is an approximation of the variance over all ranks' data, as in those libraries.

    Example:
        >>> import hybridgrad as hg
        >>> norm = hg.nn.BatchNorm1d(2); average_buffers(norm)
        >>> norm.running_var.tolist()
        [1.0, 1.0]
    """
    communicator = communicator or get_communicator()
    if communicator.size == 1:
        return
    buffers = [buffer for buffer in module.buffers() if buffer is not None]
    floating = [buffer for buffer in buffers if buffer._array.dtype.kind == "f"]
    others = [buffer for buffer in buffers if buffer._array.dtype.kind != "f"]
    arrays = [buffer._array for buffer in floating]
    for bucket in _plan_buckets(arrays, DEFAULT_BUCKET_CAP_MB * 1e6):
        flat = np.concatenate([arrays[i].reshape(-1) for i in bucket])
        communicator.allreduce(flat)
        flat /= communicator.size
        offset = 0
        for i in bucket:
            floating[i]._array = flat[offset:offset + arrays[i].size].reshape(arrays[i].shape)
            offset += arrays[i].size
    if others:
        broadcast_parameters(others, communicator=communicator, check=False)


class GradientAverager:
    """Averages the ``.grad`` of a fixed list of parameters across ranks, in buckets.

    The bucket plan is computed once from the parameters (in order, split by dtype and by
    ``bucket_cap_mb``); each call packs the gradients into fresh contiguous buffers, runs one
    ``allreduce`` per bucket, divides by the world size and hands each parameter a view of the
    result. ``calls`` counts the allreduce calls made (useful to check the bucketing), ``seconds``
    the time spent in them.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.ones(3)); (w * 2).sum().backward()
        >>> averager = GradientAverager([w]); averager()
        >>> w.grad.tolist(), len(averager.buckets)
        ([2.0, 2.0, 2.0], 1)
    """

    def __init__(self, parameters: Iterable[Tensor], communicator: Communicator | None = None,
                 bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB):
        if bucket_cap_mb <= 0:
            raise ValueError(f"GradientAverager: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        self.communicator = communicator or get_communicator()
        seen: set[int] = set()
        self.parameters = []
        for parameter in parameters:
            if parameter.requires_grad and id(parameter) not in seen:
                seen.add(id(parameter))
                self.parameters.append(parameter)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.buckets = _plan_buckets([p._array for p in self.parameters], bucket_cap_mb * 1e6)
        self.calls = 0
        self.seconds = 0.0

    def __call__(self) -> None:
        """Average the current gradients over all ranks (a collective: every rank calls it)."""
        size = self.communicator.size
        if size == 1 or not self.parameters:
            return
        present = np.array([p.grad is not None for p in self.parameters], dtype=np.float64)
        for number, bucket in enumerate(self.buckets):
            dtype = self.parameters[bucket[0]]._array.dtype
            # The first bucket also carries one slot per parameter counting the ranks that
            # had a gradient for it, so "no gradient anywhere" survives without an extra call.
            extra = len(self.parameters) if number == 0 else 0
            flat = np.empty(sum(self.parameters[i]._array.size for i in bucket) + extra,
                            dtype=dtype)
            offset = 0
            for i in bucket:
                parameter = self.parameters[i]
                count = parameter._array.size
                if parameter.grad is None:
                    flat[offset:offset + count] = 0
                else:
                    grad = parameter.grad._array
                    if grad.shape != parameter._array.shape:
                        raise ValueError(f"GradientAverager: gradient of shape {grad.shape} for "
                                         f"a parameter of shape {parameter._array.shape}")
                    flat[offset:offset + count] = grad.reshape(-1)
                offset += count
            if extra:
                flat[offset:] = present
            start = time.perf_counter()
            self.communicator.allreduce(flat)
            self.seconds += time.perf_counter() - start
            self.calls += 1
            if extra:
                present = flat[offset:].astype(np.float64)
                flat = flat[:offset]
            flat /= size
            offset = 0
            for i in bucket:
                parameter = self.parameters[i]
                count = parameter._array.size
                view = flat[offset:offset + count].reshape(parameter._array.shape)
                offset += count
                parameter.grad = Tensor._wrap(view)
        for parameter, count in zip(self.parameters, present):
            if count == 0:
                parameter.grad = None


class DistributedOptimizer:
    """Wrap an optimizer so that ``step()`` first averages the gradients across ranks
    (Horovod's ``DistributedOptimizer``).

    Everything else (``zero_grad``, ``param_groups``, ``state_dict``, learning-rate
    schedulers) goes to the wrapped optimizer. Call ``synchronize()`` yourself when you need
    the averaged gradients before ``step()`` (gradient clipping); ``step()`` then does not
    average twice. Gradient accumulation: run several backward passes, then one ``step()``.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.ones(2))
        >>> optimizer = DistributedOptimizer(hg.optim.SGD([w], lr=0.5))
        >>> (w * w).sum().backward(); optimizer.step(); w.tolist()
        [0.0, 0.0]
    """

    def __init__(self, optimizer, communicator: Communicator | None = None,
                 bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB):
        self.optimizer = optimizer
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        self.averager = GradientAverager(parameters, communicator, bucket_cap_mb)
        self._synchronized = False

    def synchronize(self) -> None:
        """Average the gradients now (a collective: every rank calls it)."""
        self.averager()
        self._synchronized = True

    def step(self, closure=None):
        """Average the gradients (unless :meth:`synchronize` already did) and update."""
        if closure is not None:
            raise ValueError("DistributedOptimizer.step: closures are not supported (the "
                             "closure's backward would need averaging inside the wrapped "
                             "optimizer); call backward, then step()")
        if not self._synchronized:
            self.averager()
        self._synchronized = False
        return self.optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict)

    def __getattr__(self, name: str):
        # Only reached for attributes not found normally: param_groups, state, defaults...
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"


class DistributedDataParallel(Module):
    """Wrap a model for data-parallel training (PyTorch's name and ``module.`` state_dict
    prefix).

    On construction rank 0's parameters and buffers are broadcast to every rank. Before each
    training-mode forward, buffers (batch-norm running statistics) are broadcast from rank 0
    when ``broadcast_buffers`` (PyTorch's default). After ``backward()`` call
    ``allreduce_gradients()`` (or use a :class:`DistributedOptimizer`, which does it in
    ``step()``); hybridgrad's autograd has no hooks to start it from inside ``backward()``.

    Example:
        >>> import hybridgrad as hg
        >>> model = DistributedDataParallel(hg.nn.Linear(3, 1))
        >>> model(hg.ones(2, 3)).sum().backward(); model.allreduce_gradients()
        >>> sorted(model.state_dict())
        ['module.bias', 'module.weight']
    """

    def __init__(self, module: Module, communicator: Communicator | None = None,
                 bucket_cap_mb: float = DEFAULT_BUCKET_CAP_MB, broadcast_buffers: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a hg.nn.Module, got "
                            f"{type(module).__name__}")
        self.module = module
        self.communicator = communicator or get_communicator()
        self.broadcast_buffers = bool(broadcast_buffers)
        broadcast_parameters(module, communicator=self.communicator,
                             bucket_cap_mb=bucket_cap_mb)
        self.averager = GradientAverager(module.parameters(), self.communicator, bucket_cap_mb)
        self._sync = True

    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.training and self.communicator.size > 1:
            buffers = [buffer for buffer in self.module.buffers() if buffer is not None]
            if buffers:
                broadcast_parameters(buffers, communicator=self.communicator, check=False)
        return self.module(*args, **kwargs)

    def allreduce_gradients(self) -> None:
        """Average the parameters' gradients across ranks (a collective). Does nothing inside
        :meth:`no_sync`."""
        if self._sync:
            self.averager()

    @contextlib.contextmanager
    def no_sync(self):
        """Skip ``allreduce_gradients()`` inside the block (accumulate local gradients first).

        Example:
            >>> import hybridgrad as hg
            >>> model = DistributedDataParallel(hg.nn.Linear(1, 1))
            >>> with model.no_sync():
            ...     model.allreduce_gradients()  # no communication
        """
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous
