"""The process group: which communicator this process uses, its rank, and rank-0-only helpers.

:func:`init` picks the engine once per process: MPI when the process was started by an MPI
launcher (``mpirun -n 2 ...``) or when asked for, otherwise a single process that needs nothing
installed. The other functions default to the communicator :func:`init` chose (or a
single-process one before :func:`init` is called), so library code can call
``get_world_size()`` without caring whether the job is distributed.

Example:
    >>> comm = init(backend="single")
    >>> get_rank(), get_world_size(), is_main_process()
    (0, 1, True)
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from hybridgrad.distributed.communicator import (
    Communicator,
    MPICommunicator,
    SingleProcessCommunicator,
    launched_world_size,
)
from hybridgrad.tensor import Tensor

_BACKENDS = ("auto", "mpi", "single")
_communicator: Communicator | None = None
_previous_excepthook = None


def init(backend: str = "auto", communicator: Communicator | None = None,
         abort_on_exception: bool = True, timeout: float | None = -1.0) -> Communicator:
    """Join the job and return its communicator (also kept as the process-wide default).

    ``backend``: ``"auto"`` (MPI when started by ``mpirun``/``mpiexec``/``srun``, else a single
    process, without importing mpi4py), ``"mpi"`` (always MPI; an error when mpi4py is missing),
    ``"single"``. Or pass a ready ``communicator``. With ``abort_on_exception`` (and more than
    one process) an uncaught exception on any rank prints its traceback and calls ``abort()``,
    so the whole job stops instead of the other ranks waiting forever in a collective.
    ``timeout``: seconds a rank may wait inside one MPI collective before it aborts the job
    (negative, the default: ``$HYBRIDGRAD_DISTRIBUTED_TIMEOUT`` or 30 minutes; None: no limit),
    which catches a rank that returned early.

    Calling it again returns the communicator already chosen.

    Example:
        >>> init(backend="single").size
        1
    """
    global _communicator
    if backend not in _BACKENDS:
        raise ValueError(f"hg.distributed.init: backend must be one of {', '.join(_BACKENDS)}, "
                         f"got {backend!r}")
    if communicator is not None:
        _communicator = communicator
    elif _communicator is None:
        launched = launched_world_size()
        if backend == "mpi" or (backend == "auto" and launched is not None):
            try:
                _communicator = MPICommunicator(timeout=timeout)
            except RuntimeError as error:
                where = (f"this process was started by an MPI launcher as one of {launched} "
                         f"processes, but " if launched else "")
                raise RuntimeError(f"hg.distributed.init: {where}{error}") from None
        else:
            _communicator = SingleProcessCommunicator()
    if abort_on_exception and _communicator.size > 1:
        _install_abort_hook(_communicator)
    return _communicator


def _install_abort_hook(communicator: Communicator) -> None:
    global _previous_excepthook
    if _previous_excepthook is not None:
        return
    _previous_excepthook = sys.excepthook

    def abort_job(kind, value, traceback) -> None:
        _previous_excepthook(kind, value, traceback)
        sys.stderr.write(
            f"hybridgrad.distributed: rank {communicator.rank} of {communicator.size} failed "
            f"with {kind.__name__}; aborting the whole job so the other ranks do not wait for "
            f"it forever\n")
        sys.stderr.flush()
        communicator.abort(1)

    sys.excepthook = abort_job


def get_communicator() -> Communicator:
    """The communicator :func:`init` chose, or a single-process one before ``init()``.

    Example:
        >>> get_communicator().rank
        0
    """
    return _communicator if _communicator is not None else SingleProcessCommunicator()


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process.

    Example:
        >>> _ = init(backend="single"); is_initialized()
        True
    """
    return _communicator is not None


def get_rank() -> int:
    """This process's rank (0 when not distributed).

    Example:
        >>> get_rank()
        0
    """
    return get_communicator().rank


def get_world_size() -> int:
    """The number of processes in the job (1 when not distributed).

    Example:
        >>> get_world_size()
        1
    """
    return get_communicator().size


def is_main_process() -> bool:
    """True on rank 0, the process that logs and writes checkpoints.

    Example:
        >>> is_main_process()
        True
    """
    return get_rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point.

    Example:
        >>> barrier()
    """
    get_communicator().barrier()


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Combine ``tensor`` across processes in place (``"sum"``, ``"max"``, ``"min"``,
    ``"prod"``), e.g. to total validation counts. Returns ``tensor``. Not differentiable.

    Example:
        >>> import hybridgrad as hg
        >>> all_reduce(hg.tensor([3.0, 4.0])).tolist()
        [3.0, 4.0]
    """
    tensor._array = _reduced_in_place(tensor._array, lambda array: get_communicator().allreduce(
        array, op))
    return tensor


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite ``tensor`` on every process with rank ``src``'s values, in place.

    Example:
        >>> import hybridgrad as hg
        >>> broadcast(hg.tensor([1, 2])).tolist()
        [1, 2]
    """
    tensor._array = _reduced_in_place(tensor._array, lambda array: get_communicator().broadcast(
        array, src))
    return tensor


def _reduced_in_place(array: np.ndarray, operation) -> np.ndarray:
    if array.flags.c_contiguous and array.flags.writeable:
        operation(array)
        return array
    buffer = np.ascontiguousarray(array).copy()
    return operation(buffer)


def rank_zero_only(function):
    """Decorator: run ``function`` on rank 0 only (other ranks get None). For logging,
    progress bars, plots.

    Example:
        >>> @rank_zero_only
        ... def report(loss):
        ...     print(f"loss {loss:.2f}")
        >>> report(0.5)
        loss 0.50
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if is_main_process():
            return function(*args, **kwargs)
        return None

    return wrapper


def save_on_main(obj, path, metadata: dict | None = None) -> None:
    """``hg.save(obj, path)`` on rank 0 only, then a barrier so no rank reads the file before it
    is complete. Every rank must call it (it is a collective).

    Example:
        >>> import os, tempfile
        >>> import hybridgrad as hg
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
        >>> save_on_main({"w": hg.ones(2)}, path); os.path.exists(path)
        True
    """
    from hybridgrad.serialization import save

    try:
        if is_main_process():
            save(obj, path, metadata=metadata)
    finally:
        barrier()
