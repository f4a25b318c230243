"""``torch.distributed``'s process-group calls on hybridgrad's MPI layer.

A PyTorch DDP script calls ``dist.init_process_group(backend="gloo")`` (or ``"mpi"``) and is
started with ``mpirun -n 2 hybridgrad run train_ddp.py``: the process group is the MPI job
(rank and world size come from the launcher). Without a launcher it is a world of one process.
``"nccl"`` is refused as PyTorch's CPU build refuses it. ``torchrun``'s environment
(``RANK``/``WORLD_SIZE`` without MPI) is not supported: start the job with ``mpirun``; scripts
written for ``torchrun`` that read ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` get them from
:func:`torchrun_environment`, which ``hybridgrad run`` applies under ``mpirun``.

Example:
    >>> import hybridgrad as hg
    >>> init_process_group(backend="gloo")
    >>> get_backend(), is_initialized()
    ('gloo', True)
    >>> all_reduce(hg.tensor([1.0, 2.0]), op=ReduceOp.SUM).tolist()
    [1.0, 2.0]
    >>> destroy_process_group(); is_initialized()
    False
"""

from __future__ import annotations

import os

import numpy as np

from hybridgrad.distributed import runtime
from hybridgrad.tensor import Tensor

_BACKENDS = ("mpi", "gloo")
_backend: str | None = None


class ReduceOp:
    """The reductions of :func:`all_reduce` under PyTorch's names (plain strings here).

    Example:
        >>> ReduceOp.SUM, ReduceOp.AVG
        ('sum', 'avg')
    """

    SUM = "sum"
    PRODUCT = "prod"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


# MPI launchers' variables for a process's rank and its rank on its host (Open MPI, MPICH and
# Intel MPI, PMIx, Slurm).
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID")
_LOCAL_RANK_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID")
_LOCAL_SIZE_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")


