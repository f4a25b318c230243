"""Numerical robustness: the stable functions stay finite and correct for float32 inputs of
magnitude up to 1e4 and probabilities down to 1e-30, gradients included. References are float64
(or long double) formulas written stably here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.nn import functional as F

LONG = np.longdouble
SETTINGS = settings(max_examples=25, deadline=None)


def _extreme_logits(seed: int, scale: float, shape=(4, 6)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, size=shape) * scale
    values[0, 0], values[-1, -1] = scale, -scale  # both ends present
    return values.astype(np.float32)


def _ref_logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    x = x.astype(LONG)
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def _ref_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    return x.astype(LONG) - np.expand_dims(_ref_logsumexp(x, axis), axis)


def _ref_softplus(x):
    x = np.asarray(x, LONG)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _ref_sigmoid(x):
    x = np.asarray(x, LONG)
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) /
                    (1 + np.exp(-np.abs(x))))


def _close(actual, expected, rtol=1e-5, atol_scale=1e-6):
    expected = np.asarray(expected, np.float64)
    atol = atol_scale * max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol)


def _value_and_grad(function, array):
    x = hg.tensor(array, requires_grad=True)
    out = function(x)
    out.sum().backward()
    assert np.isfinite(out._array).all(), "forward not finite"
    assert np.isfinite(x.grad._array).all(), "gradient not finite"
    return out._array, x.grad._array


SCALES = st.sampled_from([1.0, 30.0, 100.0, 1e3, 1e4])


@SETTINGS
@given(seed=st.integers(0, 10 ** 6), scale=SCALES)
def test_softmax_family(seed, scale):
    x = _extreme_logits(seed, scale)
    reference = _ref_log_softmax(x, 1)
    out, grad = _value_and_grad(lambda t: F.log_softmax(t, dim=1), x)
    _close(out, reference)
    # d/dx sum(log_softmax) = 1 - C * softmax
    _close(grad, 1 - x.shape[1] * np.exp(reference), atol_scale=1e-5)
    out, grad = _value_and_grad(lambda t: F.softmax(t, dim=1) * hg.tensor(
        np.arange(6, dtype=np.float32)), x)
    _close(out, np.exp(reference) * np.arange(6), atol_scale=1e-6)
    out, grad = _value_and_grad(lambda t: hg.logsumexp(t, dim=1), x)
    _close(out, _ref_logsumexp(x, 1))
    _close(grad, np.exp(reference), atol_scale=1e-6)


@SETTINGS
@given(seed=st.integers(0, 10 ** 6), scale=SCALES)
def test_cross_entropy(seed, scale):
    x = _extreme_logits(seed, scale)
    target = np.random.default_rng(seed).integers(0, x.shape[1], x.shape[0])
    reference = -_ref_log_softmax(x, 1)[np.arange(x.shape[0]), target].mean()
    out, grad = _value_and_grad(lambda t: F.cross_entropy(t, hg.tensor(target)), x)
    _close(out, reference)
    one_hot = np.eye(x.shape[1])[target]
    _close(grad, (np.exp(_ref_log_softmax(x, 1)) - one_hot) / x.shape[0], atol_scale=1e-6)


@SETTINGS
@given(seed=st.integers(0, 10 ** 6), scale=SCALES)
def test_bce_with_logits(seed, scale):
    x = _extreme_logits(seed, scale)
    target = (np.random.default_rng(seed).random(x.shape) < 0.5).astype(np.float32)
    # loss = softplus(x) - t x, written without cancellation per element
    reference = np.where(target > 0, _ref_softplus(-x), _ref_softplus(x))
    out, grad = _value_and_grad(
        lambda t: F.binary_cross_entropy_with_logits(t, hg.tensor(target), reduction="none"), x)
    _close(out, reference)
    _close(grad, _ref_sigmoid(x) - target, atol_scale=1e-6)


@SETTINGS
@given(seed=st.integers(0, 10 ** 6), scale=SCALES)
def test_elementwise_saturating_functions(seed, scale):
    x = _extreme_logits(seed, scale)
    out, grad = _value_and_grad(hg.sigmoid, x)
    _close(out, _ref_sigmoid(x))
    _close(grad, _ref_sigmoid(x) * (1 - _ref_sigmoid(x)), atol_scale=1e-6)
    out, grad = _value_and_grad(hg.tanh, x)
    _close(out, np.tanh(x.astype(LONG)))
    _close(grad, 1 - np.tanh(x.astype(LONG)) ** 2, atol_scale=1e-6)
    out, grad = _value_and_grad(F.softplus, x)
    _close(out, _ref_softplus(x))
    _close(grad, _ref_sigmoid(x), atol_scale=1e-6)


@SETTINGS
@given(seed=st.integers(0, 10 ** 6), scale=SCALES, offset=st.sampled_from([0.0, 1e3, 1e4]))
def test_layer_norm_large_offsets(seed, scale, offset):
    # Values around 1e4 with a spread of `scale / 1e4` relative to it: a one-pass E[x^2]-E[x]^2
    # variance would lose everything here.
    rng = np.random.default_rng(seed)
    x = (offset + rng.standard_normal((3, 8)) * min(scale, 100.0)).astype(np.float32)
    data = x.astype(LONG)
    mean = data.mean(axis=1, keepdims=True)
    var = ((data - mean) ** 2).mean(axis=1, keepdims=True)
    reference = (data - mean) / np.sqrt(var + LONG(1e-5))
    out, grad = _value_and_grad(lambda t: F.layer_norm(t, (8,)) * hg.tensor(
        np.linspace(-1, 1, 8, dtype=np.float32)), x)
    # float32 holds values near `offset` (and their mean) only to ~eps * offset, which becomes
    # eps * offset / std after normalising: the best any float32 layer norm can do.
    spread = float(np.sqrt(var).min())
    float32_limit = 16 * float(np.finfo(np.float32).eps) * (offset + 1.0) / max(spread, 1e-30)
    _close(out, reference * np.linspace(-1, 1, 8), rtol=1e-3, atol_scale=1e-3 + float32_limit)
    assert np.abs(grad).max() < 1e3


def test_layer_norm_constant_rows_are_zero_with_zero_gradient():
    x = np.full((2, 5), 1e4, np.float32)
    out, grad = _value_and_grad(lambda t: F.layer_norm(t, (5,)), x)
    assert np.array_equal(out, np.zeros_like(out)) and np.abs(grad).max() < 1e-3


def test_bce_on_probabilities_clamps_log_at_minus_100():
    probabilities = np.array([1e-30, 1e-20, 0.0, 1.0, 1.0 - 1e-7, 0.5], np.float32)
    target = np.array([1, 1, 1, 0, 0, 1], np.float32)
    out, grad = _value_and_grad(lambda t: F.binary_cross_entropy(
        t, hg.tensor(target), reduction="none"), probabilities)
    p = probabilities.astype(np.float64)
    with np.errstate(divide="ignore"):
        expected = -(target * np.maximum(np.log(p), -100)
                     + (1 - target) * np.maximum(np.log1p(-p), -100))
    _close(out, expected)
    assert out[2] == 100.0 and out[3] == 100.0  # log(0) clamped, as PyTorch
    assert out[0] == pytest.approx(69.0776, rel=1e-5)  # -log(1e-30), not clamped


def test_small_probabilities_through_log_softmax_nll_and_kl():
    # Probabilities down to 1e-30 expressed as logits (log 1e-30 = -69): finite losses.
    log_p = np.log(np.array([[1e-30, 1e-10, 1.0 - 1e-10 - 1e-30]], np.float64)).astype(np.float32)
    out, grad = _value_and_grad(lambda t: F.cross_entropy(t, hg.tensor([0])), log_p)
    _close(out, -_ref_log_softmax(log_p, 1)[0, 0])
    out, grad = _value_and_grad(lambda t: F.kl_div(F.log_softmax(t, dim=1), hg.tensor(
        np.array([[1e-30, 0.5, 0.5]], np.float32)), reduction="sum"), log_p)
    q = np.array([1e-30, 0.5, 0.5], LONG)
    _close(out, (q * (np.log(q) - _ref_log_softmax(log_p, 1)[0])).sum(), rtol=1e-4)


@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_ctc_loss_with_extreme_logits(scale):
    rng = np.random.default_rng(int(scale))
    logits = (rng.uniform(-1, 1, (6, 2, 4)) * scale).astype(np.float32)
    targets = np.array([[1, 2], [3, 3]])
    reference_log_probs = _ref_log_softmax(logits, 2)

    def forward(t):
        return F.ctc_loss(F.log_softmax(t, dim=2), hg.tensor(targets), hg.tensor([6, 6]),
                          hg.tensor([2, 2]), reduction="none", zero_infinity=True)

    out, grad = _value_and_grad(forward, logits)
    # Exact enumeration of all 4^6 paths per sample, in long double.
    from itertools import product

    for b, target in enumerate(targets):
        total = []
        for path in product(range(4), repeat=6):
            collapsed = [c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]
            if collapsed == list(target):
                total.append(sum(reference_log_probs[t, b, c] for t, c in enumerate(path)))
        if total:
            total = np.array(total, LONG)
            expected = -(total.max() + np.log(np.exp(total - total.max()).sum()))
            _close(out[b], expected, rtol=1e-4, atol_scale=1e-5)
        else:
            assert out[b] == 0.0


@pytest.mark.parametrize("scale", [1.0, 1e2, 1e4])
def test_label_smoothing_and_pos_weight_with_extreme_logits(scale):
    x = _extreme_logits(int(scale), scale)
    target = np.arange(x.shape[0]) % x.shape[1]
    log_p = _ref_log_softmax(x, 1)
    smoothing, classes = 0.1, x.shape[1]
    reference = -((1 - smoothing) * log_p[np.arange(x.shape[0]), target]
                  + smoothing / classes * log_p.sum(axis=1)).mean()
    out, _ = _value_and_grad(lambda t: F.cross_entropy(t, hg.tensor(target),
                                                       label_smoothing=smoothing), x)
    _close(out, reference)
    binary = (np.arange(x.size).reshape(x.shape) % 2).astype(np.float32)
    pos_weight = np.full(x.shape[1], 3.0, np.float32)
    expected = pos_weight * binary * _ref_softplus(-x) + (1 - binary) * _ref_softplus(x)
    out, grad = _value_and_grad(lambda t: F.binary_cross_entropy_with_logits(
        t, hg.tensor(binary), pos_weight=hg.tensor(pos_weight), reduction="none"), x)
    _close(out, expected)
    _close(grad, (1 - binary) * _ref_sigmoid(x) - pos_weight * binary * _ref_sigmoid(-x),
           atol_scale=1e-6)
