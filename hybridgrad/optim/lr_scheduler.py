"""Learning-rate schedulers with PyTorch's classes, defaults and update rules.

Each scheduler changes ``param_group['lr']`` of its optimizer when :meth:`LRScheduler.step`
is called (once per epoch, or per batch for OneCycleLR). Like PyTorch, the multiplicative
schedulers update the current lr ("chainable" form), so they compose with other schedulers.

Example:
    >>> import hybridgrad as hg
    >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
    >>> scheduler = StepLR(optimizer, step_size=2, gamma=0.1)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(scheduler.get_last_lr()[0], 6))
    ...     optimizer.step(); scheduler.step()
    >>> lrs
    [1.0, 1.0, 0.1, 0.1, 0.01]
"""

from __future__ import annotations

import math
import types
from collections import Counter
from typing import Callable, Iterable

from hybridgrad.optim.optimizer import Optimizer

__all__ = ["ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
           "CyclicLR",
           "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR",
           "MultiplicativeLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "SequentialLR",
           "StepLR"]


class LRScheduler:
    """Base class: keeps ``base_lrs``, ``last_epoch`` and the last computed lrs.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=0.1)
        >>> ExponentialLR(optimizer, gamma=0.5).state_dict()["last_epoch"]
        0
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{index}] "
                                   "when resuming an optimizer")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        """The lrs for the current ``last_epoch`` (computed by each subclass)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last :meth:`step` (one per parameter group)."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch``, using the closed form when there is one)."""
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (PyTorch's layout).

        Example:
            >>> import hybridgrad as hg
            >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=0.1)
            >>> sorted(StepLR(optimizer, 3).state_dict())[:3]
            ['_last_lr', '_step_count', 'base_lrs']
        """
        return {key: _copy(value) for key, value in self.__dict__.items()
                if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        self.__dict__.update({key: _copy(value) for key, value in state_dict.items()})


def _copy(value):
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, Counter):
        return Counter(value)
    return value


_LRScheduler = LRScheduler


def _per_group(name: str, value, optimizer: Optimizer) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"expected {len(optimizer.param_groups)} values for {name}, got "
                             f"{len(value)}")
        return list(value)
    return [value] * len(optimizer.param_groups)


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)`` (one function, or one per parameter group).

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=0.5)
        >>> scheduler = LambdaLR(optimizer, lambda epoch: 1 / (epoch + 1))
        >>> scheduler.step(); scheduler.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list,
                 last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = _per_group("lr_lambda", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * function(self.last_epoch)
                for function, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict:
        """Like the base class; plain functions are saved as None (PyTorch's rule), callable
        objects by their ``__dict__``."""
        state = {key: _copy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(function, types.FunctionType)
                               else dict(function.__dict__) for function in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas")
        super().load_state_dict(state)
        for function, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                function.__dict__.update(saved)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
        >>> scheduler.step(); scheduler.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = MultiStepLR(optimizer, milestones=[1, 3], gamma=0.5)
        >>> for _ in range(3): scheduler.step()
        >>> scheduler.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return [group["lr"] for group in self.optimizer.param_groups]
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        passed = sum(count for milestone, count in self.milestones.items()
                     if milestone <= self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = ExponentialLR(optimizer, gamma=0.5)
        >>> scheduler.step(); scheduler.step(); scheduler.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2`` (SGDR without
    restarts), computed recursively as PyTorch does (past ``T_max`` it rises again).

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = CosineAnnealingLR(optimizer, T_max=4)
        >>> for _ in range(2): scheduler.step()
        >>> [round(lr, 6) for lr in scheduler.get_last_lr()]
        [0.5]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        epoch, period = self.last_epoch, self.T_max
        if epoch == 0:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and epoch > 0:
            return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(epoch * math.pi
                                                                            / period)) / 2
                    for base_lr in self.base_lrs]
        if (epoch - 1 - period) % (2 * period) == 0:
            return [group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / period)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * epoch / period))
                / (1 + math.cos(math.pi * (epoch - 1) / period))
                * (group["lr"] - self.eta_min) + self.eta_min for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr linearly from ``start_factor * base_lr`` to ``end_factor * base_lr`` over
    ``total_iters`` steps (a warm-up), then keep it.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = LinearLR(optimizer, start_factor=0.5, total_iters=2)
        >>> lrs = [scheduler.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     scheduler.step(); lrs.append(round(scheduler.get_last_lr()[0], 6))
        >>> lrs
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1] and end_factor in "
                             f"[0, 1], got {start_factor} and {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        change = self.end_factor - self.start_factor
        factor = 1.0 + change / (self.total_iters * self.start_factor
                                 + (self.last_epoch - 1) * change)
        return [group["lr"] * factor for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
                for base_lr in self.base_lrs]


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` once a metric has stopped improving for ``patience``
    epochs; call ``step(metric)`` after each validation.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = ReduceLROnPlateau(optimizer, patience=1, factor=0.5)
        >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
        ...     scheduler.step(loss)
        >>> scheduler.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list = 0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.factor = factor
        self.min_lrs = [float(v) for v in _per_group("min_lr", min_lr, optimizer)]
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def is_better(self, current: float, best: float) -> bool:
        """Whether ``current`` improves on ``best`` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return current < best * (1.0 - self.threshold)
        if self.mode == "min":
            return current < best - self.threshold
        if self.threshold_mode == "rel":
            return current > best * (self.threshold + 1.0)
        return current > best + self.threshold

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record the metric of one epoch and reduce the lr if it has plateaued."""
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lrs after the last :meth:`step`."""
        return self._last_lr

    def state_dict(self) -> dict:
        """Every attribute except the optimizer."""
        return {key: _copy(value) for key, value in self.__dict__.items()
                if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        self.__dict__.update({key: _copy(value) for key, value in state_dict.items()})


class MultiplicativeLR(LRScheduler):
    """Multiply the lr by ``lr_lambda(epoch)`` at every step after the first.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = MultiplicativeLR(optimizer, lambda epoch: 0.5)
        >>> scheduler.step(); scheduler.step(); scheduler.get_last_lr()
        [0.25]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | list,
                 last_epoch: int = -1) -> None:
        self.lr_lambdas = _per_group("lr_lambda", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch > 0:
            return [group["lr"] * function(self.last_epoch)
                    for group, function in zip(groups, self.lr_lambdas)]
        return [group["lr"] for group in groups]

    def state_dict(self) -> dict:
        """Every attribute except the optimizer and the functions (PyTorch's layout)."""
        state = super().state_dict()
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by :meth:`state_dict` (the functions stay)."""
        functions = self.lr_lambdas
        super().load_state_dict(state_dict)
        self.lr_lambdas = functions


class ConstantLR(LRScheduler):
    """Multiply the lr by ``factor`` for the first ``total_iters`` steps, then restore it.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = ConstantLR(optimizer, factor=0.5, total_iters=2)
        >>> lrs = [scheduler.get_last_lr()[0]]
        >>> for _ in range(3):
        ...     scheduler.step(); lrs.append(scheduler.get_last_lr()[0])
        >>> lrs
        [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not 0 <= factor <= 1:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        done = self.last_epoch >= self.total_iters
        return [base_lr * (self.factor + done * (1 - self.factor)) for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the lr as ``base_lr * (1 - t / total_iters) ** power`` for ``total_iters`` steps.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = PolynomialLR(optimizer, total_iters=4, power=2.0)
        >>> scheduler.step(); scheduler.get_last_lr()     # (1 - 1/4)^2
        [0.5625]
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        decay = ((1.0 - self.last_epoch / self.total_iters)
                 / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [group["lr"] * decay for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        left = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * left ** self.power for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_0`` steps, restarting each time
    (each period ``T_mult`` times longer than the last; SGDR, Loshchilov & Hutter).
    ``step(epoch)`` accepts fractional epochs (``epoch + batch / batches``), as in PyTorch.

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=1.0)
        >>> scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=2)
        >>> lrs = []
        >>> for _ in range(4):
        ...     lrs.append(round(scheduler.get_last_lr()[0], 6)); scheduler.step()
        >>> lrs
        [1.0, 0.5, 1.0, 0.5]
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1,  # noqa: N803
                 eta_min: float = 0.0, last_epoch: int = -1) -> None:
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.eta_min + (base_lr - self.eta_min)
                * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one step, or jump to ``epoch`` (fractional epochs allowed)."""
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur - self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    restarts = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1,
                                            self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** restarts - 1) / (
                        self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** restarts
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


# Cyclic schedules and schedulers made of other schedulers (their own modules, re-exported).
from hybridgrad.optim.cyclic_schedulers import CyclicLR, OneCycleLR  # noqa: E402
from hybridgrad.optim.scheduler_sequences import ChainedScheduler, SequentialLR  # noqa: E402
