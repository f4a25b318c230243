"""Schedulers made of other schedulers: :class:`SequentialLR` (one after another, switching at
milestones) and :class:`ChainedScheduler` (all together). Re-exported by
:mod:`hybridgrad.optim.lr_scheduler`, where PyTorch programs find them.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.optim.lr_scheduler import ConstantLR, ExponentialLR
    >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
    >>> scheduler = SequentialLR(optimizer, [ConstantLR(optimizer, 0.5, total_iters=5),
    ...                                      ExponentialLR(optimizer, 0.5)], milestones=[1])
    >>> scheduler.step(); scheduler.get_last_lr()
    [1.0]
"""

from __future__ import annotations

import bisect

from hybridgrad.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau, _copy
from hybridgrad.optim.optimizer import Optimizer


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at each of the ``milestones`` (steps);
    each scheduler starts from its epoch 0 when it takes over.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> from hybridgrad.optim.lr_scheduler import ExponentialLR, LinearLR
        >>> warmup = LinearLR(optimizer, start_factor=0.5, total_iters=2)
        >>> decay = ExponentialLR(optimizer, gamma=0.5)
        >>> scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[2])
        >>> lrs = []
        >>> for _ in range(5):
        ...     lrs.append(scheduler.get_last_lr()[0]); optimizer.step(); scheduler.step()
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list,
                 last_epoch: int = -1) -> None:
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler")
        for index, scheduler in enumerate(schedulers):
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {index} does not use the optimizer "
                                 f"given to SequentialLR")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError("SequentialLR does not support ReduceLROnPlateau (it needs "
                                 "a metric)")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # The schedulers' constructors each stepped once: start again from the initial lrs,
        # with only the first scheduler's initial step.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            scheduler.last_epoch -= 1
        self._schedulers[0]._step_count = 0
        self._schedulers[0].step()
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self, epoch: int | None = None) -> None:
        """Advance the scheduler whose turn it is (restarting it at its milestone)."""
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler.step(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        """Own attributes plus each scheduler's state dict (PyTorch's layout)."""
        state = {key: _copy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore own attributes and each scheduler's state."""
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        self.__dict__.update({key: _copy(value) for key, value in state.items()})
        for scheduler, scheduler_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(scheduler_state)


class ChainedScheduler(LRScheduler):
    """Step several schedulers together at every step (their multiplicative effects compose).

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> from hybridgrad.optim.lr_scheduler import ConstantLR, ExponentialLR
        >>> scheduler = ChainedScheduler([ConstantLR(optimizer, factor=0.5, total_iters=2),
        ...                               ExponentialLR(optimizer, gamma=0.5)])
        >>> lrs = []
        >>> for _ in range(3):
        ...     lrs.append(scheduler.get_last_lr()[0]); optimizer.step(); scheduler.step()
        >>> lrs
        [0.5, 0.25, 0.25]
    """

    def __init__(self, schedulers: list, optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler expects at least one scheduler")
        optimizer = optimizer or schedulers[0].optimizer
        for index, scheduler in enumerate(schedulers):
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"ChainedScheduler: scheduler {index} uses another optimizer")
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Step every scheduler once."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    state_dict = SequentialLR.state_dict
    load_state_dict = SequentialLR.load_state_dict


__all__ = ["ChainedScheduler", "SequentialLR"]
