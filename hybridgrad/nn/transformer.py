"""Transformer encoder with PyTorch's ``nn.TransformerEncoderLayer`` / ``nn.TransformerEncoder``
names, so state_dict keys (``layers.0.self_attn.in_proj_weight``, ``layers.0.linear1.weight``,
``layers.0.norm1.weight``, ...) match PyTorch's.

Example:
    >>> import hybridgrad as hg
    >>> layer = hg.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16,
    ...                                       batch_first=True)
    >>> encoder = hg.nn.TransformerEncoder(layer, num_layers=2)
    >>> encoder(hg.randn(3, 5, 8)).shape
    (3, 5, 8)
"""

# ruff: noqa: A002 - PyTorch's argument names
from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn.activation import gelu, relu
from hybridgrad.nn.attention import MultiheadAttention
from hybridgrad.nn.containers import ModuleList
from hybridgrad.nn.dropout import Dropout
from hybridgrad.nn.layernorm import LayerNorm
from hybridgrad.nn.linear import Linear
from hybridgrad.nn.module import Module
from hybridgrad.tensor import Tensor, default_generator

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]


def _activation(activation) -> Callable:
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"Transformer layers: activation should be 'relu' or 'gelu' (or a "
                     f"callable), not {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual connection and
    layer norm: post-norm ``x = norm1(x + sa(x)); x = norm2(x + ff(x))`` by default, pre-norm
    ``x = x + sa(norm1(x)); x = x + ff(norm2(x))`` with ``norm_first=True``.

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8)
        >>> [name for name, _ in layer.named_children()]
        ['self_attn', 'linear1', 'dropout', 'linear2', 'norm1', 'norm2', 'dropout1', 'dropout2']
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal: bool):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        """``src`` (S, N, E), (N, S, E) with batch_first, or (S, E); masks as in
        :class:`MultiheadAttention` (bool True = do not attend)."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer`` (so all start with the same
    weights, as in PyTorch), optionally followed by ``norm``.

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.TransformerEncoderLayer(4, 1, dim_feedforward=8)
        >>> keys = list(hg.nn.TransformerEncoder(layer, 2).state_dict())
        >>> keys[0], keys[-1]
        ('layers.0.self_attn.in_proj_weight', 'layers.1.norm2.bias')
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"TransformerEncoder: num_layers must be at least 1, got "
                             f"{num_layers}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool = False):
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's ``memory``, then a feed-forward block, each
    with dropout, a residual connection and layer norm (post-norm, or pre-norm with
    ``norm_first=True``), as PyTorch's ``nn.TransformerDecoderLayer``.

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.TransformerDecoderLayer(4, 2, dim_feedforward=8)
        >>> [name for name, _ in layer.named_children()][:4]
        ['self_attn', 'multihead_attn', 'linear1', 'dropout']
        >>> layer(hg.randn(3, 1, 4), hg.randn(5, 1, 4)).shape
        (3, 1, 4)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal: bool):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal: bool):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        """``tgt`` (T, N, E) attends to itself and to ``memory`` (S, N, E) (batch first with
        ``batch_first``); masks as in :class:`MultiheadAttention` (bool True = do not attend)."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   bool(tgt_is_causal))
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              bool(tgt_is_causal)))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerDecoder(Module):
    """A stack of ``num_layers`` deep copies of ``decoder_layer``, optionally followed by
    ``norm``.

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.TransformerDecoderLayer(4, 1, dim_feedforward=8)
        >>> list(hg.nn.TransformerDecoder(layer, 2).state_dict())[-1]
        'layers.1.norm3.bias'
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"TransformerDecoder: num_layers must be at least 1, got "
                             f"{num_layers}")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False):
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder model of "Attention Is All You Need" (PyTorch's ``nn.Transformer``):
    ``encoder`` (with a final LayerNorm) and ``decoder`` (likewise); every parameter with more
    than one dimension is re-initialized with Xavier-uniform, as PyTorch does.

    Example:
        >>> import hybridgrad as hg
        >>> model = hg.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1,
        ...                           num_decoder_layers=1, dim_feedforward=16)
        >>> mask = hg.nn.Transformer.generate_square_subsequent_mask(3)
        >>> model(hg.randn(5, 2, 8), hg.randn(3, 2, 8), tgt_mask=mask).shape
        (3, 2, 8)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        check_device(device)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                                    activation, layer_norm_eps, batch_first,
                                                    norm_first, bias, dtype=dtype)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, LayerNorm(
                d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout,
                                                    activation, layer_norm_eps, batch_first,
                                                    norm_first, bias, dtype=dtype)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, LayerNorm(
                d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        rng = default_generator()
        for parameter in self.parameters():
            if parameter.ndim > 1:
                fan_out, fan_in = parameter.shape[0], int(np.prod(parameter.shape[1:]))
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                parameter._array = rng.uniform(-bound, bound, parameter.shape).astype(
                    parameter.dtype)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False):
        """Encode ``src`` (S, N, E), then decode ``tgt`` (T, N, E) against it."""
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=bool(src_is_causal))
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, dtype=None) -> Tensor:
        """Float (sz, sz) mask: 0 on and below the diagonal, -inf above (future positions).

        Example:
            >>> import hybridgrad as hg
            >>> hg.nn.Transformer.generate_square_subsequent_mask(2).tolist()
            [[0.0, -inf], [0.0, 0.0]]
        """
        mask = np.triu(np.full((sz, sz), -np.inf), k=1)
        return Tensor._wrap(mask.astype(np.dtype(dtype or np.float32)))
