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
    np.testing.assert_allclose(y.data, x_np @ w_np.T, rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(lead + (3,)).astype(np.float32)
    y.backward(hg.tensor(g))
    np.testing.assert_allclose(x.grad.data, g @ w_np, rtol=1e-5, atol=1e-5)
    expected_w = g.reshape(-1, 3).T @ x_np.reshape(-1, 4)
    np.testing.assert_allclose(w.grad.data, expected_w, rtol=1e-5, atol=1e-5)
    # The weight gradient is the weight's own contiguous layout (the point of the fusion).
    assert w.grad.data.flags.c_contiguous and w.grad.data.base is None


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
    expected = x.data @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-6)
