"""Embedding: a lookup table of vectors (PyTorch's ``nn.Embedding``).

Example:
    >>> import hybridgrad as hg
    >>> emb = hg.nn.Embedding(10, 3, padding_idx=0)
    >>> emb(hg.tensor([[0, 4]])).shape, emb.weight[0].tolist()
    ((1, 2, 3), [0.0, 0.0, 0.0])
"""

# ruff: noqa: A002 - "input" is PyTorch's argument name
from __future__ import annotations

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn import functional as F
from hybridgrad.nn import init
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.tensor import Tensor


class Embedding(Module):
    """Row lookup; weight (num_embeddings, embedding_dim) ~ N(0, 1), padding row zero.

    The ``padding_idx`` row receives no gradient.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Embedding(5, 2).weight.shape
        (5, 2)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        check_device(device)
        if scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: scale_grad_by_freq and sparse are not "
                                      "supported")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings {num_embeddings}")
            padding_idx = padding_idx % num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            dtype = np.dtype(dtype or np.float32)
            self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            data = _weight._array if isinstance(_weight, Tensor) else np.asarray(_weight)
            if tuple(data.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(data.shape)}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(np.array(data, copy=True), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._array[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding holding a copy of a 2-D tensor (frozen by default).

        Example:
            >>> import hybridgrad as hg
            >>> emb = hg.nn.Embedding.from_pretrained(hg.eye(3))
            >>> emb(hg.tensor([1])).tolist(), emb.weight.requires_grad
            ([[0.0, 1.0, 0.0]], False)
        """
        if len(embeddings.shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text
