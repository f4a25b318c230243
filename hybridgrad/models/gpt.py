"""A character-level GPT: the decoder-only Transformer of nanoGPT, with nanoGPT's module names
(``transformer.wte``, ``transformer.wpe``, ``transformer.h.0.attn.c_attn``, ``lm_head`` ...), so
a state dict moves between this model and nanoGPT's ``GPT`` module unchanged.

Token and learned position embeddings, pre-norm blocks (causal multi-head self-attention, then
an MLP with GELU), a final layer norm and an output layer tied to the token embedding.
``forward(idx, targets=None) -> (logits, loss)``; :meth:`GPT.generate` samples with
temperature and top-k, by default through a key/value cache.

Causal masking adds a cached ``(context, context)`` constant (0 on and below the diagonal,
-inf above) to the scores; ``benchmarks/gpt_attention.py`` measured it against the generic
``scaled_dot_product_attention(is_causal=True)`` path (which builds a boolean mask and guards
against fully-masked rows on every call) and kept the faster.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.models.gpt import GPT
    >>> hg.manual_seed(0)
    >>> model = GPT(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8)
    >>> logits, loss = model(hg.tensor([[1, 2, 3]]), hg.tensor([[2, 3, 4]]))
    >>> logits.shape, round(loss.item(), 1)
    ((1, 3, 10), 2.3)
"""

from __future__ import annotations

import math

import numpy as np

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.nn import functional as F
from hybridgrad.ops.gpt_fused import softmax_last

__all__ = ["GPT", "Block", "CausalSelfAttention", "MLP", "KVCache",
           "TraceableGPT", "export_onnx", "optimizer_groups", "sample_next", "token_inputs"]


def _causal_constant(size: int, dtype) -> np.ndarray:
    """``(size, size)``: 0 where a query may attend (key position <= query position), -inf
    above the diagonal."""
    return np.triu(np.full((size, size), -np.inf, dtype=dtype), 1)


class KVCache:
    """Per layer, the keys and values (``(batch, heads, length, head_dim)`` arrays) of the tokens
    seen so far, so a new token attends to them without recomputing the context.

    Example:
        >>> cache = KVCache(2)
        >>> cache.length, len(cache.keys)
        (0, 2)
    """

    def __init__(self, layers: int):
        self.keys: list = [None] * layers
        self.values: list = [None] * layers

    @property
    def length(self) -> int:
        """The number of cached positions (read from the last layer, which a forward pass
        updates last, so every layer of one pass sees the same length)."""
        return 0 if self.keys[-1] is None else int(self.keys[-1].shape[2])


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with nanoGPT's layout: ``c_attn`` (C -> 3C, the query,
    key and value projections side by side) and ``c_proj`` (C -> C).

    Example:
        >>> import hybridgrad as hg
        >>> attention = CausalSelfAttention(n_embd=8, n_head=2, block_size=4)
        >>> attention(hg.zeros(1, 3, 8)).shape
        (1, 3, 8)
    """

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"CausalSelfAttention: n_embd ({n_embd}) must be divisible by "
                             f"n_head ({n_head})")
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.n_embd, self.block_size = n_head, n_embd, block_size
        self.dropout = dropout
        self._masks: dict = {}

    def _mask(self, dtype) -> hg.Tensor:
        key = np.dtype(dtype).str
        if key not in self._masks:
            self._masks[key] = hg.tensor(_causal_constant(self.block_size, dtype))
        return self._masks[key]

    def forward(self, x, cache: KVCache | None = None, layer: int = 0, mask=None):
        batch, length, channels = x.shape
        heads, head_dim = self.n_head, channels // self.n_head
        qkv = self.c_attn(x).reshape(batch, length, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]  # (batch, heads, length, head_dim) each
        past = 0
        if cache is not None:
            past = cache.length
            if cache.keys[layer] is not None:
                key = hg.cat([cache.keys[layer], key], 2)
                value = hg.cat([cache.values[layer], value], 2)
            cache.keys[layer], cache.values[layer] = key.detach(), value.detach()
        total = past + length
        if total > self.block_size:
            raise ValueError(f"CausalSelfAttention: {total} positions exceed the context of "
                             f"{self.block_size}")
        scores = (query * (1.0 / math.sqrt(head_dim))) @ key.transpose(-2, -1)
        if mask is not None:  # given (the traceable path of ONNX export)
            scores = scores + mask
        elif length > 1:  # one new token (cached decoding) may attend to everything
            constant = self._mask(scores.dtype)
            scores = scores + (constant if total == self.block_size and past == 0
                               else constant[past:total, :total])
        weights = self.attn_dropout(softmax_last(scores))
        attended = (weights @ value).permute(0, 2, 1, 3).reshape(batch, length, channels)
        return self.resid_dropout(self.c_proj(attended))


class MLP(nn.Module):
    """``c_fc`` (C -> 4C), GELU, ``c_proj`` (4C -> C), dropout.

    Example:
        >>> import hybridgrad as hg
        >>> MLP(4)(hg.zeros(2, 4)).shape
        (2, 4)
    """

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm Transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    Example:
        >>> import hybridgrad as hg
        >>> Block(8, 2, 4)(hg.zeros(1, 4, 8)).shape
        (1, 4, 8)
    """

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0,
                 bias: bool = True, mlp: nn.Module | None = None):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = mlp if mlp is not None else MLP(n_embd, dropout, bias)

    def forward(self, x, cache: KVCache | None = None, layer: int = 0, mask=None):
        x = x + self.attn(self.ln_1(x), cache, layer, mask)
        return x + self.mlp(self.ln_2(x))


