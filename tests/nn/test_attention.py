"""Attention against NumPy references written with explicit per-batch, per-head loops."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.nn.attention import scaled_dot_product_attention, sinusoidal_positional_encoding
from hybridgrad.testing import gradcheck, gradgradcheck


def np_softmax_rows(scores):
    """Row softmax; rows that are entirely -inf give zeros (the safe-softmax convention)."""
    out = np.zeros_like(scores)
    for index in np.ndindex(scores.shape[:-1]):
        row = scores[index]
        if np.all(np.isneginf(row)):
            continue
        e = np.exp(row - row[np.isfinite(row)].max())
        out[index] = e / e.sum()
    return out


def np_sdpa(q, k, v, mask=None, causal=False, scale=None):
    """q (..., L, E), k (..., S, E), v (..., S, Ev); bool mask True = allowed."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("...le,...se->...ls", q, k) * scale
    if causal:
        mask = np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if mask is not None:
        if mask.dtype == bool:
            scores = np.where(mask, scores, -np.inf)
        else:
            scores = scores + mask
    return np.einsum("...ls,...se->...le", np_softmax_rows(scores), v)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention


@pytest.mark.parametrize("case", ["plain", "bool", "float", "causal", "scale", "broadcast"])
def test_sdpa_matches_numpy(case):
    q, k, v = rand(2, 3, 4, 5, seed=1), rand(2, 3, 6, 5, seed=2), rand(2, 3, 6, 7, seed=3)
    kwargs, ref_kwargs = {}, {}
    if case == "bool":
        mask = rand(4, 6, seed=4) > 0
        kwargs["attn_mask"], ref_kwargs["mask"] = hg.tensor(mask), mask
    elif case == "float":
        mask = rand(2, 1, 4, 6, seed=5)
        mask[0, 0, 1, 2] = -np.inf
        kwargs["attn_mask"], ref_kwargs["mask"] = hg.tensor(mask), mask
    elif case == "causal":
        kwargs["is_causal"], ref_kwargs["causal"] = True, True
    elif case == "scale":
        kwargs["scale"], ref_kwargs["scale"] = 0.3, 0.3
    elif case == "broadcast":
        q = rand(4, 5, seed=6)  # broadcasts against (2, 3, S, E)
    out = scaled_dot_product_attention(hg.tensor(q), hg.tensor(k), hg.tensor(v), **kwargs)
    expected = np_sdpa(q, k, v, **ref_kwargs)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out._array, expected, rtol=1e-10, atol=1e-12)


def test_sdpa_causal_is_top_left_aligned_and_ignores_the_future():
    q, k, v = rand(1, 3, 4, seed=7), rand(1, 5, 4, seed=8), rand(1, 5, 2, seed=9)
    out = scaled_dot_product_attention(hg.tensor(q), hg.tensor(k), hg.tensor(v), is_causal=True)
    changed = v.copy()
    changed[:, 3:] += 100.0  # keys 3, 4 are in the future of every query 0..2
    out2 = scaled_dot_product_attention(hg.tensor(q), hg.tensor(k), hg.tensor(changed),
                                        is_causal=True)
    np.testing.assert_allclose(out._array, out2._array)
    np.testing.assert_allclose(out._array[0, 0], v[0, 0])  # query 0 sees only key 0


def test_sdpa_fully_masked_row_is_zero_with_finite_gradients():
    q = hg.tensor(rand(2, 3, seed=10), requires_grad=True)
    k = hg.tensor(rand(4, 3, seed=11), requires_grad=True)
    v = hg.tensor(rand(4, 2, seed=12), requires_grad=True)
    mask = np.ones((2, 4), dtype=bool)
    mask[1] = False
    out = scaled_dot_product_attention(q, k, v, attn_mask=hg.tensor(mask))
    np.testing.assert_array_equal(out._array[1], [0.0, 0.0])
    out.sum().backward()
    for t in (q, k, v):
        assert np.all(np.isfinite(t.grad._array))
    np.testing.assert_array_equal(q.grad._array[1], np.zeros(3))


