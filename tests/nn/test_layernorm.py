"""LayerNorm against NumPy, numerical stability, PyTorch layout, gradchecks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.nn.layernorm import layer_norm
from hybridgrad.testing import gradcheck, gradgradcheck


def reference(x, shape, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@pytest.mark.parametrize("shape", [(5,), (3, 5)])
def test_matches_numpy(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5)) * 3 + 1
    weight, bias = rng.standard_normal(shape), rng.standard_normal(shape)
    layer = hg.nn.LayerNorm(shape, dtype=hg.float64)
    layer.weight._array[...] = weight
    layer.bias._array[...] = bias
    np.testing.assert_allclose(layer(hg.tensor(x))._array, reference(x, shape, weight, bias),
                               rtol=1e-10)
    np.testing.assert_allclose(layer_norm(hg.tensor(x), shape)._array, reference(x, shape),
                               rtol=1e-10)


def test_parameters_and_defaults():
    layer = hg.nn.LayerNorm(4)
    assert layer.normalized_shape == (4,) and layer.eps == 1e-5
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == [("weight", (4,)),
                                                                     ("bias", (4,))]
    np.testing.assert_array_equal(layer.weight._array, np.ones(4))
    np.testing.assert_array_equal(layer.bias._array, np.zeros(4))
    assert list(hg.nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    assert list(hg.nn.LayerNorm(4, bias=False).state_dict()) == ["weight"]


def test_stable_with_large_offset():
    # E[x^2] - E[x]^2 loses everything here in float32; the two-pass variance does not.
    x = np.array([[1e4 + 0.0, 1e4 + 1.0, 1e4 + 2.0, 1e4 + 3.0]], dtype=np.float32)
    out = hg.nn.LayerNorm(4)(hg.tensor(x))._array
    expected = reference(x.astype(np.float64) - 1e4, (4,))
    np.testing.assert_allclose(out, expected, atol=1e-3)
    constant = hg.nn.LayerNorm(3)(hg.full((2, 3), 7.0))._array
    np.testing.assert_array_equal(constant, np.zeros((2, 3)))


def test_gradcheck_input_weight_bias():
    rng = np.random.default_rng(1)
    x = hg.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    weight = hg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    bias = hg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda a, w, b: layer_norm(a, (3, 4), w, b, eps=1e-3), [x, weight, bias])


def test_second_derivatives():
    x = hg.tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    assert gradgradcheck(lambda a: layer_norm(a, (3,)), [x])


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        hg.nn.LayerNorm(4)(hg.zeros(2, 3))
    with pytest.raises(ValueError, match="weight"):
        layer_norm(hg.zeros(2, 3), (3,), weight=hg.ones(4))


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 4), features=st.integers(2, 6), offset=st.floats(-1e3, 1e3),
       spread=st.floats(0.1, 100.0), seed=st.integers(0, 10_000))
def test_normalized_rows_have_zero_mean_unit_variance(rows, features, offset, spread, seed):
    x = np.random.default_rng(seed).standard_normal((rows, features)) * spread + offset
    out = layer_norm(hg.tensor(x), (features,), eps=0.0)._array
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(out.var(axis=1), 1.0, rtol=1e-9)
    # Invariant to shifting and (positively) scaling each row.
    shifted = layer_norm(hg.tensor(x * 3.0 + 7.0), (features,), eps=0.0)._array
    np.testing.assert_allclose(shifted, out, rtol=1e-7, atol=1e-8)
