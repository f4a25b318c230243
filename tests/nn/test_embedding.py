"""Embedding: lookup, padding_idx gradient, accumulation, from_pretrained, max_norm."""

import numpy as np
import pytest

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad.testing import gradcheck


def test_lookup_and_shape():
    emb = hg.nn.Embedding(5, 3)
    idx = np.array([[1, 4, 1], [0, 2, 3]])
    out = emb(hg.tensor(idx))
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out._array, emb.weight._array[idx])


def test_padding_idx_gets_zero_gradient_and_repeats_accumulate():
    emb = hg.nn.Embedding(4, 2, padding_idx=1)
    assert emb.weight._array[1].tolist() == [0.0, 0.0]
    emb.weight._array[1] = [5.0, 5.0]  # a non-zero padding row is still returned as is
    out = emb(hg.tensor([[1, 2, 2], [1, 0, 3]]))
    assert out._array[0, 0].tolist() == [5.0, 5.0]
    (out * hg.tensor([1.0, 2.0])).sum().backward()
    grad = emb.weight.grad._array
    assert grad[1].tolist() == [0.0, 0.0]
    assert grad[2].tolist() == [2.0, 4.0]
    assert grad[0].tolist() == [1.0, 2.0] and grad[3].tolist() == [1.0, 2.0]


def test_negative_padding_idx():
    emb = hg.nn.Embedding(4, 2, padding_idx=-1)
    assert emb.padding_idx == 3 and emb.weight._array[3].tolist() == [0.0, 0.0]


def test_default_init_is_standard_normal():
    hg.manual_seed(0)
    weight = hg.nn.Embedding(1000, 50).weight._array
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1.0) < 0.01
    assert weight.dtype == np.float32


def test_from_pretrained_freeze_and_state_dict():
    table = hg.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = hg.nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and list(emb.state_dict()) == ["weight"]
    assert emb(hg.tensor([1])).tolist() == [[3.0, 4.0]]
    table._array[0, 0] = 9.0
    assert emb.weight._array[0, 0] == 1.0  # a copy
    assert hg.nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_max_norm_renormalises_looked_up_rows():
    weight = hg.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    F.embedding(hg.tensor([0, 1]), weight, max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(weight._array, axis=1), [1.0, 0.5, 10.0],
                               rtol=1e-5)


def test_embedding_gradcheck():
    weight = hg.tensor(np.random.default_rng(0).standard_normal((4, 3)), dtype=hg.float64,
                       requires_grad=True)
    idx = hg.tensor([[0, 2, 2], [3, 1, 0]])
    assert gradcheck(lambda w: F.embedding(idx, w), [weight])
    # With padding_idx the gradient is deliberately the true one with the padding row zeroed.
    projection = hg.tensor(np.random.default_rng(1).standard_normal((2, 3, 3)))
    (full,) = hg.autograd.grad((F.embedding(idx, weight) * projection).sum(), weight)
    (padded,) = hg.autograd.grad((F.embedding(idx, weight, padding_idx=2) * projection).sum(),
                                 weight)
    expected = full._array.copy()
    expected[2] = 0
    np.testing.assert_allclose(padded._array, expected)
    assert np.abs(full._array[2]).sum() > 0


def test_embedding_errors():
    with pytest.raises(IndexError, match="out of range"):
        hg.nn.Embedding(3, 2)(hg.tensor([3]))
    with pytest.raises(TypeError, match="integers"):
        hg.nn.Embedding(3, 2)(hg.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        hg.nn.Embedding(3, 2, padding_idx=3)