@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal"])
def test_sdpa_gradcheck(mask_kind):
    q = hg.tensor(rand(2, 3, 4, seed=13), requires_grad=True)
    k = hg.tensor(rand(2, 3, 4, seed=14), requires_grad=True)
    v = hg.tensor(rand(2, 3, 2, seed=15), requires_grad=True)
    mask = {None: None, "causal": None, "bool": hg.tensor(rand(3, 3, seed=16) > -0.5),
            "float": hg.tensor(rand(3, 3, seed=17))}[mask_kind]
    assert gradcheck(lambda a, b, c: scaled_dot_product_attention(
        a, b, c, attn_mask=mask, is_causal=mask_kind == "causal"), [q, k, v])


def test_sdpa_second_derivatives():
    q = hg.tensor(rand(2, 3, seed=21), requires_grad=True)
    k = hg.tensor(rand(4, 3, seed=22), requires_grad=True)
    v = hg.tensor(rand(4, 2, seed=23), requires_grad=True)
    mask = hg.tensor(np.array([[True, True, False, True], [True, False, False, False]]))
    assert gradgradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, attn_mask=mask),
                         [q, k, v])


def test_sdpa_dropout_and_errors():
    q, k, v = (hg.tensor(rand(3, 4, seed=s)) for s in (18, 19, 20))
    np.testing.assert_array_equal(scaled_dot_product_attention(q, k, v, dropout_p=1.0)._array,
                                  np.zeros((3, 4)))
    hg.manual_seed(0)
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.5)._array
    hg.manual_seed(0)
    b = scaled_dot_product_attention(q, k, v, dropout_p=0.5)._array
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, scaled_dot_product_attention(q, k, v)._array)
    with pytest.raises(ValueError, match="is_causal"):
        scaled_dot_product_attention(q, k, v, attn_mask=hg.ones(3, 3), is_causal=True)
    with pytest.raises(ValueError, match="incompatible shapes"):
        scaled_dot_product_attention(q, hg.zeros(3, 5), v)


# ----------------------------------------------------------------------------------------------
# MultiheadAttention


def np_mha(module, query, key, value, attn_mask=None, key_padding_mask=None, causal=False):
    """Time-major (L, N, E) inputs; PyTorch's MHA mask convention (bool True = blocked)."""
    heads, embed = module.num_heads, module.embed_dim
    head_dim = embed // heads
    if module.in_proj_weight is not None:
        w_q, w_k, w_v = np.split(module.in_proj_weight._array, 3)
    else:
        w_q, w_k, w_v = (module.q_proj_weight._array, module.k_proj_weight._array,
                         module.v_proj_weight._array)
    b_q, b_k, b_v = np.split(module.in_proj_bias._array, 3)
    q, k, v = query @ w_q.T + b_q, key @ w_k.T + b_k, value @ w_v.T + b_v
    length, batch, _ = query.shape
    source = key.shape[0]
    out = np.zeros((length, batch, embed))
    weights = np.zeros((batch, heads, length, source))
    for n in range(batch):
        for h in range(heads):
            cols = slice(h * head_dim, (h + 1) * head_dim)
            scores = q[:, n, cols] @ k[:, n, cols].T / math.sqrt(head_dim)
            blocked = np.zeros((length, source), dtype=bool)
            if causal:
                blocked |= np.triu(np.ones((length, source), dtype=bool), 1)
            for mask, rows_first in ((attn_mask, True), (key_padding_mask, False)):
                if mask is None:
                    continue
                if rows_first:
                    piece = mask if mask.ndim == 2 else mask[n * heads + h]
                else:
                    piece = np.broadcast_to(mask[n], (length, source))
                if piece.dtype == bool:
                    blocked |= piece
                else:
                    scores = scores + piece
            scores = np.where(blocked, -np.inf, scores)
            w = np_softmax_rows(scores)
            weights[n, h] = w
            out[:, n, cols] = w @ v[:, n, cols]
    out = out @ module.out_proj.weight._array.T + module.out_proj.bias._array
    return out, weights


