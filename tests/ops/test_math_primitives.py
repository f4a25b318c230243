"""The primitives first added for ONNX import (rounding, inverse and hyperbolic trigonometry,
remainders, bitwise logic in ``hybridgrad/ops/elementwise.py``; cumsum and fft in
``hybridgrad/ops/reduction.py``): values against NumPy, gradients against finite differences
(float64)."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.ops import elementwise, reduction
from hybridgrad.ops.registry import apply
from hybridgrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(1)


def t64(array, requires_grad=True):
    return hg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


@pytest.mark.parametrize("name,reference,low,high", [
    ("tan", np.tan, -1.0, 1.0), ("asin", np.arcsin, -0.9, 0.9), ("acos", np.arccos, -0.9, 0.9),
    ("atan", np.arctan, -3, 3), ("sinh", np.sinh, -2, 2), ("cosh", np.cosh, -2, 2),
    ("asinh", np.arcsinh, -3, 3), ("acosh", np.arccosh, 1.2, 3), ("atanh", np.arctanh, -0.9, 0.9),
])
def test_trigonometric_values_and_gradients(name, reference, low, high):
    values = RNG.uniform(low, high, 5)
    out = apply(name, t64(values, False))
    np.testing.assert_allclose(out.numpy(), reference(values), rtol=1e-12)
    assert gradcheck(lambda a: apply(name, a), [t64(values)])
    assert gradgradcheck(lambda a: apply(name, a), [t64(values)])


def test_rounding_is_exact_and_has_zero_gradient():
    values = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.6])
    x = t64(values)
    np.testing.assert_array_equal(elementwise.floor(x).detach().numpy(), np.floor(values))
    np.testing.assert_array_equal(elementwise.ceil(x).detach().numpy(), np.ceil(values))
    np.testing.assert_array_equal(elementwise.round(x).detach().numpy(), [-2, -2, -0, 0, 2, 3])
    np.testing.assert_array_equal(elementwise.trunc(x).detach().numpy(), np.trunc(values))
    elementwise.floor(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(6))


def test_remainder_and_fmod_signs_and_gradients():
    a = np.array([5.5, -5.5, 5.5, -5.5])
    b = np.array([2.0, 2.0, -2.0, -2.0])
    np.testing.assert_allclose(apply("remainder", t64(a, False), t64(b, False)).numpy(),
                               [1.5, 0.5, -0.5, -1.5])
    np.testing.assert_allclose(apply("fmod", t64(a, False), t64(b, False)).numpy(),
                               [1.5, -1.5, 1.5, -1.5])
    assert gradcheck(lambda x, y: apply("remainder", x, y), [t64(a), t64(b)])
    assert gradcheck(lambda x, y: apply("fmod", x, y), [t64(a), t64(b)])


def test_integer_division_truncates_toward_zero():
    a = hg.tensor(np.array([7, -7, 7, -7, 0], np.int32))
    b = hg.tensor(np.array([2, 2, -2, -2, 3], np.int32))
    out = apply("trunc_div", a, b)
    assert out.dtype == np.int32
    assert out.tolist() == [3, -3, -3, 3, 0]


def test_bitwise_and_logical_xor():
    a = hg.tensor(np.array([12, 10], np.int64))
    b = hg.tensor(np.array([10, 3], np.int64))
    assert apply("bitwise_and", a, b).tolist() == [8, 2]
    assert apply("bitwise_xor", a, b).tolist() == [6, 9]
    assert apply("left_shift", a, hg.tensor(np.array([1, 2], np.int64))).tolist() == [24, 40]
    assert apply("logical_xor", hg.tensor([True, True]), hg.tensor([True, False])).tolist() == [
        False, True]
    assert apply("isinf", hg.tensor([np.inf, -np.inf, 1.0])).tolist() == [True, True, False]


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum_matches_a_loop_and_gradcheck(exclusive, reverse):
    values = RNG.normal(size=(3, 4))
    out = reduction.cumsum(t64(values, False), 1, exclusive=exclusive, reverse=reverse).numpy()
    expected = np.zeros_like(values)
    for j in range(4):
        columns = range(j, 4) if reverse else range(0, j + 1)
        expected[:, j] = sum(values[:, k] for k in columns if not (exclusive and k == j))
    np.testing.assert_allclose(out, expected)
    function = lambda x: reduction.cumsum(x, 1, exclusive=exclusive, reverse=reverse)  # noqa: E731
    assert gradcheck(function, [t64(values)])


@pytest.mark.parametrize("length,inverse,onesided", [(5, False, False), (4, False, True),
                                                     (7, True, False), (3, False, False)])
def test_fft_matches_numpy_and_gradcheck(length, inverse, onesided):
    signal = RNG.normal(size=(2, 5, 2))
    out = reduction.fft(t64(signal, False), length, inverse=inverse, onesided=onesided).numpy()
    complex_signal = signal[..., 0] + 1j * signal[..., 1]
    expected = (np.fft.ifft if inverse else np.fft.fft)(complex_signal, n=length, axis=-1)
    if onesided:
        expected = expected[..., :length // 2 + 1]
    np.testing.assert_allclose(out[..., 0] + 1j * out[..., 1], expected, atol=1e-12)
    assert gradcheck(lambda a: reduction.fft(a, length, inverse=inverse, onesided=onesided),
                     [t64(signal)])