def sample_next(logits: np.ndarray, temperature: float, top_k: int | None,
                generator: np.random.Generator) -> np.ndarray:
    """One token id per row of ``logits`` (``(batch, vocab)``): softmax of
    ``logits / temperature`` over the ``top_k`` largest (all when None), one uniform draw per
    row from ``generator`` through the inverse cumulative distribution. ``temperature == 0``
    takes the arg-max.

    Example:
        >>> import numpy as np
        >>> sample_next(np.array([[0.0, 5.0, 1.0]]), 1.0, 1, np.random.default_rng(0)).tolist()
        [1]
    """
    logits = np.asarray(logits, dtype=np.float64)
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"sample: top_k must be >= 1, got {top_k}")
    if temperature == 0:
        return logits.argmax(-1)
    scaled = logits / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = np.sort(scaled, axis=-1)[:, -top_k][:, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probabilities = np.exp(scaled - scaled.max(-1, keepdims=True))
    cumulative = np.cumsum(probabilities, -1)
    draws = generator.random(len(scaled)) * cumulative[:, -1]
    chosen = (cumulative <= draws[:, None]).sum(-1)
    return np.minimum(chosen, scaled.shape[-1] - 1)


class GPT(nn.Module):
    """nanoGPT's GPT.

    Args:
        vocab_size: number of token ids.
        block_size: the context (longest sequence).
        n_layer, n_head, n_embd: depth, attention heads, channels.
        dropout: dropout on the embeddings, the attention weights and the residual branches.
        bias: biases in the Linear and LayerNorm layers (nanoGPT's default True).
        moe_experts: 0 for the dense MLP; ``E > 0`` replaces each block's MLP with a
            mixture of ``E`` expert MLPs (:class:`hybridgrad.models.gpt_moe.MoEMLP`).
        moe_top_k: experts per token (1: Switch Transformer routing).

    Example:
        >>> import hybridgrad as hg
        >>> model = GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4)
        >>> list(model.state_dict())[:3]
        ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.0.ln_1.weight']
        >>> model.lm_head.weight is model.transformer.wte.weight
        True
    """

    def __init__(self, vocab_size: int = 65, block_size: int = 64, n_layer: int = 4,
                 n_head: int = 4, n_embd: int = 128, dropout: float = 0.0, bias: bool = True,
                 moe_experts: int = 0, moe_top_k: int = 1):
        super().__init__()
        if vocab_size < 1 or block_size < 1 or n_layer < 1:
            raise ValueError(f"GPT: vocab_size ({vocab_size}), block_size ({block_size}) and "
                             f"n_layer ({n_layer}) must be positive")
        self.vocab_size, self.block_size = int(vocab_size), int(block_size)
        self.n_layer, self.n_head, self.n_embd = int(n_layer), int(n_head), int(n_embd)
        self.moe_experts = int(moe_experts)

        def mlp():
            if not moe_experts:
                return None
            from hybridgrad.models.gpt_moe import MoEMLP

            return MoEMLP(n_embd, moe_experts, moe_top_k, dropout, bias)

        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(vocab_size, n_embd),
            "wpe": nn.Embedding(block_size, n_embd),
            "drop": nn.Dropout(dropout),
            "h": nn.ModuleList([Block(n_embd, n_head, block_size, dropout, bias, mlp())
                                for _ in range(n_layer)]),
            "ln_f": nn.LayerNorm(n_embd, bias=bias),
        })
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying, as in nanoGPT
        self._initialize()

    def _initialize(self) -> None:
        # nanoGPT's init: N(0, 0.02) for every matrix and embedding, zero biases, and the
        # residual projections scaled by 1/sqrt(2 * n_layer) (GPT-2).
        generator = hg.default_generator()
        for name, parameter in self.named_parameters():
            array = parameter._array
            if name.endswith("bias"):
                array[...] = 0.0
            elif array.ndim >= 2:
                std = 0.02 / math.sqrt(2 * self.n_layer) if name.endswith("c_proj.weight") \
                    else 0.02
                array[...] = generator.normal(0.0, std, array.shape).astype(array.dtype)

    def num_parameters(self, non_embedding: bool = True) -> int:
        """Parameter count (without the position table by default, as nanoGPT reports).

        Example:
            >>> GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4).num_parameters()
            272
        """
        count = sum(int(np.prod(p.shape)) for p in self.parameters())
        return count - (int(np.prod(self.transformer.wpe.weight.shape)) if non_embedding else 0)

    def auxiliary_loss(self):
        """The mean over blocks of the mixture-of-experts load-balancing loss of the latest
        forward pass (None for the dense model).

        Example:
            >>> GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4).auxiliary_loss()
        """
        if not self.moe_experts:
            return None
        losses = [block.mlp.last_balance_loss for block in self.transformer.h]
        if any(loss is None for loss in losses):
            return None
        total = losses[0]
        for loss in losses[1:]:
            total = total + loss
        return total / len(losses)

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        """Logits ``(batch, length, vocab)`` for token ids ``idx`` ``(batch, length)`` and, with
        ``targets`` (same shape; -1 ignored), the mean cross-entropy; otherwise ``loss`` is None.
        With ``cache``, ``idx`` continues the cached tokens (positions start after them)."""
        if not isinstance(idx, hg.Tensor):
            idx = hg.tensor(np.asarray(idx, dtype=np.int64))
        if len(idx.shape) != 2:
            raise ValueError(f"GPT: idx must be (batch, length) token ids, got shape "
                             f"{tuple(idx.shape)}")
        batch, length = idx.shape
        past = cache.length if cache is not None else 0
        if past + length > self.block_size:
            raise ValueError(f"GPT: a sequence of {past + length} tokens exceeds the context "
                             f"(block_size) of {self.block_size}")
        positions = hg.tensor(np.arange(past, past + length, dtype=np.int64))
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits, None
        if not isinstance(targets, hg.Tensor):
            targets = hg.tensor(np.asarray(targets, dtype=np.int64))
        if tuple(targets.shape) != (batch, length):
            raise ValueError(f"GPT: targets must have the shape of idx {(batch, length)}, got "
                             f"{tuple(targets.shape)}")
        loss = F.cross_entropy(logits.reshape(batch * length, self.vocab_size),
                               targets.reshape(batch * length), ignore_index=-1)
        return logits, loss

    def forward_traceable(self, idx):
        """Logits of ``idx`` computed with operators whose sizes all follow the input, so an
        ONNX export keeps the batch and the sequence length dynamic: the positions are a
        running sum of ones over the sequence and the causal mask compares key and query
        positions (the training path uses cached constants instead).

        Example:
            >>> import hybridgrad as hg
            >>> model = GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4)
            >>> ids = hg.tensor([[1, 2, 3]])
            >>> bool((model.forward_traceable(ids) == model(ids)[0]).all())
            True
        """
        from hybridgrad.ops.reduction import cumsum

        ones = idx * 0 + 1
        positions = cumsum(ones, 1) - 1  # (batch, length)
        dtype = self.transformer.wte.weight.dtype

        def one_hot(ids, size):  # (..., size): a comparison with arange, shapes follow ids
            return (ids.unsqueeze(-1) == hg.tensor(np.arange(size, dtype=np.int64))).to(dtype)

        # mask[q, k] = -1e9 where k > q, as one_hot(p) @ above @ one_hot(p)^T with the constant
        # above[i, j] = 1 for j > i: matrix products keep the length dynamic where a reshape
        # of the positions would fix it (exp(-1e9 - max) is exactly 0 in float32, as -inf).
        above = hg.tensor(np.triu(np.full((self.block_size,) * 2, -1e9, dtype=dtype), 1))
        row = one_hot(positions[0], self.block_size)  # (length, block_size)
        mask = row @ above @ row.transpose(0, 1)
        # One-hot products rather than the Embedding layers, whose range check and indexing
        # need concrete ids.
        wte, wpe = self.transformer.wte.weight, self.transformer.wpe.weight
        x = one_hot(idx, self.vocab_size) @ wte + one_hot(positions, self.block_size) @ wpe
        for block in self.transformer.h:
            x = block(x, mask=mask)
        return self.lm_head(self.transformer.ln_f(x))

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: np.random.Generator | None = None,
                 use_cache: bool = True, stream=None) -> np.ndarray:
        """Continue ``idx`` (``(batch, length)`` ids) by ``max_new_tokens`` sampled tokens;
        returns all ids. ``stream(ids)`` is called with each new column as it is drawn.

        With ``use_cache`` each step feeds only the new token and attends to cached keys and
        values; without, each step recomputes the whole (cropped) context, as nanoGPT does.
        While the text fits the context the two give identical tokens. Beyond it the uncached
        model slides a full window every step; the cached one restarts its cache from the last
        ``block_size // 2`` tokens whenever it is full (a full-window slide would need the whole
        context recomputed per token, which is what the cache avoids).

        Example:
            >>> import hybridgrad as hg
            >>> hg.manual_seed(0)
            >>> model = GPT(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=4)
            >>> model.generate([[0]], 3, generator=np.random.default_rng(0)).shape
            (1, 4)
        """
        ids = np.asarray(idx, dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] < 1:
            raise ValueError(f"GPT.generate: idx must be (batch, length >= 1), got shape "
                             f"{ids.shape}")
        generator = generator or hg.default_generator()
        was_training = self.training
        self.eval()
        cache, pending = None, None
        try:
            with hg.no_grad():
                for _ in range(int(max_new_tokens)):
                    if not use_cache:
                        logits, _ = self(ids[:, -self.block_size:])
                    else:
                        if cache is None or cache.length + 1 > self.block_size:
                            keep = self.block_size if cache is None else self.block_size // 2
                            cache = KVCache(self.n_layer)
                            pending = ids[:, -max(keep, 1):]
                        logits, _ = self(pending, cache=cache)
                    next_ids = sample_next(logits._array[:, -1], temperature, top_k, generator)
                    ids = np.concatenate([ids, next_ids[:, None]], 1)
                    pending = next_ids[:, None]
                    if stream is not None:
                        stream(next_ids)
        finally:
            self.train(was_training)
        return ids


