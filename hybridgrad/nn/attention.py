"""Attention: ``scaled_dot_product_attention``, ``MultiheadAttention`` and sinusoidal positional
encodings, with PyTorch's names, mask conventions and parameter layout.

Mask conventions (the same as PyTorch's, which differ between the two APIs):

* ``scaled_dot_product_attention``: a bool ``attn_mask`` is True where attention is *allowed*;
  a float mask is added to the scores.
* ``MultiheadAttention``: bool ``attn_mask`` / ``key_padding_mask`` are True where attention is
  *forbidden* (padding); float masks are added to the scores.

A query row whose keys are all masked gets all-zero attention weights (and a zero output before
the output projection) instead of NaN, like PyTorch's ``_safe_softmax`` in the math backend.

Example:
    >>> import hybridgrad as hg
    >>> mha = hg.nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
    >>> x = hg.randn(3, 5, 8)
    >>> output, weights = mha(x, x, x)
    >>> output.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
"""

# ruff: noqa: A001, A002 - PyTorch's argument names
from __future__ import annotations

import math

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn.dropout import Dropout
from hybridgrad.nn.dropout import dropout as _dropout
from hybridgrad.nn.linear import Linear
from hybridgrad.nn.linear import linear as _linear
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.ops import api
from hybridgrad.tensor import Tensor, default_generator

__all__ = ["MultiheadAttention", "PositionalEncoding", "scaled_dot_product_attention",
           "sinusoidal_positional_encoding"]


def _as_tensor(value) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor._wrap(np.asarray(value))


def _additive_mask(mask, dtype, true_means_masked: bool, name: str):
    """A mask as something to add to the scores: bool masks become 0 / -inf (constants)."""
    mask = _as_tensor(mask)
    if mask is None:
        return None
    kind = np.dtype(mask.dtype).kind
    if kind == "b":
        blocked = mask._array if true_means_masked else ~mask._array
        return Tensor._wrap(np.where(blocked, -np.inf, 0.0).astype(dtype))
    if kind != "f":
        raise TypeError(f"{name}: masks must be bool or floating point, got {mask.dtype}")
    return mask


def _attend(query, key, value, additive_mask, dropout_p: float, scale: float):
    """softmax(q k^T * scale + mask) (safe for fully masked rows), dropout, then @ value.

    Returns (output, attention weights).
    """
    scores = api.matmul(query * scale, api.transpose(key, -2, -1))
    if additive_mask is not None:
        scores = scores + additive_mask
        # A row of -inf would give 0/0 in softmax: compute it on zeros, then zero the weights.
        dead = api.amax(scores.detach(), -1, keepdim=True) == float("-inf")
        scores = api.where(dead, 0.0, scores)
        weights = api.where(dead, 0.0, api.softmax(scores, -1))
    else:
        weights = api.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, True)
    return api.matmul(weights, value), weights


def _causal_mask(length: int, source_length: int) -> Tensor:
    """Bool (L, S) mask, True on and below the diagonal (attention allowed)."""
    return Tensor._wrap(np.tril(np.ones((length, source_length), dtype=bool)))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None):
    """``softmax(Q K^T * scale + mask) V`` over the last two dims (PyTorch's
    ``F.scaled_dot_product_attention``).

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading dims
    broadcast. ``scale`` defaults to ``1/sqrt(E)``. ``attn_mask`` broadcasts to (..., L, S): bool
    True = may attend, float = added to the scores. ``is_causal`` applies a lower-triangular mask
    (and must not be combined with ``attn_mask``). Dropout with ``dropout_p`` is applied to the
    weights whenever ``dropout_p > 0`` (pass 0 in evaluation, as in PyTorch).

    Example:
        >>> import hybridgrad as hg
        >>> q = k = v = hg.eye(2).reshape(1, 2, 2)
        >>> out = scaled_dot_product_attention(q, k, v, is_causal=True)
        >>> [[round(x, 3) for x in row] for row in out[0].tolist()]
        [[1.0, 0.0], [0.33, 0.67]]
    """
    q_shape, k_shape, v_shape = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if len(q_shape) < 2 or len(k_shape) < 2 or len(v_shape) < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 "
                         f"dims, got {q_shape}, {k_shape}, {v_shape}")
    if q_shape[-1] != k_shape[-1] or k_shape[-2] != v_shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: incompatible shapes query {q_shape}, "
                         f"key {k_shape}, value {v_shape} (need query (..., L, E), key "
                         "(..., S, E), value (..., S, Ev))")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p}")
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: explicit attn_mask should not be set "
                             "when is_causal=True")
        attn_mask = _causal_mask(q_shape[-2], k_shape[-2])
    mask = _additive_mask(attn_mask, query.dtype, False, "scaled_dot_product_attention")
    if scale is None:
        scale = 1.0 / math.sqrt(q_shape[-1])
    output, _ = _attend(query, key, value, mask, float(dropout_p), float(scale))
    return output


