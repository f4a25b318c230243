"""Rprop (resilient backpropagation) with PyTorch's update rule, written once (see
:mod:`hybridgrad.optim.rule`), so it steps eagerly and compiles.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0, -1.0]))
    >>> optimizer = Rprop([w], lr=0.1)
    >>> (w * w).sum().backward(); optimizer.step()
    >>> [round(v, 4) for v in w.tolist()]     # each moves by its step size (lr) against the sign
    [0.9, -0.9]
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from hybridgrad.ops import api
from hybridgrad.optim.optimizer import Optimizer, _new_step, _zeros
from hybridgrad.optim.rule import assign, factor
from hybridgrad.tensor import Tensor


class Rprop(Optimizer):
    """PyTorch's Rprop: per coordinate, the step size grows by ``etas[1]`` while the gradient
    keeps its sign and shrinks by ``etas[0]`` when it flips (clamped to ``step_sizes``); the
    parameter moves by the step size against the gradient's sign, and after a flip the
    gradient counts as zero (no move, no flip next time). Step sizes start at ``lr``.
    ``capturable``, ``foreach`` and ``differentiable`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> Rprop([hg.nn.Parameter(hg.zeros(1))]).defaults["step_sizes"]
        (1e-06, 50)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {"step": _new_step(), "prev": _zeros(param),
                "step_size": Tensor._wrap(np.full_like(param._array, group["lr"]))}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's Rprop update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        shrink, grow = group["etas"]
        smallest, largest = group["step_sizes"]
        if group["maximize"]:
            grad = -grad
        assign(state["step"], state["step"] + 1)
        agreement = grad * state["prev"]
        old = state["step_size"]
        # (each branch in the parameter's dtype: a where() of bare numbers would be float32)
        changed = api.where(agreement > 0, old * factor(grow, param),
                            api.where(agreement < 0, old * factor(shrink, param), old))
        # (clamp() takes numbers; the bounds may be symbols here)
        step_size = assign(old, api.minimum(api.maximum(changed, factor(smallest, param)),
                                            factor(largest, param)))
        grad = api.where(agreement < 0, 0.0, grad)
        assign(param, param - grad.sign() * step_size)
        assign(state["prev"], grad)
