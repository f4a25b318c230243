"""Fused speed primitives (hybridgrad/ops/fused.py): gradient checks and equality with the
composites they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.ops import OpError, apply
from hybridgrad.testing import gradcheck, gradgradcheck

LEADING = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@settings(max_examples=15, deadline=None)
@given(lead=LEADING, n_in=st.integers(1, 4), n_out=st.integers(1, 4), seed=st.integers(0, 99))
def test_linear_gradcheck_any_leading_dims(lead, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x = hg.tensor(rng.standard_normal(lead + (n_in,)), requires_grad=True)
    w = hg.tensor(rng.standard_normal((n_out, n_in)), requires_grad=True)
    assert gradcheck(lambda a, b: apply("linear", a, b), [x, w])


def test_linear_gradgradcheck():
    rng = np.random.default_rng(1)
    x = hg.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = hg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    assert gradgradcheck(lambda a, b: apply("linear", a, b), [x, w])


@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
def test_linear_equals_matmul_with_transposed_weight(lead):
    rng = np.random.default_rng(2)
    x_np = rng.standard_normal(lead + (4,)).astype(np.float32)
    w_np = rng.standard_normal((3, 4)).astype(np.float32)
    x = hg.tensor(x_np, requires_grad=True)
    w = hg.tensor(w_np, requires_grad=True)
    y = apply("linear", x, w)
    assert y.dtype == np.float32 and y.shape == lead + (3,)
    np.testing.assert_allclose(y._array, x_np @ w_np.T, rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(lead + (3,)).astype(np.float32)
    y.backward(hg.tensor(g))
    np.testing.assert_allclose(x.grad._array, g @ w_np, rtol=1e-5, atol=1e-5)
    expected_w = g.reshape(-1, 3).T @ x_np.reshape(-1, 4)
    np.testing.assert_allclose(w.grad._array, expected_w, rtol=1e-5, atol=1e-5)
    # The weight gradient is the weight's own contiguous layout (the point of the fusion).
    assert w.grad._array.flags.c_contiguous and w.grad._array.base is None


def test_linear_only_the_needed_gradient():
    x = hg.ones(2, 3)
    w = hg.ones(4, 3, requires_grad=True)
    apply("linear", x, w).sum().backward()
    assert x.grad is None and w.grad.tolist() == [[2.0] * 3] * 4


def test_linear_promotes_and_rejects_bad_shapes():
    x = hg.tensor(np.ones((2, 3), dtype=np.float64))
    w = hg.tensor(np.ones((4, 3), dtype=np.float32))
    assert apply("linear", x, w).dtype == np.float64
    with pytest.raises(OpError, match=r"linear: .*input \(2, 3\) and weight \(4, 2\)"):
        apply("linear", x, hg.ones(4, 2))


def test_nn_linear_matches_hand_formula():
    layer = hg.nn.Linear(4, 3)
    x = hg.tensor(np.arange(8, dtype=np.float32).reshape(2, 4))
    expected = x._array @ layer.weight._array.T + layer.bias._array
    np.testing.assert_allclose(layer(x)._array, expected, rtol=1e-6)


def _composite_batch_norm(x, weight, bias, eps):
    axes = (0,) + tuple(range(2, len(x.shape)))
    view = (1, x.shape[1]) + (1,) * (len(x.shape) - 2)
    mean = hg.mean(x, axes, keepdim=True)
    centered = x - mean
    var = hg.mean(centered * centered, axes, keepdim=True)
    return centered / hg.sqrt(var + eps) * weight.reshape(view) + bias.reshape(view)


BN_SHAPES = st.sampled_from([(4, 3), (3, 2, 5), (2, 3, 2, 3), (5, 1, 2, 2)])


@settings(max_examples=10, deadline=None)
@given(shape=BN_SHAPES, seed=st.integers(0, 99))
def test_batch_norm_train_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    x = hg.tensor(rng.standard_normal(shape), requires_grad=True)
    w = hg.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    b = hg.tensor(rng.standard_normal(shape[1]), requires_grad=True)
    assert gradcheck(lambda *t: apply("batch_norm_train", *t, eps=1e-5), [x, w, b])


def test_batch_norm_train_gradgradcheck():
    rng = np.random.default_rng(3)
    x = hg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w = hg.tensor(rng.standard_normal(2), requires_grad=True)
    b = hg.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradgradcheck(lambda *t: apply("batch_norm_train", *t, eps=1e-5), [x, w, b])


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 5)])
def test_batch_norm_train_equals_composite_forward_and_backward(shape):
    rng = np.random.default_rng(4)
    values = [rng.standard_normal(shape).astype(np.float32) * 3 + 1,
              rng.standard_normal(shape[1]).astype(np.float32),
              rng.standard_normal(shape[1]).astype(np.float32)]
    g = hg.tensor(rng.standard_normal(shape).astype(np.float32))
    fused = [hg.tensor(v, requires_grad=True) for v in values]
    plain = [hg.tensor(v, requires_grad=True) for v in values]
    y_fused = apply("batch_norm_train", *fused, eps=1e-5)
    y_plain = _composite_batch_norm(*plain, 1e-5)
    assert y_fused.dtype == np.float32
    np.testing.assert_allclose(y_fused._array, y_plain._array, rtol=1e-4, atol=1e-5)
    y_fused.backward(g)
    y_plain.backward(g)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a.grad._array, b.grad._array, rtol=1e-3, atol=1e-4)


def test_batch_norm_layer_running_stats_and_missing_affine():
    rng = np.random.default_rng(5)
    data = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    layer = hg.nn.BatchNorm2d(3, affine=False)
    out = layer(hg.tensor(data, requires_grad=True))
    mean = data.mean(axis=(0, 2, 3))
    var = data.var(axis=(0, 2, 3))
    expected = (data - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(out._array, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.running_mean._array, 0.1 * mean, rtol=1e-5, atol=1e-6)
    unbiased = data.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(layer.running_var._array, 0.9 + 0.1 * unbiased, rtol=1e-5)
    out.sum().backward()  # no weight/bias parameters to reach; the input gradient is ~0
    assert int(layer.num_batches_tracked._array) == 1


def test_batch_norm_train_rejects_bad_shapes():
    with pytest.raises(OpError, match=r"batch_norm_train: .*weight \(2,\)"):
        apply("batch_norm_train", hg.ones(4, 3), hg.ones(2), hg.ones(3), eps=1e-5)


def test_batch_norm_train_node_keeps_the_forward_statistics_until_the_graph_is_freed():
    rng = np.random.default_rng(6)
    data = rng.standard_normal((4, 2, 3))
    x = hg.tensor(data, requires_grad=True)
    w, b = hg.ones(2, dtype=hg.float64), hg.zeros(2, dtype=hg.float64)
    y = apply("batch_norm_train", x, w, b, eps=1e-5)
    mean, var, inv_std = y._node.saved  # forward_saving's arrays, kept by the node
    np.testing.assert_allclose(mean.ravel(), data.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var.ravel(), data.var(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var + 1e-5), rtol=1e-12)
    g = hg.tensor(rng.standard_normal((4, 2, 3)))
    y.backward(g, retain_graph=True)  # the array VJP, from the saved statistics
    assert y._node.saved is not None
    first = x.grad._array.copy()
    x.grad = None
    (second,) = hg.autograd.grad(y, x, g, create_graph=True)  # the framework-operator VJP
    np.testing.assert_allclose(second._array, first, rtol=1e-10, atol=1e-12)
    y.backward(g)
    assert y._node.saved is None  # freed with the graph
    with hg.no_grad():
        assert apply("batch_norm_train", x, w, b, eps=1e-5)._node is None  # nothing kept


def test_batch_norm_train_mixed_and_integer_inputs():
    rng = np.random.default_rng(7)
    data = rng.integers(-3, 4, (5, 2, 3))
    w = hg.tensor(rng.standard_normal(2), requires_grad=True)  # float64
    b = hg.tensor(rng.standard_normal(2), requires_grad=True)
    y = apply("batch_norm_train", hg.tensor(data), w, b, eps=1e-5)
    assert y.dtype == np.float64
    g = rng.standard_normal((5, 2, 3))
    y.backward(hg.tensor(g))
    x_hat = (data - data.mean(axis=(0, 2), keepdims=True)) / np.sqrt(
        data.var(axis=(0, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(w.grad._array, (g * x_hat).sum(axis=(0, 2)), rtol=1e-10)
    np.testing.assert_allclose(b.grad._array, g.sum(axis=(0, 2)), rtol=1e-10)
    x32 = hg.tensor(rng.standard_normal((4, 2)).astype(np.float32), requires_grad=True)
    y32 = apply("batch_norm_train", x32, w, b, eps=1e-5)  # float32 input, float64 affine
    y32.sum().backward()
    assert x32.grad.dtype == np.float32 and y32.dtype == np.float64
