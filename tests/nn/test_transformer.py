"""TransformerEncoderLayer / TransformerEncoder against a NumPy reference."""

import copy
import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.testing import gradcheck

ERF = np.vectorize(math.erf)


def np_layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def np_self_attention(p, x, heads, blocked=None):
    """x (L, N, E) time-major; ``blocked`` (N, L, S) bool, True = may not attend."""
    length, batch, embed = x.shape
    head_dim = embed // heads
    w_q, w_k, w_v = np.split(p["self_attn.in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(p["self_attn.in_proj_bias"], 3)
    q, k, v = x @ w_q.T + b_q, x @ w_k.T + b_k, x @ w_v.T + b_v
    out = np.zeros_like(x)
    for n in range(batch):
        for h in range(heads):
            cols = slice(h * head_dim, (h + 1) * head_dim)
            scores = q[:, n, cols] @ k[:, n, cols].T / math.sqrt(head_dim)
            if blocked is not None:
                scores = np.where(blocked[n], -np.inf, scores)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            out[:, n, cols] = weights @ v[:, n, cols]
    return out @ p["self_attn.out_proj.weight"].T + p["self_attn.out_proj.bias"]


def np_encoder_layer(p, x, heads, norm_first, activation, eps=1e-5, blocked=None):
    def feed_forward(y):
        hidden = y @ p["linear1.weight"].T + p["linear1.bias"]
        if activation == "relu":
            hidden = np.maximum(hidden, 0)
        else:
            hidden = hidden * 0.5 * (1 + ERF(hidden / math.sqrt(2)))
        return hidden @ p["linear2.weight"].T + p["linear2.bias"]

    def norm(y, which):
        return np_layer_norm(y, p[f"{which}.weight"], p[f"{which}.bias"], eps)

    if norm_first:
        x = x + np_self_attention(p, norm(x, "norm1"), heads, blocked)
        return x + feed_forward(norm(x, "norm2"))
    x = norm(x + np_self_attention(p, x, heads, blocked), "norm1")
    return norm(x + feed_forward(x), "norm2")


def randomize(module, seed):
    """Random values everywhere (including biases and norms, which start at 0/1)."""
    rng = np.random.default_rng(seed)
    for parameter in module.parameters():
        parameter._array[...] = rng.standard_normal(parameter.shape) * 0.5
    return {k: v._array for k, v in module.state_dict().items()}


def test_submodule_names_and_state_dict_keys():
    layer = hg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
        ("self_attn.in_proj_weight", (24, 8)), ("self_attn.in_proj_bias", (24,)),
        ("self_attn.out_proj.weight", (8, 8)), ("self_attn.out_proj.bias", (8,)),
        ("linear1.weight", (16, 8)), ("linear1.bias", (16,)), ("linear2.weight", (8, 16)),
        ("linear2.bias", (8,)), ("norm1.weight", (8,)), ("norm1.bias", (8,)),
        ("norm2.weight", (8,)), ("norm2.bias", (8,))]
    assert layer.self_attn.dropout == 0.1 and layer.dropout.p == 0.1
    assert layer.norm1.eps == 1e-5 and not layer.norm_first
    default = hg.nn.TransformerEncoderLayer(4, 1)
    assert default.linear1.weight.shape == (2048, 4)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_numpy(norm_first, activation):
    hg.manual_seed(0)
    layer = hg.nn.TransformerEncoderLayer(6, 2, dim_feedforward=10, dropout=0.3,
                                          activation=activation, norm_first=norm_first,
                                          layer_norm_eps=1e-4, dtype=hg.float64).eval()
    params = randomize(layer, 1)
    x = np.random.default_rng(2).standard_normal((4, 3, 6))
    expected = np_encoder_layer(params, x, 2, norm_first, activation, eps=1e-4)
    np.testing.assert_allclose(layer(hg.tensor(x))._array, expected, rtol=1e-9, atol=1e-10)


def test_encoder_layer_masks_and_batch_first():
    layer = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, batch_first=True,
                                          dtype=hg.float64).eval()
    params = randomize(layer, 3)
    x = np.random.default_rng(4).standard_normal((2, 5, 4))
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    out = layer(hg.tensor(x), src_mask=hg.tensor(causal),
                src_key_padding_mask=hg.tensor(padding))
    blocked = causal[None] | padding[:, None, :]
    expected = np_encoder_layer(params, x.transpose(1, 0, 2), 2, False, "relu",
                                blocked=blocked).transpose(1, 0, 2)
    np.testing.assert_allclose(out._array, expected, rtol=1e-9, atol=1e-10)
    causal_out = layer(hg.tensor(x), is_causal=True)
    expected = np_encoder_layer(params, x.transpose(1, 0, 2), 2, False, "relu",
                                blocked=np.broadcast_to(causal, (2, 5, 5))).transpose(1, 0, 2)
    np.testing.assert_allclose(causal_out._array, expected, rtol=1e-9, atol=1e-10)


