"""Distances and similarities between rows: ``api.cosine_similarity``, ``api.pairwise_distance``
and their modules.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.CosineSimilarity(dim=0)(hg.tensor([1.0, 0.0]), hg.tensor([1.0, 1.0])).item() > 0.707
    True
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

from hybridgrad.nn.module import Module
from hybridgrad.ops import api

__all__ = ["CosineSimilarity", "PairwiseDistance", "cosine_similarity", "pairwise_distance"]


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """``x1 . x2 / max(|x1| |x2|, eps)`` along ``dim`` (broadcasting).

    Example:
        >>> import hybridgrad as hg
        >>> cosine_similarity(hg.tensor([[1.0, 0.0]]), hg.tensor([[0.0, 2.0]])).tolist()
        [0.0]
    """
    dot = api.sum(x1 * x2, dim)
    norms = api.sqrt(api.sum(x1 * x1, dim)) * api.sqrt(api.sum(x2 * x2, dim))
    return dot / api.clamp(norms, eps, None)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """The p-norm of ``x1 - x2 + eps`` along the last dimension.

    Example:
        >>> import hybridgrad as hg
        >>> round(pairwise_distance(hg.tensor([[0.0, 0.0]]), hg.tensor([[3.0, 4.0]])).item(), 3)
        5.0
    """
    from hybridgrad.ops.api_linalg import norm

    return norm(x1 - x2 + eps, p, -1, keepdim)


class CosineSimilarity(Module):
    """Applies :func:`cosine_similarity`.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.CosineSimilarity()(hg.ones(2, 3), hg.ones(2, 3)).tolist()
        [1.0, 1.0]
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """Applies :func:`pairwise_distance`.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.PairwiseDistance()(hg.zeros(1, 2), hg.zeros(1, 2)).shape
        (1,)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
