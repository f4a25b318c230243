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

from typing import Callable, Iterable

import numpy as np

from hybridgrad.optim.optimizer import Optimizer, _new_step, _step_count
from hybridgrad.tensor import Tensor


class RMSprop(Optimizer):
    """PyTorch's RMSprop: ``v = alpha v + (1 - alpha) g^2``; centered: ``a = alpha a +
    (1 - alpha) g`` and ``avg = sqrt(v - a^2) + eps``, else ``avg = sqrt(v) + eps``;
    with momentum ``buf = momentum buf + g / avg; p -= lr buf``, else ``p -= lr g / avg``.

    Example:
        >>> import hybridgrad as hg
        >>> RMSprop([hg.nn.Parameter(hg.zeros(1))]).defaults["alpha"]
        0.99
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
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
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; returns the closure's loss if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            for param in group["params"]:
                grad = self._gradient(param, group["maximize"])
                if grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = _new_step()
                    state["square_avg"] = Tensor._wrap(np.zeros_like(param._array))
                    if momentum > 0:
                        state["momentum_buffer"] = Tensor._wrap(np.zeros_like(param._array))
                    if group["centered"]:
                        state["grad_avg"] = Tensor._wrap(np.zeros_like(param._array))
                _step_count(state)
                if weight_decay != 0:
                    grad = grad + weight_decay * param._array
                square_avg = state["square_avg"]._array
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if group["centered"]:
                    grad_avg = state["grad_avg"]._array
                    grad_avg += (grad - grad_avg) * (1 - alpha)
                    # v - a^2 >= 0 in exact arithmetic; clamp the rounding error that would
                    # make it slightly negative (PyTorch would produce NaN there).
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
        return loss