def make_mha(embed=6, heads=2, seed=0, **kwargs):
    hg.manual_seed(seed)
    module = hg.nn.MultiheadAttention(embed, heads, dtype=hg.float64, **kwargs)
    # Non-zero biases so that the test sees them (PyTorch initialises them to zero).
    rng = np.random.default_rng(seed)
    module.in_proj_bias._array[...] = rng.standard_normal(module.in_proj_bias.shape)
    module.out_proj.bias._array[...] = rng.standard_normal(module.out_proj.bias.shape)
    return module


def test_mha_parameters_and_init():
    hg.manual_seed(0)
    module = hg.nn.MultiheadAttention(8, 2)
    assert [(k, v.shape) for k, v in module.state_dict().items()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,))]
    bound = math.sqrt(6 / (24 + 8))
    assert np.abs(module.in_proj_weight._array).max() <= bound
    assert np.abs(module.in_proj_weight._array).max() > 0.8 * bound
    np.testing.assert_array_equal(module.in_proj_bias._array, 0)
    np.testing.assert_array_equal(module.out_proj.bias._array, 0)
    separate = hg.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert [(k, v.shape) for k, v in separate.state_dict().items()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 3)), ("v_proj_weight", (8, 5)),
        ("out_proj.weight", (8, 8))]
    with pytest.raises(ValueError, match="divisible"):
        hg.nn.MultiheadAttention(7, 2)


def bool_mask(shape, seed):
    mask = rand(*shape, seed=seed) > 0.6
    mask[..., 0] = False  # keep at least one key per row
    return mask


