"""Data-parallel training across processes and machines, on MPI (mpi4py) or a single process.

One process per worker, started by ``mpirun -n N python train.py`` (Horovod's and ChainerMN's
model): :func:`init` joins the job, :func:`broadcast_parameters` makes every replica start from
rank 0's weights, :class:`DistributedSampler` gives each rank its share of every epoch,
:class:`DistributedOptimizer` (or :class:`DistributedDataParallel`) averages gradients with one
``allreduce`` per ~25 MB bucket, and rank 0 alone logs and saves (:func:`is_main_process`,
:func:`rank_zero_only`, :func:`save_on_main`). Without ``mpirun`` everything runs as a world of
one process and mpi4py is not needed. See ``docs/distributed.md``.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad import distributed as dist
    >>> comm = dist.init()           # MPI under mpirun, else a single process
    >>> model = hg.nn.Linear(4, 2)
    >>> dist.broadcast_parameters(model)
    >>> optimizer = dist.DistributedOptimizer(hg.optim.SGD(model.parameters(), lr=0.1))
    >>> data = hg.data.TensorDataset(hg.randn(8, 4), hg.tensor([0, 1] * 4))
    >>> loader = hg.data.DataLoader(data, batch_size=2, sampler=dist.DistributedSampler(data))
    >>> for inputs, labels in loader:
    ...     optimizer.zero_grad()
    ...     hg.nn.functional.cross_entropy(model(inputs), labels).backward()
    ...     optimizer.step()
    >>> dist.get_world_size()
    1
"""

from hybridgrad.distributed.communicator import (
    Communicator,
    MPICommunicator,
    SingleProcessCommunicator,
    launched_world_size,
    mpi_available,
)
from hybridgrad.distributed.parallel import (
    DistributedDataParallel,
    DistributedOptimizer,
    GradientAverager,
    average_buffers,
    broadcast_parameters,
)
from hybridgrad.distributed.process_group import (  # PyTorch's torch.distributed calls
    ReduceOp,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_backend,
    init_process_group,
    is_available,
    is_gloo_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
)
from hybridgrad.distributed.runtime import (
    get_communicator,
    get_rank,
    get_world_size,
    init,
    is_main_process,
    rank_zero_only,
    save_on_main,
)
from hybridgrad.distributed.sampler import DistributedSampler

__all__ = ["Communicator", "DistributedDataParallel", "DistributedOptimizer",
           "DistributedSampler", "GradientAverager", "MPICommunicator", "ReduceOp",
           "SingleProcessCommunicator", "all_gather", "all_reduce", "average_buffers", "barrier",
           "broadcast", "broadcast_parameters", "destroy_process_group", "get_backend",
           "get_communicator", "get_rank", "get_world_size", "init", "init_process_group",
           "is_available", "is_gloo_available", "is_initialized", "is_main_process",
           "is_mpi_available", "is_nccl_available", "launched_world_size", "mpi_available",
           "rank_zero_only", "save_on_main"]
