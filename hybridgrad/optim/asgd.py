"""ASGD (averaged stochastic gradient descent) with PyTorch's update rule, written once (see
:mod:`hybridgrad.optim.rule`), so it steps eagerly and compiles.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0]))
    >>> optimizer = ASGD([w], lr=0.1, lambd=0.0)
    >>> (w * w).sum().backward(); optimizer.step()
    >>> round(w.item(), 4)     # 1 - 0.1 * 2, like SGD
    0.8
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops import api
from hybridgrad.optim.optimizer import Optimizer, _new_step, _zeros
from hybridgrad.optim.rule import assign, factor, is_set
from hybridgrad.tensor import Tensor


class ASGD(Optimizer):
    """PyTorch's ASGD: ``p = p (1 - lambd eta) - eta g`` (with ``g = grad (+ weight_decay p)``);
    the average ``ax`` follows ``p`` (``ax += mu (p - ax)``, or ``ax = p`` while ``mu = 1``);
    then ``eta = lr / (1 + lambd lr t)^alpha`` and ``mu = 1 / max(1, t - t0)``. The averaged
    parameters are in ``optimizer.state[p]["ax"]``. ``foreach``, ``differentiable`` and
    ``capturable`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> ASGD([hg.nn.Parameter(hg.zeros(1))]).defaults["t0"]
        1000000.0
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        if not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not weight_decay >= 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {"step": _new_step(), "eta": Tensor._wrap(np.asarray(group["lr"], np.float32)),
                "mu": Tensor._wrap(np.ones((), np.float32)), "ax": _zeros(param)}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's ASGD update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        lr, lambd = group["lr"], group["lambd"]
        if group["maximize"]:
            grad = -grad
        step = assign(state["step"], state["step"] + 1).to(dtypes.float64)
        if is_set(group, "weight_decay"):
            grad = grad + param * factor(group["weight_decay"], param)
        eta, mu = state["eta"].to(dtypes.float64), state["mu"]
        value = (param * factor(1 - lambd * eta, param) - grad * factor(eta, param))
        assign(param, value)
        average = state["ax"] + (value - state["ax"]) * factor(mu, param)
        assign(state["ax"], api.where(mu == 1, value, average))
        assign(state["eta"], lr / (1 + lambd * lr * step) ** group["alpha"])
        assign(state["mu"], 1 / (step - group["t0"]).clamp(min=1))
