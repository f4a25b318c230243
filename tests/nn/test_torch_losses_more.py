"""Ranking/embedding/likelihood losses, parameter containers, RMSNorm, LRN, shrink activations
and the in-place functionals: values by hand or NumPy, gradient checks."""

import math

import numpy as np
import pytest

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad.testing import gradcheck


def f64(values, requires_grad=True):
    return hg.tensor(values, dtype=hg.float64, requires_grad=requires_grad)


def test_ranking_and_embedding_losses_by_hand():
    x1, x2 = hg.tensor([1.0, 4.0]), hg.tensor([2.0, 1.0])
    target = hg.tensor([1.0, -1.0])
    # max(0, -y (x1 - x2) + 0.5): [max(0, 1.5), max(0, 3.5)]
    assert F.margin_ranking_loss(x1, x2, target, 0.5, reduction="none").tolist() == [1.5, 3.5]
    assert hg.nn.HingeEmbeddingLoss(margin=2.0)(hg.tensor([0.5, 3.0]),
                                                hg.tensor([-1.0, 1.0])).item() == 2.25
    soft = F.soft_margin_loss(hg.tensor([0.5]), hg.tensor([-1.0])).item()
    assert soft == pytest.approx(math.log1p(math.exp(0.5)), rel=1e-6)
    a, p, n = hg.tensor([[0.0, 0.0]]), hg.tensor([[3.0, 4.0]]), hg.tensor([[1.0, 0.0]])
    triplet = hg.nn.TripletMarginLoss(margin=1.0, eps=0.0)(a, p, n).item()
    assert triplet == pytest.approx(5.0 - 1.0 + 1.0)
    cosine = F.cosine_embedding_loss(hg.tensor([[1.0, 0.0]]), hg.tensor([[1.0, 1.0]]),
                                     hg.tensor([-1.0]), margin=0.5).item()
    assert cosine == pytest.approx(1 / math.sqrt(2) - 0.5, rel=1e-6)


def test_likelihood_losses_by_hand():
    assert F.poisson_nll_loss(hg.tensor([1.0]), hg.tensor([2.0])).item() == \
        pytest.approx(math.e - 2.0, rel=1e-6)
    assert F.poisson_nll_loss(hg.tensor([2.0]), hg.tensor([2.0]), log_input=False).item() == \
        pytest.approx(2 - 2 * math.log(2), rel=1e-6)
    gaussian = hg.nn.GaussianNLLLoss(full=True)(hg.tensor([0.0]), hg.tensor([2.0]),
                                                hg.tensor([4.0])).item()
    assert gaussian == pytest.approx(0.5 * (math.log(4) + 1) + 0.5 * math.log(2 * math.pi))
    labels = hg.tensor([[1.0, 0.0]])
    multilabel = F.multilabel_soft_margin_loss(hg.tensor([[2.0, -1.0]]), labels).item()
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert multilabel == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("loss", [
    lambda a, b: F.margin_ranking_loss(a, b, hg.tensor([1.0, -1.0, 1.0]), 0.3),
    lambda a, b: F.soft_margin_loss(a, hg.tensor([1.0, -1.0, 1.0])),
    lambda a, b: F.poisson_nll_loss(a, b * b),
    lambda a, b: F.gaussian_nll_loss(a, hg.zeros(3, dtype=hg.float64), b * b + 0.5),
    lambda a, b: F.triplet_margin_loss(a.reshape(1, 3), b.reshape(1, 3), hg.zeros(1, 3,
                                                                                  dtype=hg.float64)),
    lambda a, b: F.cosine_embedding_loss(a.reshape(1, 3), b.reshape(1, 3), hg.tensor([1.0])),
])
def test_losses_gradcheck(loss):
    assert gradcheck(loss, [f64([0.3, -1.2, 0.8]), f64([1.1, 0.4, -0.6])])


def test_parameter_containers_register_parameters():
    class Model(hg.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = hg.nn.ParameterList([hg.nn.Parameter(hg.ones(2)) for _ in range(2)])
            self.extra = hg.nn.ParameterDict({"scale": hg.nn.Parameter(hg.ones(1))})

    model = Model()
    assert list(model.state_dict()) == ["weights.0", "weights.1", "extra.scale"]
    assert len(list(model.parameters())) == 3
    model.weights.append(hg.zeros(3))
    assert model.weights[2].requires_grad and len(model.weights) == 3
    assert "scale" in model.extra and list(model.extra.keys()) == ["scale"]


def test_rms_norm_and_local_response_norm():
    x = np.array([[3.0, 4.0], [1.0, -1.0]])
    expected = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(F.rms_norm(hg.tensor(x), (2,), eps=1e-6).tolist(), expected)
    layer = hg.nn.RMSNorm(2, eps=1e-6)
    np.testing.assert_allclose(layer(hg.tensor(x, dtype=hg.float32)).tolist(), expected,
                               rtol=1e-6)
    assert gradcheck(lambda t, w: F.rms_norm(t, (2,), w), [f64(x), f64([1.0, 2.0])])
    lrn = F.local_response_norm(hg.ones(1, 3, 1, 1, dtype=hg.float64), 3, alpha=3.0, beta=1.0,
                                k=1.0)
    # channel 0 sees channels 0,1 (sum 2): 1 / (1 + 1 * 2) ; channel 1 sees all three.
    np.testing.assert_allclose(lrn.reshape(-1).tolist(), [1 / 3, 1 / 4, 1 / 3])


def test_shrink_activations_and_inplace_functionals():
    x = hg.tensor([-1.0, -0.25, 0.25, 2.0])
    assert F.hardshrink(x).tolist() == [-1.0, 0.0, 0.0, 2.0]
    assert F.softshrink(x).tolist() == [-0.5, 0.0, 0.0, 1.5]
    assert hg.nn.Softmax2d()(hg.zeros(2, 1, 1)).tolist() == [[[0.5]], [[0.5]]]
    y = hg.tensor([-2.0, 3.0])
    assert F.relu_(y) is y and y.tolist() == [0.0, 3.0]
    z = hg.tensor([-2.0, 3.0])
    F.leaky_relu_(z, 0.5)
    assert z.tolist() == [-1.0, 3.0]
    w = hg.tensor([-1.0, 1.0], requires_grad=True)
    h = w * 2
    F.relu_(h)
    h.sum().backward()
    assert w.grad.tolist() == [0.0, 2.0]
    hg.manual_seed(0)
    samples = F.gumbel_softmax(hg.zeros(1000, 3), tau=0.5, hard=True)
    assert samples.sum(-1).tolist() == [1.0] * 1000
    assert 250 < samples._array[:, 0].sum() < 420
    assert F.rrelu(hg.tensor([-8.0])).item() == pytest.approx(-8 * (1 / 8 + 1 / 3) / 2)