class TraceableGPT(nn.Module):
    """``GPT.forward_traceable`` as a module's forward (what ``hybridgrad export`` traces):
    token ids ``(batch, length)`` -> logits ``(batch, length, vocab)``, both dynamic.

    Example:
        >>> import hybridgrad as hg
        >>> model = GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4)
        >>> TraceableGPT(model)(hg.tensor([[0, 1]])).shape
        (1, 2, 5)
    """

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model

    def forward(self, idx):
        return self.model.forward_traceable(idx)


def export_onnx(model: GPT, path: str | None, length: int | None = None, opset=None):
    """Write ``model`` as ONNX: input ``idx`` (int64 ``(batch, length)``), output ``logits``,
    batch and length dynamic (up to the context); returns the ``onnx.ModelProto``.

    Example:
        >>> model = GPT(vocab_size=5, block_size=8, n_layer=1, n_head=1, n_embd=4)
        >>> proto = export_onnx(model, None, length=3)
        >>> [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
        ['batch', 'length']
    """
    length = min(int(length or model.block_size // 2), model.block_size - 1)
    example = hg.tensor(np.arange(length, dtype=np.int64)[None] % model.vocab_size)
    model.eval()
    options = {"input_names": ["idx"], "output_names": ["logits"],
               "dynamic_axes": {"idx": {0: "batch", 1: "length"},
                                "logits": {0: "batch", 1: "length"}}}
    if opset:
        options["opset_version"] = opset
    with hg.no_grad():
        return hg.onnx.export(TraceableGPT(model), (example,), path, **options)


def token_inputs(config: dict) -> list:
    """The GPT's example input for ``hybridgrad export``: one row of ``block_size`` token ids.

    Example:
        >>> [(i.name, i.shape, i.dtype) for i in token_inputs({"model": {"block_size": 8}})]
        [('idx', (1, 8), 'int64')]
    """
    from hybridgrad.models.exporting import ExportInput

    model = config.get("model", {})
    return [ExportInput("idx", (1, int(model.get("block_size", 64))), "int64",
                        high=int(model.get("vocab_size", 65)))]


def optimizer_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups as nanoGPT forms them: weight decay on every parameter with two or
    more dimensions (matrices, embeddings), none on biases and layer-norm gains.

    Example:
        >>> model = GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4)
        >>> [len(group["params"]) for group in optimizer_groups(model, 0.1)]
        [6, 10]
    """
    decay, no_decay = [], []
    for parameter in model.parameters():
        (decay if len(parameter.shape) >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": float(weight_decay)},
            {"params": no_decay, "weight_decay": 0.0}]
