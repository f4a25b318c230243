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
from typing import Callable, Iterable

import numpy as np

from hybridgrad.optim.optimizer import Optimizer, _new_step, _step_count
from hybridgrad.tensor import Tensor


class Adam(Optimizer):
    """PyTorch's Adam. Per step ``t``, with ``g = grad (+ weight_decay * p)``:
    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``; with amsgrad
    ``v_max = max(v_max, v)`` is used instead of ``v``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    Example:
        >>> import hybridgrad as hg
        >>> Adam([hg.nn.Parameter(hg.zeros(1))]).defaults["betas"]
        (0.9, 0.999)
    """

    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; returns the closure's loss if given."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                grad = self._gradient(param, group["maximize"])
                if grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = _new_step()
                    state["exp_avg"] = Tensor._wrap(np.zeros_like(param._array))
                    state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(param._array))
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(param._array))
                step = _step_count(state)
                if weight_decay != 0:
                    if self._decoupled:
                        param._array *= 1 - lr * weight_decay
                    else:
                        grad = grad + weight_decay * param._array
                exp_avg, exp_avg_sq = state["exp_avg"]._array, state["exp_avg_sq"]._array
                # The same arithmetic, in place in one scratch buffer (fewer temporaries; out=
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
                update = np.multiply(lr / bias_correction1, exp_avg, out=scratch,
                                     casting="same_kind")
                update /= denominator
                param._array -= update.astype(param._array.dtype, copy=False)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * weight_decay``
    before the Adam update, instead of adding ``weight_decay * p`` to the gradient.
    PyTorch's default ``weight_decay`` is 1e-2.

    Example:
        >>> import hybridgrad as hg
        >>> AdamW([hg.nn.Parameter(hg.zeros(1))]).defaults["weight_decay"]
        0.01
    """

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