def test_dropout_only_while_training():
    hg.manual_seed(5)
    layer = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.5)
    x = hg.randn(3, 2, 4)
    train_a, train_b = layer(x)._array, layer(x)._array
    assert not np.allclose(train_a, train_b)
    layer.eval()
    np.testing.assert_array_equal(layer(x)._array, layer(x)._array)
    no_dropout = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0)
    np.testing.assert_array_equal(no_dropout(x)._array, no_dropout(x)._array)


def test_encoder_stack_copies_layers_and_applies_final_norm():
    hg.manual_seed(6)
    layer = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dtype=hg.float64)
    encoder = hg.nn.TransformerEncoder(layer, num_layers=2,
                                       norm=hg.nn.LayerNorm(4, dtype=hg.float64)).eval()
    keys = list(encoder.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight"
    assert "layers.1.norm2.bias" in keys and keys[-2:] == ["norm.weight", "norm.bias"]
    # Deep copies: same initial values (as in PyTorch), independent parameters.
    first, second = encoder.layers[0], encoder.layers[1]
    np.testing.assert_array_equal(first.linear1.weight._array, second.linear1.weight._array)
    assert first.linear1.weight is not second.linear1.weight
    p0, p1 = randomize(first, 7), randomize(second, 8)
    norm = randomize(encoder.norm, 9)
    x = np.random.default_rng(10).standard_normal((3, 2, 4))
    hidden = np_encoder_layer(p1, np_encoder_layer(p0, x, 2, False, "relu"), 2, False, "relu")
    expected = np_layer_norm(hidden, norm["weight"], norm["bias"], 1e-5)
    np.testing.assert_allclose(encoder(hg.tensor(x))._array, expected, rtol=1e-9, atol=1e-10)
    assert len(list(encoder.parameters())) == 2 * 12 + 2


@pytest.mark.parametrize("norm_first", [False, True])
def test_gradcheck_encoder_layer(norm_first):
    hg.manual_seed(11)
    layer = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=3, dropout=0.0,
                                          activation="gelu", norm_first=norm_first,
                                          dtype=hg.float64)
    randomize(layer, 12)
    x = hg.tensor(np.random.default_rng(13).standard_normal((2, 2, 4)), requires_grad=True)
    assert gradcheck(lambda a, *_: layer(a), [x] + list(layer.parameters()))


def test_deepcopy_and_bad_activation():
    layer = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6)
    clone = copy.deepcopy(layer)
    clone.linear1.weight._array[...] = 0
    assert np.abs(layer.linear1.weight._array).sum() > 0
    with pytest.raises(ValueError, match="activation"):
        hg.nn.TransformerEncoderLayer(4, 2, activation="swish")
    custom = hg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, activation=hg.tanh)
    assert custom(hg.randn(2, 1, 4)).shape == (2, 1, 4)


# ----------------------------------------------------------------------------------------------
# Decoder and the full Transformer.


def np_attention(p, prefix, x, memory, heads, blocked=None):
    """Multi-head attention from x (T, N, E) to memory (S, N, E); blocked (N, T, S) bool."""
    length, batch, embed = x.shape
    head_dim = embed // heads
    w_q, w_k, w_v = np.split(p[f"{prefix}.in_proj_weight"], 3)
    b_q, b_k, b_v = np.split(p[f"{prefix}.in_proj_bias"], 3)
    q, k, v = x @ w_q.T + b_q, memory @ w_k.T + b_k, memory @ w_v.T + b_v
    out = np.zeros_like(x)
    for n in range(batch):
        for h in range(heads):
            cols = slice(h * head_dim, (h + 1) * head_dim)
            scores = q[:, n, cols] @ k[:, n, cols].T / math.sqrt(head_dim)
            if blocked is not None:
                scores = np.where(blocked[n], -np.inf, scores)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            out[:, n, cols] = weights @ v[:, n, cols]
    return out @ p[f"{prefix}.out_proj.weight"].T + p[f"{prefix}.out_proj.bias"]


