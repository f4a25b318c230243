"""NAdam and RAdam: PyTorch's Nesterov-momentum and rectified variants of Adam, each written
once as an update rule (see :mod:`hybridgrad.optim.rule`), so they step eagerly and compile.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0]))
    >>> optimizer = RAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); optimizer.step()
    >>> round(w.item(), 4)   # early steps (rho_t <= 5) use the bias-corrected momentum alone
    0.8
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from hybridgrad import dtypes
from hybridgrad.optim.adam import adam_moments, check_adam_options
from hybridgrad.optim.optimizer import Optimizer, _new_step, _zeros
from hybridgrad.optim.rule import assign, factor
from hybridgrad.tensor import Tensor


class NAdam(Optimizer):
    """PyTorch's NAdam (Adam with Nesterov momentum and momentum decay): with
    ``mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay))`` and ``prod_t = mu_1 ... mu_t``,
    ``p -= lr (1 - mu_t) / (1 - prod_t) * g / d + lr mu_{t+1} / (1 - prod_t mu_{t+1}) * m / d``
    where ``d = sqrt(v / (1 - b2^t)) + eps``. ``decoupled_weight_decay=True`` decays the
    parameter as AdamW does. ``foreach``, ``capturable`` and ``differentiable`` are accepted.

    Example:
        >>> import hybridgrad as hg
        >>> NAdam([hg.nn.Parameter(hg.zeros(1))]).defaults["momentum_decay"]
        0.004
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_adam_options(lr, betas, eps, weight_decay)
        if not momentum_decay >= 0:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {"step": _new_step(), "mu_product": Tensor._wrap(np.ones((), np.float32)),
                "exp_avg": _zeros(param), "exp_avg_sq": _zeros(param)}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's NAdam update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        beta1, beta2 = group["betas"]
        lr, decay = group["lr"], group["momentum_decay"]
        param_value, grad, step, exp_avg, exp_avg_sq = adam_moments(param, grad, state, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        # (the product is kept in float32, as PyTorch keeps it)
        old_product = state["mu_product"]
        mu_product = assign(old_product, old_product * factor(mu, old_product))
        mu_product = mu_product.to(dtypes.float64)
        denominator = ((exp_avg_sq / factor(1 - beta2 ** step, param)).sqrt()
                       + factor(group["eps"], param))
        grad_size = lr * (1.0 - mu) / (1.0 - mu_product)
        avg_size = lr * mu_next / (1.0 - mu_product * mu_next)
        assign(param, param_value - grad / denominator * factor(grad_size, param)
               - exp_avg / denominator * factor(avg_size, param))


class RAdam(Optimizer):
    """PyTorch's RAdam (rectified Adam): with ``rho_inf = 2 / (1 - b2) - 1`` and
    ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``, the bias-corrected momentum
    ``m / (1 - b1^t)`` is scaled by ``lr * r_t * sqrt(1 - b2^t) / (sqrt(v) + eps)`` when
    ``rho_t > 5`` (``r_t`` the variance rectification term), else by ``lr`` alone.
    ``decoupled_weight_decay=True`` decays the parameter as AdamW does. ``foreach``,
    ``capturable`` and ``differentiable`` are accepted and change nothing.

    Example:
        >>> import hybridgrad as hg
        >>> RAdam([hg.nn.Parameter(hg.zeros(1))]).defaults["lr"]
        0.001
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        return {"step": _new_step(), "exp_avg": _zeros(param), "exp_avg_sq": _zeros(param)}

    def update(self, param, grad, state, group) -> None:
        """PyTorch's RAdam update of one parameter (see :mod:`hybridgrad.optim.rule`)."""
        beta1, beta2 = group["betas"]
        param_value, grad, step, exp_avg, exp_avg_sq = adam_moments(param, grad, state, group)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        corrected = exp_avg / factor(bias_correction1, param)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        # (both branches are computed and one chosen, so the rule has no data-dependent
        # Python branch; the clamp keeps the unused branch's square root real)
        rectification = ((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).clamp(min=0).sqrt()
        adaptive = (factor(bias_correction2.sqrt(), param)
                    / (exp_avg_sq.sqrt() + factor(group["eps"], param)))
        lr = factor(group["lr"], param)
        rectified = corrected * lr * adaptive * factor(rectification, param)
        assign(param, param_value - rectified.where(rho_t > 5, corrected * lr))