MHA_CASES = {
    "self": {},
    "bool_attn_mask": {"attn_mask": bool_mask((3, 3), 1)},
    "float_attn_mask": {"attn_mask": rand(3, 3, seed=2)},
    "per_head_mask": {"attn_mask": bool_mask((2 * 2, 3, 3), 3)},
    "key_padding_bool": {"key_padding_mask": np.array([[False, False, True],
                                                       [False, True, True]])},
    "key_padding_float": {"key_padding_mask": rand(2, 3, seed=4)},
    "both_masks": {"attn_mask": bool_mask((3, 3), 5),
                   "key_padding_mask": np.array([[False, False, True], [False, False, False]])},
    "causal": {"is_causal": True},
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_self_attention_matches_numpy(case):
    module = make_mha()
    x = rand(3, 2, 6, seed=10)
    masks = MHA_CASES[case]
    kwargs = {k: (hg.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in masks.items()}
    tensor_x = hg.tensor(x)
    out, weights = module(tensor_x, tensor_x, tensor_x, average_attn_weights=False, **kwargs)
    expected_out, expected_weights = np_mha(
        module, x, x, x, attn_mask=masks.get("attn_mask"),
        key_padding_mask=masks.get("key_padding_mask"), causal=masks.get("is_causal", False))
    np.testing.assert_allclose(out._array, expected_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights._array, expected_weights, rtol=1e-10, atol=1e-12)
    _, averaged = module(tensor_x, tensor_x, tensor_x, **kwargs)
    np.testing.assert_allclose(averaged._array, expected_weights.mean(axis=1), rtol=1e-10)


def test_mha_cross_attention_batch_first_kdim_vdim():
    module = make_mha(embed=4, heads=2, kdim=3, vdim=5, batch_first=True)
    query, key, value = rand(2, 3, 4, seed=11), rand(2, 5, 3, seed=12), rand(2, 5, 5, seed=13)
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    out, weights = module(hg.tensor(query), hg.tensor(key), hg.tensor(value),
                          key_padding_mask=hg.tensor(padding))
    expected_out, expected_weights = np_mha(
        module, query.transpose(1, 0, 2), key.transpose(1, 0, 2), value.transpose(1, 0, 2),
        key_padding_mask=padding)
    assert out.shape == (2, 3, 4) and weights.shape == (2, 3, 5)
    np.testing.assert_allclose(out._array, expected_out.transpose(1, 0, 2), rtol=1e-10)
    np.testing.assert_allclose(weights._array, expected_weights.mean(axis=1), rtol=1e-10)


def test_mha_unbatched_and_need_weights_false():
    module = make_mha()
    x = rand(3, 6, seed=14)
    out, weights = module(hg.tensor(x), hg.tensor(x), hg.tensor(x))
    expected_out, expected_weights = np_mha(module, x[:, None], x[:, None], x[:, None])
    assert out.shape == (3, 6) and weights.shape == (3, 3)
    np.testing.assert_allclose(out._array, expected_out[:, 0], rtol=1e-10)
    np.testing.assert_allclose(weights._array, expected_weights.mean(axis=1)[0], rtol=1e-10)
    out2, none = module(hg.tensor(x), hg.tensor(x), hg.tensor(x), need_weights=False)
    assert none is None
    np.testing.assert_allclose(out2._array, out._array)


def test_mha_gradcheck_inputs_and_parameters():
    module = make_mha(embed=4, heads=2, seed=3)
    query = hg.tensor(rand(2, 2, 4, seed=15), requires_grad=True)
    key = hg.tensor(rand(3, 2, 4, seed=16), requires_grad=True)
    value = hg.tensor(rand(3, 2, 4, seed=17), requires_grad=True)
    padding = hg.tensor(np.array([[False, False, True], [False, False, False]]))
    params = list(module.parameters())

    def run(q, k, v, *_):
        return module(q, k, v, key_padding_mask=padding)

    assert gradcheck(run, [query, key, value] + params)


def test_mha_dropout_train_vs_eval():
    module = make_mha(dropout=0.5)
    x = hg.tensor(rand(3, 2, 6, seed=18))
    hg.manual_seed(1)
    train_out, train_weights = module(x, x, x)
    module.eval()
    eval_out, eval_weights = module(x, x, x)
    expected_out, expected_weights = np_mha(module, x._array, x._array, x._array)
    np.testing.assert_allclose(eval_out._array, expected_out, rtol=1e-10)
    assert not np.allclose(train_out._array, eval_out._array)
    # Returned training weights are post-dropout: each entry is 0 or 2x the eval weight/head.
    assert not np.allclose(train_weights._array, eval_weights._array)


def test_mha_shape_errors():
    module = hg.nn.MultiheadAttention(4, 2)
    x = hg.zeros(3, 2, 4)
    with pytest.raises(ValueError, match="key_padding_mask"):
        module(x, x, x, key_padding_mask=hg.zeros(2, 5, dtype=hg.bool))
    with pytest.raises(ValueError, match="attn_mask"):
        module(x, x, x, attn_mask=hg.zeros(2, 2))
    with pytest.raises(ValueError, match="feature sizes"):
        module(hg.zeros(3, 2, 5), x, x)


# ----------------------------------------------------------------------------------------------
# Positional encoding


def test_positional_encoding_formula():
    table = sinusoidal_positional_encoding(50, 8, dtype=hg.float64)._array
    for pos in (0, 1, 7, 49):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-12)
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-12)


