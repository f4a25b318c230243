"""Adam and AdamW with PyTorch's update formulas (bias correction, amsgrad, decoupled decay).

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0, -1.0]))
    >>> optimizer = Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); optimizer.step()
    >>> [round(v, 4) for v in w.tolist()]    # the first Adam step moves by lr * sign(grad)
    [0.9, -0.9]
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.optim.optimizer import Optimizer, _new_step, _step_count, _zeros
from hybridgrad.optim.rule import assign, factor, is_set
from hybridgrad.tensor import Tensor


def check_adam_options(lr: float, betas: tuple, eps: float, weight_decay: float) -> None:
    """PyTorch's checks of the options the Adam family shares.

    Example:
        >>> check_adam_options(1e-3, (0.9, 1.0), 1e-8, 0)
        Traceback (most recent call last):
        ...
        ValueError: Invalid beta parameter at index 1: 1.0
    """
    if lr < 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps < 0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
    if weight_decay < 0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def adam_moments(param, grad, state, group) -> tuple:
    """The Adam family's common first part of an update rule: maximize, the step count (as
    float64), weight decay (added to the gradient, or decoupled as AdamW's) and the two moving
    averages. Returns ``(parameter value, gradient, step, exp_avg, exp_avg_sq)``.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.optim.rule import EagerState
        >>> p = hg.tensor([1.0]); state = EagerState({"step": hg.tensor(0.0),
        ...     "exp_avg": hg.zeros(1), "exp_avg_sq": hg.zeros(1)})
        >>> group = {"betas": (0.9, 0.999), "maximize": False, "weight_decay": 0}
        >>> [round(v.item(), 6) for v in adam_moments(p, hg.tensor([2.0]), state, group)[2:]]
        [1.0, 0.2, 0.004]
    """
    beta1, beta2 = group["betas"]
    if group["maximize"]:
        grad = -grad
    step = assign(state["step"], state["step"] + 1).to(dtypes.float64)
    param_value = param
    if is_set(group, "weight_decay"):
        if group.get("decoupled_weight_decay", False):
            param_value = param * factor(1 - group["lr"] * group["weight_decay"], param)
        else:
            grad = grad + param * factor(group["weight_decay"], param)
    exp_avg = assign(state["exp_avg"], state["exp_avg"]
                     + (grad - state["exp_avg"]) * factor(1 - beta1, param))
    exp_avg_sq = assign(state["exp_avg_sq"], state["exp_avg_sq"] * factor(beta2, param)
                        + grad * factor(1 - beta2, param) * grad)
    return param_value, grad, step, exp_avg, exp_avg_sq


class Adam(Optimizer):
    """PyTorch's Adam. Per step ``t``, with ``g = grad (+ weight_decay * p)``:
    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``; with amsgrad
    ``v_max = max(v_max, v)`` is used instead of ``v``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    ``decoupled_weight_decay=True`` is AdamW's ``p *= 1 - lr * weight_decay`` instead of adding
    to the gradient. ``foreach``, ``capturable``, ``differentiable`` and ``fused`` are accepted
    and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> Adam([hg.nn.Parameter(hg.zeros(1))]).defaults["betas"]
        (0.9, 0.999)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        state = {"step": _new_step(), "exp_avg": _zeros(param), "exp_avg_sq": _zeros(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros(param)
        return state

    def update(self, param, grad, state, group) -> None:
        """PyTorch's Adam/AdamW update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        param_value, grad, step, exp_avg, exp_avg_sq = adam_moments(param, grad, state, group)
        if group["amsgrad"]:
            exp_avg_sq = assign(state["max_exp_avg_sq"],
                                state["max_exp_avg_sq"].maximum(exp_avg_sq))
        bias_correction2_sqrt = (1 - beta2 ** step).sqrt()
        denominator = (exp_avg_sq.sqrt() / factor(bias_correction2_sqrt, param)
                       + factor(eps, param))
        step_size = factor(lr / (1 - beta1 ** step), param)
        assign(param, param_value - exp_avg * step_size / denominator)

    def _fast_update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> bool:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            grad = -grad
        step = _step_count(state)
        if weight_decay != 0:
            if group.get("decoupled_weight_decay", False):
                param._array *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param._array
        exp_avg, exp_avg_sq = state["exp_avg"]._array, state["exp_avg_sq"]._array
        # The rule's arithmetic, in place in one scratch buffer (fewer temporaries; out=
        # keeps 0-d results arrays).
        scratch = np.empty(exp_avg.shape, dtype=np.result_type(grad, exp_avg))
        np.subtract(grad, exp_avg, out=scratch)
        scratch *= 1 - beta1
        exp_avg += scratch
        exp_avg_sq *= beta2
        np.multiply(1 - beta2, grad, out=scratch, casting="same_kind")
        scratch *= grad
        exp_avg_sq += scratch
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            maximum = state["max_exp_avg_sq"]._array
            np.maximum(maximum, exp_avg_sq, out=maximum)
            denominator = np.sqrt(maximum)
        else:
            denominator = np.sqrt(exp_avg_sq)
        denominator /= bias_correction2_sqrt
        denominator += eps
        update = np.multiply(lr / bias_correction1, exp_avg, out=scratch, casting="same_kind")
        update /= denominator
        param._array -= update.astype(param._array.dtype, copy=False)
        return True


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam update, instead of adding ``weight_decay * p`` to the gradient.
    PyTorch's default ``weight_decay`` is 1e-2.

    Example:
        >>> import hybridgrad as hg
        >>> AdamW([hg.nn.Parameter(hg.zeros(1))]).defaults["weight_decay"]
        0.01
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
