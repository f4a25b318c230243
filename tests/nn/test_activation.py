"""Activations: values against NumPy / math formulas, PyTorch defaults, float64 gradchecks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.nn import activation as A
from hybridgrad.testing import gradcheck, gradgradcheck

X = np.array([-3.0, -1.2, -0.3, 0.4, 1.1, 2.5])
ERF = np.vectorize(math.erf)

REFERENCES = {
    "relu": (A.relu, hg.nn.ReLU(), lambda x: np.maximum(x, 0)),
    "leaky_relu": (A.leaky_relu, hg.nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    "elu": (A.elu, hg.nn.ELU(), lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    "gelu": (A.gelu, hg.nn.GELU(), lambda x: x * 0.5 * (1 + ERF(x / math.sqrt(2)))),
    "silu": (A.silu, hg.nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    "sigmoid": (A.sigmoid, hg.nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (A.tanh, hg.nn.Tanh(), np.tanh),
    "softplus": (A.softplus, hg.nn.Softplus(), lambda x: np.log1p(np.exp(x))),
}


@pytest.mark.parametrize("name", list(REFERENCES))
def test_function_and_module_match_reference(name):
    function, module, reference = REFERENCES[name]
    x = hg.tensor(X, dtype=hg.float64)
    np.testing.assert_allclose(function(x)._array, reference(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(module(x)._array, reference(X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_gradcheck(name):
    function, _, _ = REFERENCES[name]
    x = hg.tensor(X.reshape(2, 3), dtype=hg.float64, requires_grad=True)
    assert gradcheck(function, [x])


@pytest.mark.parametrize("name", ["elu", "gelu", "silu"])
def test_gradgradcheck_smooth_ones(name):
    function, _, _ = REFERENCES[name]
    x = hg.tensor([-1.3, 0.7, 2.0], dtype=hg.float64, requires_grad=True)
    assert gradgradcheck(function, [x])


def test_parameters_of_leaky_relu_elu_gelu():
    x = hg.tensor(X, dtype=hg.float64)
    np.testing.assert_allclose(hg.nn.LeakyReLU(0.2)(x)._array, np.where(X > 0, X, 0.2 * X))
    np.testing.assert_allclose(hg.nn.ELU(alpha=0.5)(x)._array,
                               np.where(X > 0, X, 0.5 * (np.exp(X) - 1)))
    inner = math.sqrt(2 / math.pi) * (X + 0.044715 * X ** 3)
    np.testing.assert_allclose(hg.nn.GELU("tanh")(x)._array, 0.5 * X * (1 + np.tanh(inner)),
                               rtol=1e-12)
    # The tanh approximation is close to, but not the same as, the exact erf form.
    difference = np.abs(A.gelu(x, "tanh")._array - A.gelu(x)._array)
    assert 0 < difference.max() < 1e-3
    assert gradcheck(lambda t: A.gelu(t, "tanh"), [hg.tensor(X, dtype=hg.float64,
                                                              requires_grad=True)])
    with pytest.raises(ValueError, match="approximate"):
        hg.nn.GELU("fast")


def test_elu_has_finite_gradient_for_large_inputs():
    x = hg.tensor([1000.0, -1000.0], dtype=hg.float64, requires_grad=True)
    A.elu(x).sum().backward()
    np.testing.assert_allclose(x.grad._array, [1.0, 0.0])


def test_softmax_and_log_softmax_modules():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((2, 3, 4))
    x = hg.tensor(values)
    for dim in (0, 1, -1):
        expected = np.exp(values) / np.exp(values).sum(axis=dim, keepdims=True)
        np.testing.assert_allclose(hg.nn.Softmax(dim)(x)._array, expected, rtol=1e-12)
        np.testing.assert_allclose(hg.nn.LogSoftmax(dim)(x)._array, np.log(expected), rtol=1e-12)
    # PyTorch's implicit dim for 3-D input is 0.
    expected = np.exp(values) / np.exp(values).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(A.softmax(x)._array, expected, rtol=1e-12)
    t = hg.tensor(values, requires_grad=True)
    assert gradcheck(lambda v: A.log_softmax(v, dim=1), [t])
    assert gradcheck(lambda v: A.softmax(v, dim=-1), [t])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=8))
def test_activations_are_monotone_where_expected(values):
    x = hg.tensor(sorted(values), dtype=hg.float64)
    for function in (A.relu, A.leaky_relu, A.elu, A.sigmoid, A.tanh, A.softplus):
        out = function(x)._array
        assert np.all(np.diff(out) >= -1e-12)
    assert np.all(A.gelu(x)._array >= -0.17) and np.all(A.silu(x)._array >= -0.28)


def test_modules_have_no_parameters_and_pytorch_repr():
    assert list(hg.nn.GELU().state_dict()) == []
    assert repr(hg.nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(hg.nn.Softmax(dim=1)) == "Softmax(dim=1)"
