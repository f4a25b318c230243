"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's).

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0]))
    >>> optimizer = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     optimizer.zero_grad()
    ...     (w * w).sum().backward()        # gradient 2w
    ...     optimizer.step()
    >>> round(w.item(), 4)                  # 1 - 0.2 = 0.8; buf = 0.9*2 + 1.6 = 3.4
    0.46
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from hybridgrad.optim.optimizer import Optimizer
from hybridgrad.optim.rule import assign, factor, is_set
from hybridgrad.tensor import Tensor


class SGD(Optimizer):
    """PyTorch's SGD. With ``g = grad + weight_decay * p`` (negated first when maximizing):
    ``buf = g`` on the first step, else ``buf = momentum * buf + (1 - dampening) * g``;
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; ``p -= lr * g``.
    ``foreach``, ``differentiable`` and ``fused`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> SGD([hg.nn.Parameter(hg.zeros(1))]).defaults["lr"]
        0.001
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def update(self, param, grad, state, group) -> None:
        """PyTorch's SGD update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        if group["maximize"]:
            grad = -grad
        if is_set(group, "weight_decay"):
            grad = grad + param * factor(group["weight_decay"], param)
        if is_set(group, "momentum"):
            momentum = factor(group["momentum"], param)
            if "momentum_buffer" not in state:   # (the first step copies the gradient)
                buffer = state.create("momentum_buffer", grad)
            else:
                old = state["momentum_buffer"]
                buffer = assign(old, old * momentum
                                + grad * factor(1 - group["dampening"], param))
            grad = grad + buffer * momentum if group["nesterov"] else buffer
        assign(param, param - grad * factor(group["lr"], param))

    def _fast_update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> bool:
        lr, momentum = group["lr"], group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param._array
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = Tensor._wrap(np.array(grad, dtype=param._array.dtype, copy=True))
                state["momentum_buffer"] = buffer
            else:
                buffer._array *= momentum
                buffer._array += (1 - group["dampening"]) * grad
            if group["nesterov"]:
                grad = grad + momentum * buffer._array
            else:
                grad = buffer._array
        param._array -= (lr * grad).astype(param._array.dtype, copy=False)
        return True
