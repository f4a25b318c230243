"""RMSprop with PyTorch's update formula (centered variant, momentum, weight decay).

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0]))
    >>> optimizer = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward(); optimizer.step()
    >>> round(w.item(), 4)                 # 1 - 0.01 * 2 / sqrt(0.01 * 4)
    0.9
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from hybridgrad.optim.optimizer import Optimizer, _new_step, _step_count, _zeros
from hybridgrad.optim.rule import assign, factor, is_set
from hybridgrad.tensor import Tensor


class RMSprop(Optimizer):
    """PyTorch's RMSprop: ``v = alpha v + (1 - alpha) g^2``; centered: ``a = alpha a +
    (1 - alpha) g`` and ``avg = sqrt(v - a^2) + eps``, else ``avg = sqrt(v) + eps``;
    with momentum ``buf = momentum buf + g / avg; p -= lr buf``, else ``p -= lr g / avg``.
    ``capturable``, ``foreach`` and ``differentiable`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> RMSprop([hg.nn.Parameter(hg.zeros(1))]).defaults["alpha"]
        0.99
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if alpha < 0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        state = {"step": _new_step(), "square_avg": _zeros(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros(param)
        if group["centered"]:
            state["grad_avg"] = _zeros(param)
        return state

    def update(self, param, grad, state, group) -> None:
        """PyTorch's RMSprop update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        alpha = group["alpha"]
        if group["maximize"]:
            grad = -grad
        assign(state["step"], state["step"] + 1)
        if is_set(group, "weight_decay"):
            grad = grad + param * factor(group["weight_decay"], param)
        keep, take = factor(alpha, param), factor(1 - alpha, param)
        square_avg = assign(state["square_avg"], state["square_avg"] * keep + grad * take * grad)
        if group["centered"]:
            grad_avg = assign(state["grad_avg"],
                              state["grad_avg"] + (grad - state["grad_avg"]) * take)
            # v - a^2 >= 0 in exact arithmetic; clamp the rounding error that would make it
            # slightly negative (PyTorch would produce NaN there).
            average = (square_avg - grad_avg * grad_avg).clamp(min=0).sqrt()
        else:
            average = square_avg.sqrt()
        average = average + factor(group["eps"], param)
        lr = factor(group["lr"], param)
        if is_set(group, "momentum"):
            buffer = assign(state["momentum_buffer"],
                            state["momentum_buffer"] * factor(group["momentum"], param)
                            + grad / average)
            assign(param, param - buffer * lr)
        else:
            assign(param, param - grad * lr / average)

    def _fast_update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> bool:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        if group["maximize"]:
            grad = -grad
        _step_count(state)
        if weight_decay != 0:
            grad = grad + weight_decay * param._array
        square_avg = state["square_avg"]._array
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]._array
            grad_avg += (grad - grad_avg) * (1 - alpha)
            variance = square_avg - grad_avg * grad_avg
            average = np.sqrt(np.maximum(variance, 0, out=variance)) + eps
        else:
            average = np.sqrt(square_avg) + eps
        if momentum > 0:
            buffer = state["momentum_buffer"]._array
            buffer *= momentum
            buffer += grad / average
            param._array -= (lr * buffer).astype(param._array.dtype, copy=False)
        else:
            param._array -= (lr * grad / average).astype(param._array.dtype, copy=False)
        return True
