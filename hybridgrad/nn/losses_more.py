"""PyTorch's ranking, embedding and likelihood losses (``MarginRankingLoss``,
``CosineEmbeddingLoss``, ``TripletMarginLoss``, ``HingeEmbeddingLoss``, ``SoftMarginLoss``,
``MultiLabelSoftMarginLoss``, ``PoissonNLLLoss``, ``GaussianNLLLoss``), each a composition of
primitives with PyTorch's defaults and ``reduction``.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.MarginRankingLoss()(hg.tensor([1.0]), hg.tensor([2.0]), hg.tensor([1.0])).item()
    1.0
"""

# ruff: noqa: A002 - ``input`` is PyTorch's argument name
from __future__ import annotations

import math

from hybridgrad.nn.losses import _Loss, _reduce
from hybridgrad.ops import api

__all__ = [
    "CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MarginRankingLoss",
    "MultiLabelSoftMarginLoss", "PoissonNLLLoss", "SoftMarginLoss", "TripletMarginLoss",
    "cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss", "margin_ranking_loss",
    "multilabel_soft_margin_loss", "poisson_nll_loss", "soft_margin_loss",
    "triplet_margin_loss",
]


def margin_ranking_loss(input1, input2, target, margin: float = 0.0,
                        reduction: str = "mean"):
    """``max(0, -target * (input1 - input2) + margin)``.

    Example:
        >>> import hybridgrad as hg
        >>> margin_ranking_loss(hg.tensor([3.0]), hg.tensor([1.0]), hg.tensor([-1.0])).item()
        2.0
    """
    return _reduce(api.relu(-target * (input1 - input2) + margin), reduction,
                   "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: str = "mean"):
    """``input`` where target is 1, ``max(0, margin - input)`` where it is -1.

    Example:
        >>> import hybridgrad as hg
        >>> hinge_embedding_loss(hg.tensor([0.5, 2.0]), hg.tensor([-1.0, 1.0])).item()
        1.25
    """
    loss = api.where(target == 1, input, api.relu(margin - input))
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, reduction: str = "mean"):
    """``log(1 + exp(-target * input))``.

    Example:
        >>> import hybridgrad as hg
        >>> round(soft_margin_loss(hg.tensor([0.0]), hg.tensor([1.0])).item(), 4)
        0.6931
    """
    return _reduce(api.softplus(-target * input), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction: str = "mean"):
    """Binary cross-entropy with logits averaged over classes, per sample.

    Example:
        >>> import hybridgrad as hg
        >>> round(multilabel_soft_margin_loss(hg.zeros(1, 2), hg.tensor([[1.0, 0.0]])).item(), 4)
        0.6931
    """
    loss = target * api.softplus(-input) + (1 - target) * api.softplus(input)
    if weight is not None:
        loss = loss * weight
    return _reduce(api.mean(loss, -1), reduction, "multilabel_soft_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0,
                          reduction: str = "mean"):
    """``1 - cos`` where target is 1, ``max(0, cos - margin)`` where it is -1.

    Example:
        >>> import hybridgrad as hg
        >>> cosine_embedding_loss(hg.tensor([[1.0, 0.0]]), hg.tensor([[1.0, 0.0]]),
        ...                       hg.tensor([1.0])).item()
        0.0
    """
    from hybridgrad.nn.distance import cosine_similarity

    cosine = cosine_similarity(input1, input2, -1, 1e-12)
    loss = api.where(target == 1, 1 - cosine, api.relu(cosine - margin))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean"):
    """``max(0, d(a, p) - d(a, n) + margin)`` with the p-norm distance.

    Example:
        >>> import hybridgrad as hg
        >>> triplet_margin_loss(hg.zeros(1, 2), hg.zeros(1, 2), hg.ones(1, 2) * 9).item()
        0.0
    """
    from hybridgrad.nn.distance import pairwise_distance

    positive_distance = pairwise_distance(anchor, positive, p, eps)
    negative_distance = pairwise_distance(anchor, negative, p, eps)
    if swap:
        negative_distance = api.minimum(negative_distance,
                                      pairwise_distance(positive, negative, p, eps))
    return _reduce(api.relu(positive_distance - negative_distance + margin), reduction,
                   "triplet_margin_loss")


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean"):
    """Poisson negative log-likelihood (``exp(input) - target * input`` for log rates).

    Example:
        >>> import hybridgrad as hg
        >>> poisson_nll_loss(hg.tensor([0.0]), hg.tensor([1.0])).item()
        1.0
    """
    if log_input:
        loss = api.exp(input) - target * input
    else:
        loss = input - target * api.log(input + eps)
    if full:
        stirling = target * api.log(api.where(target > 1, target, 1.0)) - target + 0.5 * api.log(
            api.where(target > 1, target, 1.0) * (2 * math.pi))
        loss = loss + api.where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean"):
    """``0.5 * (log(var) + (input - target)^2 / var)`` (+ ``0.5 log(2 pi)`` when full).

    Example:
        >>> import hybridgrad as hg
        >>> gaussian_nll_loss(hg.tensor([1.0]), hg.tensor([3.0]), hg.tensor([1.0])).item()
        2.0
    """
    if len(var.shape) == len(input.shape) - 1:
        var = api.unsqueeze(var, -1)
    var = api.clamp(var, eps, None)
    loss = 0.5 * (api.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def _loss_class(name: str, function, arguments: tuple, defaults: dict, example: str) -> type:
    def __init__(self, *args, **kwargs):  # noqa: N807 - the class body's __init__
        settings = dict(defaults)
        settings.update(zip(defaults, args))
        settings.update(kwargs)
        _Loss.__init__(self, settings.pop("size_average", None), settings.pop("reduce", None),
                       settings.pop("reduction", "mean"))
        for key, value in settings.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_settings", tuple(settings))

    def forward(self, *inputs):
        options = {key: getattr(self, key) for key in self._settings}
        return function(*inputs, reduction=self.reduction, **options)

    doc = f"Module form of :func:`{function.__name__}`.\n\n    Example:\n{example}"
    return type(name, (_Loss,), {"__init__": __init__, "forward": forward, "__doc__": doc,
                                 "__module__": __name__, "_arguments": arguments})


MarginRankingLoss = _loss_class("MarginRankingLoss", margin_ranking_loss, (), {
    "margin": 0.0, "size_average": None, "reduce": None, "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.MarginRankingLoss(margin=1.0)(hg.ones(1), hg.ones(1), hg.ones(1)).item()
        1.0
    """)
HingeEmbeddingLoss = _loss_class("HingeEmbeddingLoss", hinge_embedding_loss, (), {
    "margin": 1.0, "size_average": None, "reduce": None, "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.HingeEmbeddingLoss()(hg.tensor([2.0]), hg.tensor([1.0])).item()
        2.0
    """)
SoftMarginLoss = _loss_class("SoftMarginLoss", soft_margin_loss, (), {
    "size_average": None, "reduce": None, "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.SoftMarginLoss()(hg.tensor([100.0]), hg.tensor([1.0])).item() < 1e-40
        True
    """)
MultiLabelSoftMarginLoss = _loss_class("MultiLabelSoftMarginLoss", multilabel_soft_margin_loss,
                                       (), {"weight": None, "size_average": None,
                                            "reduce": None, "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.MultiLabelSoftMarginLoss()(hg.zeros(1, 2), hg.ones(1, 2)).item() > 0
        True
    """)
CosineEmbeddingLoss = _loss_class("CosineEmbeddingLoss", cosine_embedding_loss, (), {
    "margin": 0.0, "size_average": None, "reduce": None, "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.CosineEmbeddingLoss()(hg.ones(1, 2), -hg.ones(1, 2), hg.tensor([1.0])).item()
        2.0
    """)
TripletMarginLoss = _loss_class("TripletMarginLoss", triplet_margin_loss, (), {
    "margin": 1.0, "p": 2.0, "eps": 1e-6, "swap": False, "size_average": None, "reduce": None,
    "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.TripletMarginLoss()(hg.zeros(1, 2), hg.zeros(1, 2), hg.zeros(1, 2)).item()
        1.0
    """)
PoissonNLLLoss = _loss_class("PoissonNLLLoss", poisson_nll_loss, (), {
    "log_input": True, "full": False, "size_average": None, "eps": 1e-8, "reduce": None,
    "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.PoissonNLLLoss()(hg.zeros(1), hg.zeros(1)).item()
        1.0
    """)
GaussianNLLLoss = _loss_class("GaussianNLLLoss", gaussian_nll_loss, (), {
    "full": False, "eps": 1e-6, "reduction": "mean"}, """
        >>> import hybridgrad as hg
        >>> hg.nn.GaussianNLLLoss()(hg.zeros(1), hg.zeros(1), hg.ones(1)).item()
        0.0
    """)
