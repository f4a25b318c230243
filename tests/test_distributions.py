"""hg.distributions: log-probabilities and entropies by hand, sampling frequencies, gradients."""

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.distributions import Bernoulli, Categorical, Normal, Uniform, kl_divergence
from hybridgrad.testing import gradcheck


def test_categorical_log_prob_entropy_and_sampling():
    m = Categorical(probs=hg.tensor([[1.0, 3.0], [1.0, 1.0]]))
    np.testing.assert_allclose(m.log_prob(hg.tensor([1, 0])).tolist(),
                               [math.log(0.75), math.log(0.5)], rtol=1e-6)
    np.testing.assert_allclose(m.entropy().tolist(),
                               [-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), math.log(2)],
                               rtol=1e-6)
    hg.manual_seed(0)
    draws = Categorical(probs=hg.tensor([0.2, 0.0, 0.8])).sample((4000,))
    counts = np.bincount(draws._array, minlength=3) / 4000
    assert counts[1] == 0 and abs(counts[2] - 0.8) < 0.03 and draws.dtype == np.int64
    assert Categorical(logits=hg.zeros(5, 3)).sample((2,)).shape == (2, 5)


def test_reinforce_style_gradient_of_log_prob():
    logits = hg.tensor([0.5, -0.25, 1.0], dtype=hg.float64, requires_grad=True)
    loss = -Categorical(logits=logits).log_prob(hg.tensor(2)) * 3.0
    loss.backward()
    softmax = np.exp(logits._array) / np.exp(logits._array).sum()
    np.testing.assert_allclose(logits.grad.tolist(), 3.0 * (softmax - np.eye(3)[2]), rtol=1e-10)
    assert gradcheck(lambda t: Categorical(logits=t).entropy(), [logits])


def test_normal_bernoulli_uniform_by_hand():
    normal = Normal(hg.tensor([1.0]), hg.tensor([2.0]))
    expected = -0.25 * 0.5 - math.log(2.0) - 0.5 * math.log(2 * math.pi)  # at x = 0
    assert normal.log_prob(hg.tensor([0.0])).item() == pytest.approx(expected, rel=1e-6)
    assert normal.entropy().item() == pytest.approx(0.5 + 0.5 * math.log(2 * math.pi)
                                                    + math.log(2.0), rel=1e-6)
    hg.manual_seed(1)
    samples = Normal(3.0, 0.5).sample((5000,))
    assert abs(samples.mean().item() - 3.0) < 0.03 and abs(samples.std().item() - 0.5) < 0.03
    coin = Bernoulli(logits=hg.tensor([0.0, 2.0]))
    np.testing.assert_allclose(coin.log_prob(hg.tensor([1.0, 0.0])).tolist(),
                               [math.log(0.5), math.log(1 / (1 + math.exp(2.0)))], rtol=1e-6)
    uniform = Uniform(hg.tensor(-1.0), hg.tensor(1.0))
    assert uniform.log_prob(hg.tensor(0.5)).item() == pytest.approx(-math.log(2))
    assert uniform.log_prob(hg.tensor(2.0)).item() == -math.inf


def test_rsample_and_kl_are_differentiable():
    loc = hg.tensor([0.5, -1.0], dtype=hg.float64, requires_grad=True)
    scale = hg.tensor([1.5, 0.25], dtype=hg.float64, requires_grad=True)
    assert gradcheck(lambda m, s: kl_divergence(Normal(m, s), Normal(0.0, 1.0)), [loc, scale])
    kl = kl_divergence(Normal(loc, scale), Normal(0.0, 1.0)).detach()._array
    expected = 0.5 * (scale._array ** 2 + loc._array ** 2 - 1 - np.log(scale._array ** 2))
    np.testing.assert_allclose(kl, expected, rtol=1e-12)
    hg.manual_seed(2)
    sample = Normal(loc, scale).rsample()
    sample.sum().backward()
    assert loc.grad.tolist() == [1.0, 1.0] and scale.grad is not None