class MultiheadAttention(Module):
    """Multi-head attention (PyTorch's ``nn.MultiheadAttention``).

    ``in_proj_weight`` (3E, E) stacks the query, key and value projections (when ``kdim`` or
    ``vdim`` differ from ``embed_dim``, ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``
    are used instead), ``in_proj_bias`` (3E) and ``out_proj`` (a Linear) follow. Inputs are
    (L, N, E), (N, L, E) with ``batch_first``, or unbatched (L, E).

    ``forward`` returns ``(output, weights)``; weights are (N, L, S) averaged over heads (or
    (N, num_heads, L, S) with ``average_attn_weights=False``), ``None`` with
    ``need_weights=False``. As in PyTorch the returned weights are taken after dropout.

    Example:
        >>> import hybridgrad as hg
        >>> list(hg.nn.MultiheadAttention(4, 2).state_dict())
        ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        check_device(device)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) and num_heads "
                             f"({num_heads}) must be positive")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                      "supported")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.add_zero_attn = False
        dtype = np.dtype(dtype or np.float32)
        rng = default_generator()

        def xavier(rows: int, cols: int) -> Parameter:
            # PyTorch: xavier_uniform_ on the whole (3E, E) matrix (or each separate one).
            bound = math.sqrt(6.0 / (rows + cols))
            return Parameter(rng.uniform(-bound, bound, (rows, cols)).astype(dtype))

        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = xavier(3 * e, e)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = xavier(e, e)
            self.k_proj_weight = xavier(e, self.kdim)
            self.v_proj_weight = xavier(e, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype)
        if bias:
            self.out_proj.bias._array[...] = 0.0
        self.bias_k = self.bias_v = None

    def _projections(self, query, key, value):
        e = self.embed_dim
        biases = (None, None, None) if self.in_proj_bias is None else (
            self.in_proj_bias[0:e], self.in_proj_bias[e:2 * e], self.in_proj_bias[2 * e:])
        if self._qkv_same_embed_dim:
            if query is key and key is value:
                # Self-attention: one (3E, E) product.
                packed = _linear(query, self.in_proj_weight, self.in_proj_bias)
                return packed[..., 0:e], packed[..., e:2 * e], packed[..., 2 * e:]
            weights = (self.in_proj_weight[0:e], self.in_proj_weight[e:2 * e],
                       self.in_proj_weight[2 * e:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return tuple(_linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        """Attend from ``query`` (L, N, E) to ``key`` (S, N, kdim) / ``value`` (S, N, vdim).

        ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N * num_heads, L, S): bool True
        = do not attend, float = added. ``is_causal`` without ``attn_mask`` applies a causal mask.
        """
        name = "MultiheadAttention"
        batched = len(query.shape) == 3
        if len(query.shape) not in (2, 3) or len(key.shape) != len(query.shape) or \
                len(value.shape) != len(query.shape):
            raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or 2-D "
                             f"(unbatched), got {tuple(query.shape)}, {tuple(key.shape)}, "
                             f"{tuple(value.shape)}")
        same = query is key and key is value
        if not batched:
            query, key, value = (api.unsqueeze(t, 1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = api.unsqueeze(_as_tensor(key_padding_mask), 0)
        elif self.batch_first:
            query, key, value = (api.transpose(t, 0, 1) for t in (query, key, value))
        if same:
            key = value = query
        length, batch, embed = query.shape
        source_length = key.shape[0]
        if embed != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim:
            raise ValueError(f"{name}: expected feature sizes (query {self.embed_dim}, key "
                             f"{self.kdim}, value {self.vdim}), got query "
                             f"{tuple(query.shape)}, key {tuple(key.shape)}, value "
                             f"{tuple(value.shape)}")
        if key.shape[:2] != value.shape[:2] or key.shape[1] != batch:
            raise ValueError(f"{name}: key {tuple(key.shape)} and value {tuple(value.shape)} must "
                             f"share (S, N) with batch size {batch}")
        heads, head_dim = self.num_heads, self.head_dim

        q, k, v = self._projections(query, key, value)

        def split_heads(x, steps):  # (T, N, E) -> (N, heads, T, head_dim)
            return api.permute(api.reshape(x, (steps, batch, heads, head_dim)), 1, 2, 0, 3)

        q, k, v = split_heads(q, length), split_heads(k, source_length), \
            split_heads(v, source_length)

        if is_causal and attn_mask is None:
            attn_mask = Tensor._wrap(~np.tril(np.ones((length, source_length), dtype=bool)))
        mask = _additive_mask(attn_mask, q.dtype, True, name)
        if mask is not None:
            if mask.shape == (length, source_length):
                pass
            elif mask.shape == (batch * heads, length, source_length):
                mask = api.reshape(mask, (batch, heads, length, source_length))
            elif not batched and mask.shape == (heads, length, source_length):
                mask = api.unsqueeze(mask, 0)
            else:
                raise ValueError(f"{name}: attn_mask has shape {tuple(mask.shape)}, expected "
                                 f"({length}, {source_length}) or "
                                 f"({batch * heads}, {length}, {source_length})")
        padding = _additive_mask(key_padding_mask, q.dtype, True, name)
        if padding is not None:
            if padding.shape != (batch, source_length):
                raise ValueError(f"{name}: key_padding_mask has shape {tuple(padding.shape)}, "
                                 f"expected ({batch}, {source_length})")
            padding = api.reshape(padding, (batch, 1, 1, source_length))
            mask = padding if mask is None else mask + padding

        dropout_p = self.dropout if self.training else 0.0
        attended, weights = _attend(q, k, v, mask, dropout_p, 1.0 / math.sqrt(head_dim))
        # (N, heads, L, head_dim) -> (L, N, E)
        merged = api.reshape(api.permute(attended, 2, 0, 1, 3), (length, batch, self.embed_dim))
        output = self.out_proj(merged)

        if not batched:
            output = api.squeeze(output, 1)
        elif self.batch_first:
            output = api.transpose(output, 0, 1)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = api.mean(weights, 1)
        if not batched:
            weights = api.squeeze(weights, 0)
        return output, weights

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")


def sinusoidal_positional_encoding(length: int, d_model: int, dtype=None) -> Tensor:
    """The sinusoidal table of "Attention Is All You Need", shape (length, d_model):
    ``PE[pos, 2i] = sin(pos / 10000^(2i/d_model))``, ``PE[pos, 2i+1] = cos(pos / 10000^(2i/d))``.

    Every row is unique, values lie in [-1, 1], and ``PE[pos + k]`` is a fixed rotation of
    ``PE[pos]`` (per frequency pair) that depends only on ``k``.

    Example:
        >>> table = sinusoidal_positional_encoding(3, 4)
        >>> table.shape, table[0].tolist()
        ((3, 4), [0.0, 1.0, 0.0, 1.0])
    """
    if length < 0 or d_model <= 0:
        raise ValueError(f"sinusoidal_positional_encoding: need length >= 0 and d_model > 0, got "
                         f"{length}, {d_model}")
    position = np.arange(length, dtype=np.float64)[:, None]
    frequencies = np.power(10000.0, -np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    angles = position * frequencies
    table = np.zeros((length, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, :d_model // 2])
    return Tensor._wrap(table.astype(np.dtype(dtype or np.float32)))


class PositionalEncoding(Module):
    """Adds the sinusoidal table (a non-persistent buffer ``pe`` of shape (max_len, d_model)) to
    a sequence, then applies dropout. Input (L, N, d_model), (N, L, d_model) with
    ``batch_first``, or (L, d_model).

    Example:
        >>> import hybridgrad as hg
        >>> layer = hg.nn.PositionalEncoding(4, max_len=10, dropout=0.0)
        >>> layer(hg.zeros(2, 1, 4))[1, 0].tolist() == layer.pe[1].tolist()
        True
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.1,
                 batch_first: bool = False):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), batch_first
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model),
                             persistent=False)

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) not in (2, 3) or shape[-1] != self.d_model:
            raise ValueError(f"PositionalEncoding: expected input (L, N, {self.d_model}) or "
                             f"(L, {self.d_model}), got {shape}")
        length = shape[1] if (self.batch_first and len(shape) == 3) else shape[0]
        if length > self.max_len:
            raise ValueError(f"PositionalEncoding: sequence length {length} exceeds max_len "
                             f"{self.max_len}")
        table = self.pe._array[:length]
        if table.dtype != x.dtype:
            table = table.astype(x.dtype)
        if len(shape) == 3:
            table = table[None] if self.batch_first else table[:, None]
        return self.dropout(x + Tensor._wrap(table))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"
