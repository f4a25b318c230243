"""Loss functions (functional and module forms) with PyTorch's names, defaults and semantics.

Every loss is a composition of registered primitives (``log_softmax``, ``gather``, ``where``,
``softplus``...), so gradients, gradients of gradients and symbolic graphs all work without
loss-specific backward code. ``reduction`` is ``'none'``, ``'mean'`` or ``'sum'``; PyTorch's
deprecated ``size_average``/``reduce`` arguments are accepted by the module classes and mapped
to ``reduction`` the way PyTorch does.

Example:
    >>> import hybridgrad as hg
    >>> logits = hg.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, hg.tensor([0]))
    >>> round(loss.item(), 4)
    0.1698
    >>> loss.backward()
    >>> [round(v, 4) for v in logits.grad.tolist()[0]]
    [-0.1562, 0.1142, 0.042]
"""

# ruff: noqa: A002 - ``input`` is PyTorch's argument name

from __future__ import annotations

import numpy as np

from hybridgrad.nn.module import Module
from hybridgrad.ops import api
from hybridgrad.tensor import Tensor

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss",
    "L1Loss", "MSELoss", "NLLLoss", "SmoothL1Loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "kl_div", "l1_loss",
    "mse_loss", "nll_loss", "smooth_l1_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(name: str, reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {allowed}, got {reduction!r}")


def _reduce(loss, reduction: str, name: str):
    _check_reduction(name, reduction)
    if reduction == "mean":
        return api.mean(loss)
    if reduction == "sum":
        return api.sum(loss)
    return loss


def _as_tensor(value, like=None):
    if isinstance(value, Tensor) or hasattr(value, "shape") and not isinstance(value, np.ndarray):
        return value
    dtype = like.dtype if like is not None and np.asarray(value).dtype.kind == "f" else None
    return Tensor(np.asarray(value), dtype=dtype)


def _check_same_shape(name: str, input, target) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} must be equal")