def np_decoder_layer(p, x, memory, heads, norm_first, tgt_blocked=None, memory_blocked=None):
    def norm(y, which):
        return np_layer_norm(y, p[f"{which}.weight"], p[f"{which}.bias"], 1e-5)

    def feed_forward(y):
        hidden = np.maximum(y @ p["linear1.weight"].T + p["linear1.bias"], 0)
        return hidden @ p["linear2.weight"].T + p["linear2.bias"]

    def self_block(y):
        return np_attention(p, "self_attn", y, y, heads, tgt_blocked)

    def cross_block(y):
        return np_attention(p, "multihead_attn", y, memory, heads, memory_blocked)

    if norm_first:
        x = x + self_block(norm(x, "norm1"))
        x = x + cross_block(norm(x, "norm2"))
        return x + feed_forward(norm(x, "norm3"))
    x = norm(x + self_block(x), "norm1")
    x = norm(x + cross_block(x), "norm2")
    return norm(x + feed_forward(x), "norm3")


def test_decoder_layer_names():
    layer = hg.nn.TransformerDecoderLayer(4, 2, dim_feedforward=6)
    assert [name for name, _ in layer.named_children()] == [
        "self_attn", "multihead_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
        "norm3", "dropout1", "dropout2", "dropout3"]


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_numpy(norm_first):
    layer = hg.nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, norm_first=norm_first,
                                          dtype=hg.float64).eval()
    params = randomize(layer, 20)
    rng = np.random.default_rng(21)
    tgt, memory = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    tgt_mask = hg.nn.Transformer.generate_square_subsequent_mask(3, dtype=hg.float64)
    memory_padding = np.array([[False] * 5, [False, False, False, True, True]])
    out = layer(hg.tensor(tgt), hg.tensor(memory), tgt_mask=tgt_mask,
                memory_key_padding_mask=hg.tensor(memory_padding))
    causal = np.triu(np.ones((3, 3), dtype=bool), 1)
    expected = np_decoder_layer(params, tgt, memory, 2, norm_first,
                                tgt_blocked=np.broadcast_to(causal, (2, 3, 3)),
                                memory_blocked=np.broadcast_to(memory_padding[:, None], (2, 3, 5)))
    np.testing.assert_allclose(out._array, expected, rtol=1e-9, atol=1e-10)


def test_transformer_end_to_end_and_causality():
    hg.manual_seed(22)
    model = hg.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=2,
                              dim_feedforward=16, dropout=0.0, batch_first=True,
                              dtype=hg.float64)
    keys = list(model.state_dict())
    assert keys[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert "encoder.norm.weight" in keys and keys[-1] == "decoder.norm.bias"
    # Xavier re-initialization of every matrix (linear weights included).
    weight = model.decoder.layers[0].linear1.weight._array
    assert np.abs(weight).max() <= math.sqrt(6 / (16 + 8))
    src, tgt = hg.randn(2, 5, 8, dtype=hg.float64), hg.randn(2, 4, 8, dtype=hg.float64)
    mask = hg.nn.Transformer.generate_square_subsequent_mask(4, dtype=hg.float64)
    out = model(src, tgt, tgt_mask=mask)
    assert out.shape == (2, 4, 8)
    # Changing a later target position must not change earlier outputs under the causal mask.
    changed = tgt._array.copy()
    changed[:, 3] += 5.0
    out2 = model(src, hg.tensor(changed), tgt_mask=mask)
    np.testing.assert_allclose(out._array[:, :3], out2._array[:, :3], rtol=1e-10, atol=1e-12)
    assert not np.allclose(out._array[:, 3], out2._array[:, 3])
    x = hg.tensor(tgt._array[:1, :2], requires_grad=True)
    small_src = src[:1, :2]
    assert gradcheck(lambda t: model(small_src, t), [x])
