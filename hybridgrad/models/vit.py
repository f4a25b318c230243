"""A small Vision Transformer (ViT, Dosovitskiy et al. 2020) for 28x28 images.

The image is cut into non-overlapping ``patch_size`` squares, each flattened and projected to
``dim`` features (the patch embedding); a position embedding (sinusoidal or learned) is added, an
optional class token is prepended, a pre-norm multi-head self-attention encoder mixes the tokens
and the class token (or the mean of all tokens) is classified.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.models.vit import ViT
    >>> ViT(dim=16, depth=1, heads=2, mlp_dim=32)(hg.zeros(2, 1, 28, 28)).shape
    (2, 10)
"""

from __future__ import annotations

import math

import numpy as np

import hybridgrad as hg
from hybridgrad import nn


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """The Transformer's fixed position table: ``sin`` on even, ``cos`` on odd features.

    Example:
        >>> table = sinusoidal_positions(4, 6)
        >>> table.shape, float(table[0, 1])
        ((4, 6), 1.0)
    """
    positions = np.arange(length, dtype=np.float64)[:, None]
    frequencies = np.exp(-math.log(10000.0) * np.arange(0, dim, 2, dtype=np.float64) / dim)
    table = np.zeros((length, dim), dtype=np.float64)
    table[:, 0::2] = np.sin(positions * frequencies)
    table[:, 1::2] = np.cos(positions * frequencies[: dim // 2])
    return table.astype(np.float32)


class PatchEmbedding(nn.Module):
    """Cut ``[batch, channels, height, width]`` into ``patch_size`` squares and project each to
    ``dim`` features: ``[batch, patches, dim]`` (a strided convolution, written as a reshape
    and a Linear layer).

    Example:
        >>> import hybridgrad as hg
        >>> PatchEmbedding(7, 1, 8)(hg.zeros(2, 1, 28, 28)).shape
        (2, 16, 8)
    """

    def __init__(self, patch_size: int, in_channels: int, dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Linear(in_channels * patch_size * patch_size, dim)

    def forward(self, images):
        batch, channels, height, width = images.shape
        size = self.patch_size
        if height % size or width % size:
            raise ValueError(f"PatchEmbedding: image {height}x{width} is not divisible into "
                             f"{size}x{size} patches")
        rows, cols = height // size, width // size
        patches = images.reshape(batch, channels, rows, size, cols, size)
        patches = patches.permute(0, 2, 4, 1, 3, 5).reshape(batch, rows * cols,
                                                           channels * size * size)
        return self.projection(patches)


class ViT(nn.Module):
    """Vision Transformer classifier.

    Args:
        image_size: side of the square input image.
        patch_size: side of a patch (``image_size`` must be a multiple).
        in_channels: image channels.
        num_classes: number of output logits.
        dim: token width.
        depth: number of encoder layers.
        heads: attention heads per layer.
        mlp_dim: hidden width of each layer's feed-forward block.
        dropout: dropout inside the encoder.
        positions: ``"learned"`` (a trained table) or ``"sinusoidal"`` (fixed).
        pool: ``"cls"`` (classify a prepended class token) or ``"mean"`` (average the tokens).
        activation: the feed-forward activation, ``"gelu"`` (the paper's) or ``"relu"``
            (cheaper in NumPy, where the exact GELU's erf costs a fifth of a step).

    Example:
        >>> import hybridgrad as hg
        >>> model = ViT(dim=8, depth=1, heads=2, mlp_dim=16, positions="sinusoidal", pool="mean")
        >>> model(hg.zeros(1, 1, 28, 28)).shape
        (1, 10)
    """

    def __init__(self, image_size: int = 28, patch_size: int = 7, in_channels: int = 1,
                 num_classes: int = 10, dim: int = 64, depth: int = 4, heads: int = 4,
                 mlp_dim: int = 128, dropout: float = 0.1, positions: str = "learned",
                 pool: str = "cls", activation: str = "gelu"):
        super().__init__()
        if positions not in ("learned", "sinusoidal"):
            raise ValueError(f"ViT: positions must be 'learned' or 'sinusoidal', not {positions!r}")
        if pool not in ("cls", "mean"):
            raise ValueError(f"ViT: pool must be 'cls' or 'mean', not {pool!r}")
        self.pool = pool
        self.patch_embedding = PatchEmbedding(patch_size, in_channels, dim)
        tokens = (image_size // patch_size) ** 2 + (1 if pool == "cls" else 0)
        if pool == "cls":
            self.class_token = nn.Parameter(hg.zeros(1, 1, dim))
        if positions == "learned":
            table = hg.default_generator().standard_normal((1, tokens, dim)) * 0.02
            self.position_embedding = nn.Parameter(hg.tensor(table.astype(np.float32)))
        else:
            self.register_buffer("position_embedding",
                                 hg.tensor(sinusoidal_positions(tokens, dim)[None]),
                                 persistent=False)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=mlp_dim, dropout=dropout,
                                           activation=activation, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        tokens = self.patch_embedding(images)
        if self.pool == "cls":
            class_tokens = self.class_token.expand(tokens.shape[0], 1, tokens.shape[2])
            tokens = hg.cat([class_tokens, tokens], 1)
        tokens = self.encoder(tokens + self.position_embedding)
        summary = tokens[:, 0] if self.pool == "cls" else tokens.mean(1)
        return self.head(self.norm(summary))
