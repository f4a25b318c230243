"""What ``hybridgrad train --distributed`` changes in the training loop, in three calls the
:class:`~hybridgrad.training.trainer.Trainer` makes when ``distributed=True``:

- :func:`shard_loader`: the training loader becomes this rank's share of every epoch (a
  :class:`hybridgrad.distributed.DistributedSampler` seeded with the run's seed) with
  ``batch_size / world size`` images per step, so ``batch_size`` stays the global batch;
- :func:`distribute_task`: rank 0's weights go to every rank, and each optimizer averages the
  gradients across ranks in ``step()``;
- :func:`synchronize_epoch`: at the end of an epoch, the logged training sums and batch norm's
  running statistics are averaged over the ranks, so every rank evaluates (and rank 0 saves)
  the same model.

Only rank 0 writes files and prints (``Trainer.writes``). With one process all three are
no-ops, so ``--distributed`` outside ``mpirun`` trains exactly as without it.

Example:
    >>> import numpy as np
    >>> from hybridgrad.training.data import make_loader
    >>> loader = make_loader(np.zeros((10, 1, 2, 2), np.float32), np.arange(10), 4, True, 3)
    >>> sharded = shard_loader(loader, {"seed": 3})   # one process: the whole set, batch 4
    >>> len(sharded), sharded.batch_size
    (3, 4)
"""

from __future__ import annotations

import numpy as np

from hybridgrad import distributed as dist


class BatchSizeError(ValueError):
    """The global batch does not split evenly over the ranks."""


def shard_loader(loader, config: dict):
    """This rank's loader over ``loader.dataset``: same global batch, same drop_last, the
    shuffle order of ``config["seed"]`` split over the ranks.

    Example:
        >>> import numpy as np
        >>> from hybridgrad.training.data import make_loader
        >>> loader = make_loader(np.zeros((6, 1, 2, 2), np.float32), np.arange(6), 3, True)
        >>> type(shard_loader(loader, {"seed": 0}).sampler).__name__
        'DistributedSampler'
    """
    from hybridgrad.data import DataLoader

    world = dist.get_world_size()
    batch_size = int(loader.batch_size)
    if batch_size % world:
        raise BatchSizeError(f"the batch size {batch_size} does not split evenly over {world} "
                             f"processes; pass a --batch-size that is a multiple of {world} "
                             f"(it is the global batch: each process takes batch_size / "
                             f"{world})")
    sampler = dist.DistributedSampler(loader.dataset, shuffle=True, seed=int(config["seed"]))
    return DataLoader(loader.dataset, batch_size=batch_size // world, sampler=sampler,
                      drop_last=loader.drop_last)


def distribute_task(task) -> None:
    """Broadcast rank 0's model to every rank and make each optimizer average gradients.

    Example:
        >>> import hybridgrad as hg
        >>> from types import SimpleNamespace
        >>> model = hg.nn.Linear(2, 1)
        >>> task = SimpleNamespace(model=model, optimizers={
        ...     "optimizer": hg.optim.SGD(model.parameters(), lr=0.1)})
        >>> distribute_task(task); type(task.optimizers["optimizer"]).__name__
        'DistributedOptimizer'
    """
    dist.broadcast_parameters(task.model)
    task.optimizers = {name: dist.DistributedOptimizer(optimizer)
                       for name, optimizer in task.optimizers.items()}


def synchronize_epoch(trainer) -> None:
    """Average the epoch's training sums and the model's buffers over the ranks.

    Example:
        >>> import hybridgrad as hg
        >>> from types import SimpleNamespace
        >>> trainer = SimpleNamespace(sums={"loss": 2.0, "_count": 4},
        ...                           task=SimpleNamespace(model=hg.nn.BatchNorm1d(2)))
        >>> synchronize_epoch(trainer); trainer.sums
        {'loss': 2.0, '_count': 4}
    """
    if dist.get_world_size() == 1:
        return
    names = sorted(trainer.sums)
    values = np.array([float(trainer.sums[name]) for name in names])
    dist.get_communicator().allreduce(values)
    values /= dist.get_world_size()
    trainer.sums = {name: (int(round(value)) if name == "_count" else float(value))
                    for name, value in zip(names, values)}
    dist.average_buffers(trainer.task.model)