# ----------------------------------------------------------------------------------------------
# Regression losses.


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Mean squared error ``(input - target)^2``, reduced by ``reduction``.

    Example:
        >>> import hybridgrad as hg
        >>> mse_loss(hg.tensor([1.0, 2.0]), hg.tensor([0.0, 0.0])).item()
        2.5
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Mean absolute error ``|input - target|``.

    Example:
        >>> import hybridgrad as hg
        >>> l1_loss(hg.tensor([1.0, -3.0]), hg.tensor([0.0, 0.0]), reduction="sum").item()
        4.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    return _reduce(api.abs(input - target), reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``).

    ``beta == 0`` is the L1 loss, as in PyTorch.

    Example:
        >>> import hybridgrad as hg
        >>> smooth_l1_loss(hg.tensor([0.5, 3.0]), hg.zeros(2), reduction="none").tolist()
        [0.125, 2.5]
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    target = _as_tensor(target, input)
    distance = api.abs(input - target)
    if beta == 0:
        return _reduce(distance, reduction, "smooth_l1_loss")
    loss = api.where(distance < beta, distance * distance * (0.5 / beta), distance - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    Example:
        >>> import hybridgrad as hg
        >>> huber_loss(hg.tensor([0.5, 3.0]), hg.zeros(2), reduction="none", delta=2.0).tolist()
        [0.125, 4.0]
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    target = _as_tensor(target, input)
    distance = api.abs(input - target)
    loss = api.where(distance < delta, distance * distance * 0.5, (distance - 0.5 * delta) * delta)
    return _reduce(loss, reduction, "huber_loss")


# ----------------------------------------------------------------------------------------------
# Binary classification.


def _safe_log(x, floor: float = -100.0):
    """``max(log(x), floor)`` with a finite gradient (zero) where ``x == 0``."""
    positive = x > 0
    return api.where(positive, api.clamp(api.log(api.where(positive, x, 1.0)), min=floor), floor)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """``-weight (t log(x) + (1 - t) log(1 - x))`` on probabilities ``x`` in [0, 1].

    As in PyTorch, each log is clamped at -100 so that ``x`` of exactly 0 or 1 gives a finite
    loss (and the gradient there is finite too).

    Example:
        >>> import hybridgrad as hg
        >>> round(binary_cross_entropy(hg.tensor([0.8, 0.1]), hg.tensor([1.0, 0.0])).item(), 4)
        0.1643
        >>> binary_cross_entropy(hg.tensor([0.0]), hg.tensor([1.0])).item()
        100.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    if isinstance(input, Tensor):
        data = input._array
        # NaN compares False: NaN inputs pass through to a NaN loss, as in PyTorch.
        if data.size and (data.min() < 0 or data.max() > 1):
            raise ValueError("binary_cross_entropy: input values must be probabilities in [0, 1] "
                             f"(got min {data.min():.4g}, max {data.max():.4g}); use "
                             "binary_cross_entropy_with_logits for logits")
    loss = -(target * _safe_log(input) + (1 - target) * _safe_log(1 - input))
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one numerically stable expression.

    ``loss = (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)``, which never exponentiates a
    large positive number (PyTorch's formula). ``pos_weight`` broadcasts along the last (class)
    dimension; ``weight`` broadcasts against the whole loss.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([1000.0, -1000.0, 0.0])
        >>> binary_cross_entropy_with_logits(x, hg.tensor([1.0, 0.0, 1.0]),
        ...                                  reduction="none").tolist()
        [0.0, 0.0, 0.6931471824645996]
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_tensor(target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg = api.softplus(-input)
    if pos_weight is not None:
        log_weight = (_as_tensor(pos_weight, input) - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * _as_tensor(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


# ----------------------------------------------------------------------------------------------
# Classification over C classes.


def _class_shape(ndim: int, classes: int) -> tuple:
    """Shape that broadcasts a per-class vector along dimension 1 of an (N, C, d1...) input."""
    return (1, classes) + (1,) * (ndim - 2)


def _check_class_target(name: str, input, target, ignore_index: int) -> None:
    """Eager checks of the class-index target: shape (N, d1, ...) and values in [0, C)."""
    shape, target_shape = tuple(input.shape), tuple(target.shape)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class-index targets must be integers, got {target.dtype}")
    if len(shape) < 2 or target_shape != shape[:1] + shape[2:]:
        raise ValueError(f"{name}: expected target of shape {shape[:1] + shape[2:]} for input "
                         f"of shape {shape} (N, C, d1, ...), got {target_shape}")
    if isinstance(target, Tensor) and target._array.size:
        values = target._array[target._array != ignore_index]
        if values.size and (values.min() < 0 or values.max() >= shape[1]):
            bad = values[(values < 0) | (values >= shape[1])][0]
            raise IndexError(f"{name}: target {int(bad)} is out of bounds for {shape[1]} classes "
                             f"(ignore_index={ignore_index})")


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean"):
    """Negative log-likelihood of class indices given log-probabilities.

    ``input`` is (N, C) or (N, C, d1, ...) (or (C,) with a 0-d target), ``target`` holds class
    indices of shape (N, d1, ...). ``loss_i = -weight[t_i] * input[i, t_i]``; targets equal to
    ``ignore_index`` contribute nothing, and ``'mean'`` divides by the sum of the weights of the
    non-ignored targets (PyTorch's weighted mean; NaN when every target is ignored).

    Example:
        >>> import hybridgrad as hg
        >>> log_probs = hg.log(hg.tensor([[0.5, 0.5], [0.25, 0.75]]))
        >>> round(nll_loss(log_probs, hg.tensor([0, -100])).item(), 4)
        0.6931
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    target = _as_tensor(target)
    if len(input.shape) == 1:
        # Unbatched: a (C,) input with a 0-d target.
        loss = nll_loss(api.unsqueeze(input, 0), api.reshape(target, (1,)), weight, None,
                        ignore_index, None, reduction)
        return api.reshape(loss, ()) if reduction == "none" else loss
    _check_class_target("nll_loss", input, target, ignore_index)
    classes = input.shape[1]
    keep = api.ne(target, ignore_index)
    safe_target = api.unsqueeze(api.where(keep, target, 0), 1)
    keep = api.to(keep, input.dtype)
    picked = api.squeeze(api.gather(input, 1, safe_target), 1)
    if weight is not None:
        weight = _as_tensor(weight, input)
        if tuple(weight.shape) != (classes,):
            raise ValueError(f"nll_loss: weight must have shape ({classes},) for {classes} "
                             f"classes, got {tuple(weight.shape)}")
        per_class = api.broadcast_to(api.reshape(weight, _class_shape(len(input.shape), classes)),
                                   tuple(input.shape))
        sample_weight = api.squeeze(api.gather(per_class, 1, safe_target), 1) * keep
    else:
        sample_weight = keep
    loss = -picked * sample_weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return api.sum(loss)
    return api.sum(loss) / api.sum(sample_weight)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy between logits and class indices or class probabilities (PyTorch's).

    ``input`` is (N, C), (N, C, d1, ...) or (C,). An integer ``target`` of shape (N, d1, ...)
    holds class indices (``weight``, ``ignore_index`` as in :func:`nll_loss`); a floating
    ``target`` of the input's shape holds class probabilities (``'mean'`` then divides by the
    number of samples N*d1*..., not by the weights). ``label_smoothing`` mixes the target with
    the uniform distribution over the C classes.

    Example:
        >>> import hybridgrad as hg
        >>> logits = hg.tensor([[1.0, 2.0, 3.0]])
        >>> round(cross_entropy(logits, hg.tensor([2])).item(), 4)
        0.4076
        >>> round(cross_entropy(logits, hg.tensor([2]), label_smoothing=0.1).item(), 4)
        0.5076
        >>> round(cross_entropy(logits, hg.tensor([[0.0, 0.0, 1.0]])).item(), 4)
        0.4076
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    target = _as_tensor(target, input)
    class_dim = 0 if len(input.shape) == 1 else 1
    classes = input.shape[class_dim]
    log_probs = api.log_softmax(input, dim=class_dim)
    weight_view = None
    if weight is not None:
        weight = _as_tensor(weight, input)
        if tuple(weight.shape) != (classes,):
            raise ValueError(f"cross_entropy: weight must have shape ({classes},) for {classes} "
                             f"classes, got {tuple(weight.shape)}")
        weight_view = weight if class_dim == 0 else api.reshape(
            weight, _class_shape(len(input.shape), classes))

    if target.dtype.kind == "f":
        # Class probabilities.
        _check_same_shape("cross_entropy", input, target)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        products = log_probs * target
        if weight_view is not None:
            products = products * weight_view
        per_sample = -api.sum(products, dim=class_dim)
        if reduction == "none":
            return per_sample
        if reduction == "sum":
            return api.sum(per_sample)
        count = int(np.prod(input.shape, dtype=np.int64)) // max(classes, 1)
        return api.sum(per_sample) / count if count else api.sum(per_sample) * float("nan")

    nll = nll_loss(log_probs, target, weight, None, ignore_index, None, reduction)
    if label_smoothing == 0:
        return nll
    # PyTorch: (1 - eps) * nll + eps / C * (-sum_c w_c log p_c), masked and reduced like nll.
    keep = api.ne(target, ignore_index)
    weighted = log_probs if weight_view is None else log_probs * weight_view
    smooth = api.where(keep, -api.sum(weighted, dim=class_dim), 0.0)
    if reduction == "sum":
        smooth = api.sum(smooth)
    elif reduction == "mean":
        if weight is None:
            denominator = api.sum(api.to(keep, input.dtype))
        else:
            flat_target = api.reshape(api.where(keep, target, 0), (-1,))
            denominator = api.sum(api.gather(weight, 0, flat_target) *
                                api.reshape(api.to(keep, input.dtype), (-1,)))
        smooth = api.sum(smooth) / denominator
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / classes)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """Kullback-Leibler divergence with ``input`` holding log-probabilities (PyTorch's).

    Pointwise ``target * (log(target) - input)`` (0 where ``target == 0``), or with
    ``log_target=True`` ``exp(target) * (target - input)``. ``reduction='batchmean'`` divides
    the sum by the batch size (the mathematically correct KL); ``'mean'`` averages over every
    element, as PyTorch does.

    Example:
        >>> import hybridgrad as hg
        >>> p = hg.tensor([[0.5, 0.5]]); q = hg.tensor([[0.25, 0.75]])
        >>> round(kl_div(hg.log(q), p, reduction="batchmean").item(), 4)
        0.1438
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("kl_div", reduction, _REDUCTIONS + ("batchmean",))
    target = _as_tensor(target, input)
    if log_target:
        loss = api.exp(target) * (target - input)
    else:
        positive = target > 0
        target_log_target = api.where(positive, target * api.log(api.where(positive, target, 1.0)),
                                    0.0)
        loss = target_log_target - target * input
    if reduction == "batchmean":
        batch = input.shape[0] if len(input.shape) else 1
        return api.sum(loss) / batch
    return _reduce(loss, reduction, "kl_div")


# ----------------------------------------------------------------------------------------------
# Module forms.


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else _as_tensor(weight))


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`.

    Example:
        >>> import hybridgrad as hg
        >>> MSELoss(reduction="sum")(hg.tensor([1.0, 2.0]), hg.tensor([1.0, 0.0])).item()
        4.0
    """

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Module form of :func:`l1_loss`.

    Example:
        >>> import hybridgrad as hg
        >>> L1Loss()(hg.tensor([1.0, 2.0]), hg.tensor([1.0, 0.0])).item()
        1.0
    """

    def forward(self, input, target):
        return l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Module form of :func:`smooth_l1_loss`.

    Example:
        >>> import hybridgrad as hg
        >>> SmoothL1Loss(beta=0.5)(hg.tensor([2.0]), hg.tensor([0.0])).item()
        1.75
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Module form of :func:`huber_loss`.

    Example:
        >>> import hybridgrad as hg
        >>> HuberLoss(delta=0.5)(hg.tensor([2.0]), hg.tensor([0.0])).item()
        0.875
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Module form of :func:`binary_cross_entropy` (``weight`` is a buffer).

    Example:
        >>> import hybridgrad as hg
        >>> round(BCELoss()(hg.tensor([0.5]), hg.tensor([1.0])).item(), 4)
        0.6931
    """

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits` (``weight``, ``pos_weight``
    buffers).

    Example:
        >>> import hybridgrad as hg
        >>> loss = BCEWithLogitsLoss(pos_weight=hg.tensor([2.0]))
        >>> round(loss(hg.tensor([0.0]), hg.tensor([1.0])).item(), 4)
        1.3863
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else _as_tensor(weight))
        self.register_buffer("pos_weight",
                             None if pos_weight is None else _as_tensor(pos_weight))

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight,
                                                reduction=self.reduction,
                                                pos_weight=self.pos_weight)


class NLLLoss(_WeightedLoss):
    """Module form of :func:`nll_loss`.

    Example:
        >>> import hybridgrad as hg
        >>> round(NLLLoss()(hg.log(hg.tensor([[0.5, 0.5]])), hg.tensor([1])).item(), 4)
        0.6931
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Module form of :func:`cross_entropy`.

    Example:
        >>> import hybridgrad as hg
        >>> round(CrossEntropyLoss()(hg.tensor([[0.0, 0.0]]), hg.tensor([1])).item(), 4)
        0.6931
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class KLDivLoss(_Loss):
    """Module form of :func:`kl_div`.

    Example:
        >>> import hybridgrad as hg
        >>> KLDivLoss(reduction="batchmean")(hg.log(hg.tensor([[0.5, 0.5]])),
        ...                                   hg.tensor([[0.5, 0.5]])).item()
        0.0
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CTCLoss(_Loss):
    """Module form of :func:`hybridgrad.nn.ctc.ctc_loss`.

    Example:
        >>> import hybridgrad as hg
        >>> log_probs = hg.log_softmax(hg.zeros(3, 1, 2), dim=2)
        >>> round(CTCLoss()(log_probs, hg.tensor([[1]]), [3], [1]).item(), 4)
        0.2877
    """

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        from hybridgrad.nn.ctc import ctc_loss

        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                        self.reduction, self.zero_infinity)
