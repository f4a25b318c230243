"""Losses against hand-written NumPy references for every option combination, plus float64
gradient checks."""

import itertools

import numpy as np
import pytest

import hybridgrad as hg
import hybridgrad.nn.losses as L
from hybridgrad.testing import gradcheck

REDUCTIONS = ("none", "mean", "sum")


def reduce_ref(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def t64(array, grad=True):
    return hg.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


def log_softmax_ref(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


rng = np.random.default_rng(0)
X = rng.standard_normal((4, 3))
Y = rng.standard_normal((4, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    d = X - Y
    cases = [
        (L.mse_loss, {}, d ** 2),
        (L.l1_loss, {}, np.abs(d)),
        (L.smooth_l1_loss, {}, np.where(np.abs(d) < 1, 0.5 * d ** 2, np.abs(d) - 0.5)),
        (L.smooth_l1_loss, {"beta": 0.3},
         np.where(np.abs(d) < 0.3, 0.5 * d ** 2 / 0.3, np.abs(d) - 0.15)),
        (L.smooth_l1_loss, {"beta": 0.0}, np.abs(d)),
        (L.huber_loss, {"delta": 0.7},
         np.where(np.abs(d) < 0.7, 0.5 * d ** 2, 0.7 * (np.abs(d) - 0.35))),
    ]
    for function, options, expected in cases:
        got = function(t64(X), t64(Y), reduction=reduction, **options)
        np.testing.assert_allclose(got._array, reduce_ref(expected, reduction), rtol=1e-12)
        assert gradcheck(lambda a, b, f=function, o=options: f(a, b, reduction=reduction, **o),
                         [t64(X), t64(Y)])


def test_module_forms_and_legacy_flags():
    assert L.MSELoss(reduction="sum")(t64(X), t64(Y)).item() == pytest.approx(
        ((X - Y) ** 2).sum())
    assert L.L1Loss(size_average=False)(t64(X), t64(Y)).item() == pytest.approx(
        np.abs(X - Y).sum())
    assert L.SmoothL1Loss(reduce=False, beta=0.5)(t64(X), t64(Y)).shape == (4, 3)
    assert L.HuberLoss()(t64(X), t64(Y)).shape == ()
    assert "reduction='mean'" in repr(L.MSELoss())
    with pytest.raises(ValueError, match="reduction"):
        L.mse_loss(t64(X), t64(Y), reduction="avg")


PROBS = 1 / (1 + np.exp(-X))
TARGETS01 = rng.random((4, 3))
WEIGHT = rng.random((4, 3)) + 0.5


@pytest.mark.parametrize("reduction,weighted", list(itertools.product(REDUCTIONS, (False, True))))
def test_binary_cross_entropy(reduction, weighted):
    weight = WEIGHT if weighted else np.ones_like(WEIGHT)
    expected = -weight * (TARGETS01 * np.log(PROBS) + (1 - TARGETS01) * np.log(1 - PROBS))
    kwargs = {"weight": hg.tensor(WEIGHT)} if weighted else {}
    got = L.binary_cross_entropy(t64(PROBS), t64(TARGETS01, False), reduction=reduction,
                                 **kwargs)
    np.testing.assert_allclose(got._array, reduce_ref(expected, reduction), rtol=1e-12)
    assert gradcheck(lambda p, t: L.binary_cross_entropy(p, t, reduction=reduction, **kwargs),
                     [t64(PROBS), t64(TARGETS01)])
    module = L.BCELoss(weight=kwargs.get("weight"), reduction=reduction)
    np.testing.assert_allclose(module(t64(PROBS), t64(TARGETS01))._array, got._array)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    probs = t64([0.0, 1.0, 0.0, 1.0])
    got = L.binary_cross_entropy(probs, hg.tensor([1.0, 0.0, 0.0, 1.0], dtype=hg.float64),
                                 reduction="none")
    assert got.tolist() == [100.0, 100.0, 0.0, 0.0]
    got.sum().backward()
    assert np.isfinite(probs.grad._array).all()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.binary_cross_entropy(hg.tensor([1.5]), hg.tensor([1.0]))


@pytest.mark.parametrize("reduction,weighted,pos",
                         list(itertools.product(REDUCTIONS, (False, True), (False, True))))
def test_binary_cross_entropy_with_logits(reduction, weighted, pos):
    weight = WEIGHT if weighted else np.ones_like(WEIGHT)
    pos_weight = np.array([0.5, 2.0, 3.0]) if pos else np.ones(3)
    sigmoid = 1 / (1 + np.exp(-X))
    expected = -weight * (pos_weight * TARGETS01 * np.log(sigmoid)
                          + (1 - TARGETS01) * np.log(1 - sigmoid))
    kwargs = {}
    if weighted:
        kwargs["weight"] = hg.tensor(WEIGHT)
    if pos:
        kwargs["pos_weight"] = hg.tensor(pos_weight)
    got = L.binary_cross_entropy_with_logits(t64(X), t64(TARGETS01), reduction=reduction,
                                             **kwargs)
    np.testing.assert_allclose(got._array, reduce_ref(expected, reduction), rtol=1e-10)
    assert gradcheck(lambda x, t: L.binary_cross_entropy_with_logits(
        x, t, reduction=reduction, **kwargs), [t64(X), t64(TARGETS01)])
    module = L.BCEWithLogitsLoss(reduction=reduction, **kwargs)
    np.testing.assert_allclose(module(t64(X), t64(TARGETS01))._array, got._array)


def test_binary_cross_entropy_with_logits_is_stable_for_large_logits():
    logits = hg.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    loss = L.binary_cross_entropy_with_logits(logits, hg.tensor([1.0, 0.0, 0.0, 1.0]),
                                              reduction="none")
    assert loss.tolist() == [0.0, 0.0, 1e4, 1e4]
    loss.sum().backward()
    assert logits.grad.tolist() == [0.0, 0.0, 1.0, -1.0]


def nll_ref(log_probs, target, weight, ignore_index, reduction):
    """Loop reference over every sample position: (N, C, d...) log-probabilities."""
    classes = log_probs.shape[1]
    weight = np.ones(classes) if weight is None else weight
    moved = np.moveaxis(log_probs, 1, -1).reshape(-1, classes)
    flat = target.reshape(-1)
    losses, weights = np.zeros(flat.shape), np.zeros(flat.shape)
    for i, label in enumerate(flat):
        if label == ignore_index:
            continue
        weights[i] = weight[label]
        losses[i] = -weight[label] * moved[i, label]
    if reduction == "none":
        return losses.reshape(target.shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / weights.sum()


def smooth_ref(log_probs, target, weight, ignore_index, reduction, smoothing):
    classes = log_probs.shape[1]
    weight_vector = np.ones(classes) if weight is None else weight
    nll = nll_ref(log_probs, target, weight, ignore_index, reduction)
    moved = np.moveaxis(log_probs, 1, -1).reshape(-1, classes)
    flat = target.reshape(-1)
    smooth = np.zeros(flat.shape)
    denominator = 0.0
    for i, label in enumerate(flat):
        if label == ignore_index:
            continue
        smooth[i] = -(moved[i] * weight_vector).sum()
        denominator += weight_vector[label]
    if reduction == "none":
        smooth = smooth.reshape(target.shape)
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        smooth = smooth.sum() / denominator
    return (1 - smoothing) * nll + smoothing / classes * smooth


SHAPES = [((5, 4), (5,)), ((3, 4, 2, 2), (3, 2, 2))]


@pytest.mark.parametrize(
    "shapes,reduction,weighted,ignore,smoothing",
    list(itertools.product(SHAPES, REDUCTIONS, (False, True), (False, True), (0.0, 0.2))))
def test_cross_entropy_class_indices(shapes, reduction, weighted, ignore, smoothing):
    input_shape, target_shape = shapes
    local = np.random.default_rng(1)
    logits = local.standard_normal(input_shape)
    target = local.integers(0, input_shape[1], target_shape)
    ignore_index = -100
    if ignore:
        target.reshape(-1)[::3] = ignore_index
    weight = local.random(input_shape[1]) + 0.2 if weighted else None
    kwargs = {"reduction": reduction, "ignore_index": ignore_index,
              "label_smoothing": smoothing}
    if weighted:
        kwargs["weight"] = hg.tensor(weight)
    log_probs = log_softmax_ref(logits, 1)
    expected = smooth_ref(log_probs, target, weight, ignore_index, reduction, smoothing)
    got = L.cross_entropy(t64(logits), hg.tensor(target), **kwargs)
    np.testing.assert_allclose(got._array, expected, rtol=1e-10)
    assert gradcheck(lambda x: L.cross_entropy(x, hg.tensor(target), **kwargs), [t64(logits)])
    module = L.CrossEntropyLoss(**kwargs)
    np.testing.assert_allclose(module(t64(logits), hg.tensor(target))._array, got._array)
    if smoothing == 0:
        nll_kwargs = {k: v for k, v in kwargs.items() if k != "label_smoothing"}
        nll = L.nll_loss(t64(log_probs), hg.tensor(target), **nll_kwargs)
        np.testing.assert_allclose(nll._array, expected, rtol=1e-10)
        assert gradcheck(lambda x: L.nll_loss(x, hg.tensor(target), **nll_kwargs),
                         [t64(log_probs)])
        np.testing.assert_allclose(L.NLLLoss(**nll_kwargs)(t64(log_probs),
                                                           hg.tensor(target))._array, expected)


def test_ignore_index_inside_the_class_range_and_all_ignored():
    logits = np.array([[1.0, 2.0, 0.5], [0.1, 0.2, 0.3], [3.0, 0.0, 1.0]])
    target = np.array([1, 2, 2])
    log_probs = log_softmax_ref(logits, 1)
    got = L.cross_entropy(t64(logits), hg.tensor(target), ignore_index=2)
    assert got.item() == pytest.approx(-log_probs[0, 1])
    everything = L.cross_entropy(t64(logits), hg.tensor(target), ignore_index=2,
                                 reduction="none")
    assert everything.tolist()[1:] == [0.0, 0.0]
    assert np.isnan(L.cross_entropy(t64(logits), hg.tensor([-100, -100, -100])).item())


@pytest.mark.parametrize("reduction,weighted,smoothing",
                         list(itertools.product(REDUCTIONS, (False, True), (0.0, 0.3))))
def test_cross_entropy_class_probabilities(reduction, weighted, smoothing):
    local = np.random.default_rng(2)
    logits = local.standard_normal((3, 4, 2))
    target = local.random((3, 4, 2))
    target /= target.sum(axis=1, keepdims=True)
    weight = local.random(4) + 0.5
    smoothed = target * (1 - smoothing) + smoothing / 4
    weights = weight[None, :, None] if weighted else 1.0
    per_sample = -(log_softmax_ref(logits, 1) * smoothed * weights).sum(axis=1)
    expected = {"none": per_sample, "sum": per_sample.sum(),
                "mean": per_sample.sum() / 6}[reduction]
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kwargs["weight"] = hg.tensor(weight)
    got = L.cross_entropy(t64(logits), t64(target, False), **kwargs)
    np.testing.assert_allclose(got._array, expected, rtol=1e-10)
    assert gradcheck(lambda x, t: L.cross_entropy(x, t, **kwargs), [t64(logits), t64(target)])


def test_unbatched_cross_entropy_and_errors():
    logits = np.array([0.5, -1.0, 2.0])
    got = L.cross_entropy(t64(logits), hg.tensor(2))
    assert got.item() == pytest.approx(-log_softmax_ref(logits, 0)[2])
    assert L.cross_entropy(t64(logits), hg.tensor(2), reduction="none").shape == ()
    with pytest.raises(IndexError, match="out of bounds"):
        L.cross_entropy(t64(X), hg.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"target of shape \(4,\)"):
        L.cross_entropy(t64(X), hg.tensor([0, 1]))
    with pytest.raises(ValueError, match="weight"):
        L.cross_entropy(t64(X), hg.tensor([0, 1, 2, 0]), weight=hg.ones(4))


@pytest.mark.parametrize("reduction,log_target",
                         list(itertools.product(REDUCTIONS + ("batchmean",), (False, True))))
def test_kl_div(reduction, log_target):
    local = np.random.default_rng(3)
    log_q = log_softmax_ref(local.standard_normal((4, 3)), 1)
    p = np.exp(log_softmax_ref(local.standard_normal((4, 3)), 1))
    if not log_target:
        p[0, 1] = 0.0   # xlogy: a zero target contributes 0
    target = np.log(p) if log_target else p
    with np.errstate(divide="ignore", invalid="ignore"):
        pointwise = np.where(p > 0, p * (np.log(p) - log_q), 0.0)
    expected = pointwise.sum() / 4 if reduction == "batchmean" else reduce_ref(pointwise,
                                                                                 reduction)
    got = L.kl_div(t64(log_q), t64(target, False), reduction=reduction, log_target=log_target)
    np.testing.assert_allclose(got._array, expected, rtol=1e-10)
    if not log_target:
        assert gradcheck(lambda x: L.kl_div(x, t64(target, False), reduction=reduction),
                         [t64(log_q)])
    else:
        assert gradcheck(lambda x, t: L.kl_div(x, t, reduction=reduction, log_target=True),
                         [t64(log_q), t64(target)])
    module = L.KLDivLoss(reduction=reduction, log_target=log_target)
    np.testing.assert_allclose(module(t64(log_q), t64(target, False))._array, got._array)


def test_float32_losses_stay_float32():
    x = hg.randn(4, 3)
    assert L.cross_entropy(x, hg.tensor([0, 1, 2, 0])).dtype == np.float32
    assert L.mse_loss(x, hg.zeros(4, 3)).dtype == np.float32
    assert L.binary_cross_entropy_with_logits(x, hg.zeros(4, 3)).dtype == np.float32


def test_second_derivatives():
    from hybridgrad.testing import gradgradcheck

    local = np.random.default_rng(4)
    logits = local.standard_normal((3, 4))
    target = hg.tensor([0, 3, 1])
    weight = hg.tensor(local.random(4) + 0.5)
    soft_target = t64(local.random((3, 4)), False)
    assert gradgradcheck(lambda x: L.cross_entropy(x, target, weight=weight,
                                                   label_smoothing=0.1), [t64(logits)])
    assert gradgradcheck(lambda x: L.binary_cross_entropy_with_logits(
        x, soft_target, pos_weight=hg.tensor(np.full(4, 2.0))), [t64(logits)])
    assert gradgradcheck(lambda x: L.smooth_l1_loss(x, t64(np.zeros((3, 4)), False), beta=0.5),
                         [t64(logits)])
    assert gradgradcheck(lambda p: L.binary_cross_entropy(p, soft_target),
                         [t64(1 / (1 + np.exp(-logits)))])
    # kl_div is linear in its input; its second derivatives come through the target.
    assert gradgradcheck(lambda x, t: L.kl_div(x, t, reduction="batchmean", log_target=True),
                         [t64(log_softmax_ref(logits, 1)), t64(log_softmax_ref(-logits, 1))])