def torchrun_environment(environ=None) -> dict:
    """The variables ``torchrun`` would set (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``), derived from the MPI launcher's,
    for the ones not already set; empty when not started by an MPI launcher.

    Example:
        >>> torchrun_environment({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1",
        ...                       "OMPI_COMM_WORLD_LOCAL_RANK": "1"})["LOCAL_RANK"]
        '1'
        >>> torchrun_environment({})
        {}
    """
    environ = os.environ if environ is None else environ

    def first(names, default=None):
        return next((environ[name] for name in names if environ.get(name, "").isdigit()),
                    default)

    size = first(("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"))
    rank = first(_RANK_VARIABLES)
    if size is None or rank is None:
        return {}
    local_rank = first(_LOCAL_RANK_VARIABLES, rank)
    values = {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local_rank,
              "LOCAL_WORLD_SIZE": first(_LOCAL_SIZE_VARIABLES, size),
              "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    return {name: value for name, value in values.items() if name not in environ}


def is_available() -> bool:
    """True: the process-group API is always there (MPI is used when launched by mpirun).

    Example:
        >>> is_available()
        True
    """
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (the engine multi-process jobs use).

    Example:
        >>> isinstance(is_mpi_available(), bool)
        True
    """
    from hybridgrad.distributed.communicator import mpi_available

    return mpi_available()


def is_gloo_available() -> bool:
    """True: ``backend="gloo"`` is accepted (and runs on MPI).

    Example:
        >>> is_gloo_available()
        True
    """
    return True


def is_nccl_available() -> bool:
    """False: no NCCL without GPUs.

    Example:
        >>> is_nccl_available()
        False
    """
    return False


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout=None, world_size: int = -1, rank: int = -1, store=None,
                       group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the job: MPI when started by ``mpirun``, else one process. ``world_size``/``rank``,
    when given, must agree with the launcher's.

    Example:
        >>> init_process_group("gloo", world_size=1, rank=0)
        >>> runtime.get_world_size()
        1
        >>> destroy_process_group()
    """
    global _backend
    name = (backend or "gloo").lower()
    if name not in _BACKENDS:
        raise RuntimeError(f"init_process_group: backend {backend!r} is not available in "
                           f"hybridgrad (CPU only); use 'gloo' or 'mpi' (both run on MPI "
                           f"under mpirun)")
    if runtime.launched_world_size() is None and os.environ.get("WORLD_SIZE", "1") != "1":
        raise RuntimeError("init_process_group: WORLD_SIZE is set (torchrun?) but the process "
                           "was not started by an MPI launcher; hybridgrad's process groups are "
                           "MPI jobs: run 'mpirun -n N hybridgrad run script.py'")
    seconds = None if timeout is None else getattr(timeout, "total_seconds", lambda: timeout)()
    communicator = runtime.init(backend="mpi" if runtime.launched_world_size() else "auto",
                                timeout=-1.0 if seconds is None else float(seconds))
    if world_size not in (-1, None) and int(world_size) != communicator.size:
        raise RuntimeError(f"init_process_group: world_size={world_size} but the job has "
                           f"{communicator.size} processes")
    if rank not in (-1, None) and int(rank) != communicator.rank:
        raise RuntimeError(f"init_process_group: rank={rank} but the launcher made this "
                           f"process rank {communicator.rank}")
    _backend = name


def get_backend(group=None) -> str:
    """The backend name given to :func:`init_process_group`.

    Example:
        >>> init_process_group("gloo")
        >>> get_backend()
        'gloo'
        >>> destroy_process_group()
    """
    if _backend is None:
        raise RuntimeError("get_backend: the default process group has not been initialized; "
                           "call init_process_group() first")
    return _backend


def destroy_process_group(group=None) -> None:
    """Leave the process group (MPI itself stays up until the process exits).

    Example:
        >>> destroy_process_group(); is_initialized()
        False
    """
    global _backend
    _backend = None
    runtime._communicator = None


def is_initialized() -> bool:
    """Whether :func:`init_process_group` (or ``hg.distributed.init``) has run.

    Example:
        >>> destroy_process_group(); is_initialized()
        False
    """
    return runtime.is_initialized()


def all_reduce(tensor: Tensor, op: str = ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` across ranks in place (``ReduceOp.SUM/PRODUCT/MIN/MAX/AVG``).

    Example:
        >>> import hybridgrad as hg
        >>> all_reduce(hg.tensor([2.0]), ReduceOp.AVG).tolist()
        [2.0]
    """
    if op == ReduceOp.AVG:
        runtime.all_reduce(tensor, ReduceOp.SUM)
        tensor._array = (tensor._array / runtime.get_world_size()).astype(tensor._array.dtype)
    else:
        runtime.all_reduce(tensor, op)
    # PyTorch returns None; returning the tensor keeps hybridgrad's `total = all_reduce(t)`.
    return _Work() if async_op else tensor


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place.

    Example:
        >>> import hybridgrad as hg
        >>> broadcast(hg.tensor([5]), src=0).tolist()
        [5]
    """
    runtime.broadcast(tensor, src)
    return _Work() if async_op else tensor


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor`` (same shape on every rank).

    Example:
        >>> import hybridgrad as hg
        >>> gathered = [hg.zeros(2)]; all_gather(gathered, hg.tensor([1.0, 2.0]))
        >>> gathered[0].tolist()
        [1.0, 2.0]
    """
    size = runtime.get_world_size()
    if len(tensor_list) != size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} entries but the world "
                         f"has {size} processes")
    stacked = np.zeros((size,) + tuple(tensor.shape), dtype=tensor._array.dtype)
    stacked[runtime.get_rank()] = tensor._array
    runtime.get_communicator().allreduce(stacked, "sum")
    for index, slot in enumerate(tensor_list):
        slot._array = stacked[index].copy()
    return _Work() if async_op else None


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait for every rank.

    Example:
        >>> barrier()
    """
    runtime.barrier()
    return _Work() if async_op else None


class _Work:
    """What ``async_op=True`` returns: the operation has already completed."""

    def wait(self, timeout=None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True
