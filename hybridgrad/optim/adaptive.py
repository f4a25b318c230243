"""Adagrad, Adadelta and Adamax: PyTorch's per-coordinate adaptive optimizers, each written once
as an update rule (see :mod:`hybridgrad.optim.rule`), so they step eagerly and compile.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0]))
    >>> optimizer = Adadelta([w])
    >>> (w * w).sum().backward(); optimizer.step()
    >>> round(w.item(), 5)   # 1 - sqrt(1e-6) / sqrt(0.1 * 4 + 1e-6) * 2
    0.99684
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.optim.adam import check_adam_options
from hybridgrad.optim.optimizer import Optimizer, _new_step, _zeros
from hybridgrad.optim.rule import assign, factor, is_set
from hybridgrad.tensor import Tensor


def _check(name: str, value: float, low: float = 0.0) -> None:
    if not value >= low:
        raise ValueError(f"Invalid {name}: {value}")


class Adagrad(Optimizer):
    """PyTorch's Adagrad: with ``g = grad (+ weight_decay * p)``, ``sum += g^2``;
    ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)``. The state (``step``,
    ``sum`` filled with ``initial_accumulator_value``) exists from construction, as in PyTorch.
    ``foreach``, ``differentiable`` and ``fused`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.tensor([1.0]))
        >>> optimizer = Adagrad([w], lr=0.5)
        >>> (3 * w).sum().backward(); optimizer.step()
        >>> round(w.item(), 4)     # 1 - 0.5 * 3 / sqrt(9)
        0.5
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check("learning rate", lr)
        _check("lr_decay value", lr_decay)
        _check("weight_decay value", weight_decay)
        _check("initial_accumulator_value value", initial_accumulator_value)
        _check("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param].update(self._init_state(param, group))

    def _init_state(self, param: Tensor, group: dict) -> dict:
        initial = group["initial_accumulator_value"]
        return {"step": _new_step(),
                "sum": Tensor._wrap(np.full_like(param._array, initial))}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's Adagrad update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        if group["maximize"]:
            grad = -grad
        step = assign(state["step"], state["step"] + 1).to(dtypes.float64)
        if is_set(group, "weight_decay"):
            grad = grad + param * factor(group["weight_decay"], param)
        learning_rate = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        total = assign(state["sum"], state["sum"] + grad * grad)
        deviation = total.sqrt() + factor(group["eps"], param)
        assign(param, param - grad / deviation * factor(learning_rate, param))


class Adadelta(Optimizer):
    """PyTorch's Adadelta: with ``g = grad (+ weight_decay * p)``,
    ``v = rho v + (1 - rho) g^2``; ``delta = sqrt(u + eps) / sqrt(v + eps) * g``;
    ``u = rho u + (1 - rho) delta^2``; ``p -= lr * delta``.
    ``foreach``, ``capturable`` and ``differentiable`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> Adadelta([hg.nn.Parameter(hg.zeros(1))]).defaults["rho"]
        0.9
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check("epsilon value", eps)
        _check("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {"step": _new_step(), "square_avg": _zeros(param), "acc_delta": _zeros(param)}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's Adadelta update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        if group["maximize"]:
            grad = -grad
        assign(state["step"], state["step"] + 1)
        if is_set(group, "weight_decay"):
            grad = grad + param * factor(group["weight_decay"], param)
        keep, take = factor(group["rho"], param), factor(1 - group["rho"], param)
        eps = factor(group["eps"], param)
        square_avg = assign(state["square_avg"],
                            state["square_avg"] * keep + grad * take * grad)
        delta = (state["acc_delta"] + eps).sqrt() / (square_avg + eps).sqrt() * grad
        assign(state["acc_delta"], state["acc_delta"] * keep + delta * take * delta)
        assign(param, param - delta * factor(group["lr"], param))


class Adamax(Optimizer):
    """PyTorch's Adamax (Adam with the infinity norm): with ``g = grad (+ weight_decay * p)``,
    ``m = b1 m + (1 - b1) g``; ``u = max(b2 u, |g| + eps)``; ``p -= lr / (1 - b1^t) * m / u``.
    ``foreach``, ``differentiable`` and ``capturable`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> w = hg.nn.Parameter(hg.tensor([1.0]))
        >>> optimizer = Adamax([w], lr=0.1)
        >>> (w * w).sum().backward(); optimizer.step()
        >>> round(w.item(), 4)     # the first step moves by lr * sign(grad)
        0.9
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {"step": _new_step(), "exp_avg": _zeros(param), "exp_inf": _zeros(param)}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's Adamax update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        step = assign(state["step"], state["step"] + 1).to(dtypes.float64)
        if is_set(group, "weight_decay"):
            grad = grad + param * factor(group["weight_decay"], param)
        exp_avg = assign(state["exp_avg"], state["exp_avg"]
                         + (grad - state["exp_avg"]) * factor(1 - beta1, param))
        exp_inf = assign(state["exp_inf"], (state["exp_inf"] * factor(beta2, param))
                         .maximum(grad.abs() + factor(group["eps"], param)))
        step_size = group["lr"] / (1 - beta1 ** step)
        assign(param, param - exp_avg / exp_inf * factor(step_size, param))