def test_positional_encoding_properties():
    table = sinusoidal_positional_encoding(200, 16, dtype=hg.float64)._array
    assert np.all(np.abs(table) <= 1.0)  # bounded, however long the sequence
    assert len({tuple(np.round(row, 9)) for row in table}) == 200  # unique rows
    np.testing.assert_array_equal(table, sinusoidal_positional_encoding(200, 16,
                                                                         dtype=hg.float64)._array)
    # PE(pos + k) = M_k PE(pos): one linear map for every pos, depending only on k...
    frequencies = 10000.0 ** (-np.arange(0, 16, 2) / 16)
    for k in (1, 5, 30):
        rotation = np.zeros((16, 16))
        for i, w in enumerate(frequencies):
            c, s = math.cos(w * k), math.sin(w * k)
            # [sin(a + b), cos(a + b)] = [[c, s], [-s, c]] [sin a, cos a]
            rotation[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
        np.testing.assert_allclose(table[k:], table[:-k] @ rotation.T, atol=1e-9)
        # ...found without the formula too: one least-squares linear map fits every position.
        fitted, *_ = np.linalg.lstsq(table[:-k], table[k:], rcond=None)
        np.testing.assert_allclose(table[:-k] @ fitted, table[k:], atol=1e-8)
    # A non-sinusoidal table (raw positions) has no such map: the check can fail.
    raw = np.stack([np.arange(200.0) ** 2, np.ones(200)], axis=1)
    fitted, *_ = np.linalg.lstsq(raw[:-3], raw[3:], rcond=None)
    assert np.abs(raw[:-3] @ fitted - raw[3:]).max() > 1.0
    # Distances between positions depend only on the offset.
    d1 = np.linalg.norm(table[10] - table[13])
    d2 = np.linalg.norm(table[120] - table[123])
    assert d1 == pytest.approx(d2, rel=1e-9)


def test_positional_encoding_module():
    layer = hg.nn.PositionalEncoding(6, max_len=20, dropout=0.0)
    assert list(layer.state_dict()) == []  # non-persistent buffer
    assert [name for name, _ in layer.named_buffers()] == ["pe"]
    x = rand(5, 2, 6, seed=19).astype(np.float32)
    table = sinusoidal_positional_encoding(5, 6)._array
    np.testing.assert_allclose(layer(hg.tensor(x))._array, x + table[:, None], rtol=1e-6)
    batch_first = hg.nn.PositionalEncoding(6, max_len=20, dropout=0.0, batch_first=True)
    xb = x.transpose(1, 0, 2)
    np.testing.assert_allclose(batch_first(hg.tensor(xb))._array, xb + table[None], rtol=1e-6)
    odd = sinusoidal_positional_encoding(4, 5)
    assert odd.shape == (4, 5)
    with pytest.raises(ValueError, match="max_len"):
        layer(hg.zeros(21, 1, 6))
    t = hg.tensor(rand(3, 1, 6, seed=20), requires_grad=True)
    assert gradcheck(layer, [t])
    dropping = hg.nn.PositionalEncoding(6, max_len=20, dropout=0.5)
    ones = hg.ones(4, 3, 6)
    assert not np.allclose(dropping(ones)._array, dropping.eval()(ones)._array)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 3), length=st.integers(1, 4), source=st.integers(1, 5),
       embed=st.integers(1, 4), value_dim=st.integers(1, 3), seed=st.integers(0, 10_000),
       masked=st.booleans())
def test_sdpa_shapes_and_values_property(batch, length, source, embed, value_dim, seed, masked):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((batch, length, embed))
    k = rng.standard_normal((batch, source, embed))
    v = rng.standard_normal((batch, source, value_dim))
    mask = rng.random((length, source)) > 0.5 if masked else None
    out = scaled_dot_product_attention(hg.tensor(q), hg.tensor(k), hg.tensor(v),
                                       attn_mask=None if mask is None else hg.tensor(mask))
    assert out.shape == (batch, length, value_dim)
    np.testing.assert_allclose(out._array, np_sdpa(q, k, v, mask=mask), rtol=1e-10, atol=1e-12)
    # Each output row is a convex combination of value rows (or zero when fully masked).
    assert np.all(out._array <= np.maximum(v.max(axis=1, keepdims=True), 0) + 1e-12)
    assert np.all(out._array >= np.minimum(v.min(axis=1, keepdims=True), 0) - 1e-12)
