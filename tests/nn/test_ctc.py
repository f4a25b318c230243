"""CTC loss against exact enumeration of all alignments; gradients against finite differences;
decoders against enumeration of the most probable labelling."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.nn.ctc import ctc_greedy_decode, ctc_loss, ctc_prefix_beam_search
from hybridgrad.nn.losses import CTCLoss
from hybridgrad.ops import apply
from hybridgrad.testing import gradcheck


def collapse(path, blank=0):
    out, previous = [], None
    for label in path:
        if label != previous and label != blank:
            out.append(label)
        previous = label
    return tuple(out)


def enumerate_nll(log_probs, target, blank=0):
    """-log sum over all C^T paths that collapse to ``target`` of prod p (log space)."""
    steps, classes = log_probs.shape
    scores = [sum(log_probs[t, c] for t, c in enumerate(path))
              for path in itertools.product(range(classes), repeat=steps)
              if collapse(path, blank) == tuple(target)]
    if not scores:
        return np.inf
    top = max(scores)
    return -(top + np.log(np.sum(np.exp(np.array(scores) - top))))


def labelling_probabilities(log_probs, blank=0):
    steps, classes = log_probs.shape
    totals = {}
    for path in itertools.product(range(classes), repeat=steps):
        key = collapse(path, blank)
        totals[key] = totals.get(key, 0.0) + np.exp(sum(log_probs[t, c]
                                                         for t, c in enumerate(path)))
    return totals


def random_log_probs(rng, steps, batch, classes, dtype=np.float64):
    logits = rng.standard_normal((steps, batch, classes)) * 1.5
    logits -= logits.max(axis=2, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))).astype(dtype)


CASES = [
    # (T, C, target, blank)
    (1, 2, [1], 0),
    (3, 2, [1], 0),
    (4, 3, [1, 2], 0),
    (4, 3, [1, 1], 0),        # repeated label: needs a blank in between
    (5, 3, [2, 2, 1], 0),
    (3, 3, [1, 1], 0),
    (5, 2, [1, 1], 0),
    (4, 3, [], 0),            # empty target: only the all-blank path
    (4, 3, [0, 2], 1),        # non-zero blank
    (2, 3, [1, 1], 0),        # impossible: needs 3 frames
    (2, 3, [1, 2, 1], 0),     # impossible: target longer than T
]


@pytest.mark.parametrize("steps,classes,target,blank", CASES)
def test_single_sample_matches_enumeration(steps, classes, target, blank):
    rng = np.random.default_rng(steps * 10 + classes + len(target))
    log_probs = random_log_probs(rng, steps, 1, classes)
    expected = enumerate_nll(log_probs[:, 0], target, blank)
    padded = hg.tensor([target + [0] * (3 - len(target))] if target is not None else [[0]])
    got = ctc_loss(hg.tensor(log_probs), padded, [steps], [len(target)], blank=blank,
                   reduction="none")
    assert got.shape == (1,)
    if np.isinf(expected):
        assert np.isinf(got._array[0]) and got._array[0] > 0
    else:
        np.testing.assert_allclose(got._array[0], expected, rtol=1e-10)


def test_batch_variable_lengths_both_target_formats_and_reductions():
    rng = np.random.default_rng(0)
    steps, classes = 5, 3
    log_probs = random_log_probs(rng, steps, 4, classes)
    targets = [[1, 2], [2, 2], [], [1]]
    input_lengths = [5, 4, 3, 2]
    expected = np.array([enumerate_nll(log_probs[:input_lengths[n], n], targets[n])
                         for n in range(4)])
    lengths = [len(t) for t in targets]
    padded = hg.tensor([t + [0] * (2 - len(t)) for t in targets])
    concatenated = hg.tensor(sum(targets, []))
    for target_tensor in (padded, concatenated):
        none = ctc_loss(hg.tensor(log_probs), target_tensor, input_lengths, lengths,
                        reduction="none")
        np.testing.assert_allclose(none._array, expected, rtol=1e-10)
        total = ctc_loss(hg.tensor(log_probs), target_tensor, hg.tensor(input_lengths),
                         hg.tensor(lengths), reduction="sum")
        np.testing.assert_allclose(total.item(), expected.sum(), rtol=1e-10)
        mean = ctc_loss(hg.tensor(log_probs), target_tensor, input_lengths, lengths)
        np.testing.assert_allclose(mean.item(),
                                   np.mean(expected / np.maximum(lengths, 1)), rtol=1e-10)
    module = CTCLoss(reduction="sum")(hg.tensor(log_probs), padded, input_lengths, lengths)
    np.testing.assert_allclose(module.item(), expected.sum(), rtol=1e-10)


def test_float32_close_to_float64():
    rng = np.random.default_rng(3)
    log_probs = random_log_probs(rng, 30, 3, 5)
    targets = hg.tensor([[1, 2, 3, 4], [1, 1, 2, 0], [4, 0, 0, 0]])
    args = (targets, [30, 25, 10], [4, 3, 1])
    double = ctc_loss(hg.tensor(log_probs), *args, reduction="none")
    single = ctc_loss(hg.tensor(log_probs.astype(np.float32)), *args, reduction="none")
    assert single.dtype == np.float32
    np.testing.assert_allclose(single._array, double._array, rtol=1e-5)


def test_impossible_targets_and_zero_infinity():
    rng = np.random.default_rng(1)
    data = random_log_probs(rng, 2, 2, 3)
    targets = hg.tensor([[1, 1], [1, 2]])   # the first needs 3 frames
    log_probs = hg.tensor(data, requires_grad=True)
    loss = ctc_loss(log_probs, targets, [2, 2], [2, 2], reduction="none")
    assert np.isinf(loss._array[0]) and np.isfinite(loss._array[1])
    loss.sum().backward()
    assert np.isnan(log_probs.grad._array[:, 0]).all()

    log_probs = hg.tensor(data, requires_grad=True)
    loss = ctc_loss(log_probs, targets, [2, 2], [2, 2], reduction="sum", zero_infinity=True)
    np.testing.assert_allclose(loss.item(), enumerate_nll(data[:, 1], [1, 2]), rtol=1e-10)
    loss.backward()
    assert (log_probs.grad._array[:, 0] == 0).all()
    assert np.isfinite(log_probs.grad._array).all() and (log_probs.grad._array[:, 1] != 0).any()


def test_gradient_matches_enumeration_and_finite_differences():
    rng = np.random.default_rng(2)
    data = random_log_probs(rng, 4, 3, 3)
    targets = hg.tensor([[1, 2], [1, 1], [2, 0]])
    lengths = ([4, 4, 3], [2, 2, 1])
    for reduction in ("none", "sum", "mean"):
        log_probs = hg.tensor(data, requires_grad=True)
        assert gradcheck(lambda x, r=reduction: ctc_loss(x, targets, *lengths, reduction=r),
                         [log_probs])
    # Through a log_softmax of logits, as in training; also the frames past input_length get 0.
    logits = hg.tensor(rng.standard_normal((4, 3, 3)), requires_grad=True)
    assert gradcheck(lambda x: ctc_loss(hg.log_softmax(x, dim=2), targets, *lengths), [logits])
    log_probs = hg.tensor(data, requires_grad=True)
    ctc_loss(log_probs, targets, *lengths, reduction="sum").backward()
    assert (log_probs.grad._array[3, 2] == 0).all()


def test_gradient_of_raw_log_probs_is_minus_occupancy():
    # d(-log p)/d log y_t(k) = -(expected number of times label k is emitted at frame t).
    rng = np.random.default_rng(5)
    data = random_log_probs(rng, 4, 1, 3)
    log_probs = hg.tensor(data, requires_grad=True)
    ctc_loss(log_probs, hg.tensor([[1, 2]]), [4], [2], reduction="sum").backward()
    occupancy = np.zeros((4, 3))
    total = 0.0
    for path in itertools.product(range(3), repeat=4):
        if collapse(path) == (1, 2):
            p = np.exp(sum(data[t, 0, c] for t, c in enumerate(path)))
            total += p
            for t, c in enumerate(path):
                occupancy[t, c] += p
    np.testing.assert_allclose(log_probs.grad._array[:, 0], -occupancy / total, rtol=1e-9)


def test_second_derivative_raises():
    log_probs = hg.tensor(random_log_probs(np.random.default_rng(0), 3, 1, 2), requires_grad=True)
    loss = ctc_loss(log_probs, hg.tensor([[1]]), [3], [1])
    (grad,) = hg.autograd.grad(loss, [log_probs], create_graph=True)
    with pytest.raises(NotImplementedError, match="second derivative"):
        grad.sum().backward()


def test_bad_inputs_have_clear_errors():
    log_probs = hg.log_softmax(hg.zeros(3, 1, 3), dim=2)
    with pytest.raises(ValueError, match="blank"):
        ctc_loss(log_probs, hg.tensor([[0, 1]]), [3], [2])
    with pytest.raises(ValueError, match="exceed T=3"):
        ctc_loss(log_probs, hg.tensor([[1]]), [4], [1])
    with pytest.raises(ValueError, match="sum to"):
        ctc_loss(log_probs, hg.tensor([1, 2]), [3], [1])
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss(log_probs, hg.tensor([[1]]), [3], [1], reduction="avg")


def test_unbatched_input():
    data = random_log_probs(np.random.default_rng(4), 4, 1, 3)
    got = ctc_loss(hg.tensor(data[:, 0]), hg.tensor([1, 2]), [4], [2], reduction="none")
    assert got.shape == ()
    np.testing.assert_allclose(got.item(), enumerate_nll(data[:, 0], [1, 2]), rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# Decoding.


def test_greedy_decode_batch_and_lengths():
    probs = np.array([
        [[0.1, 0.8, 0.1], [0.7, 0.2, 0.1]],
        [[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
        [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]],
        [[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]],
    ])
    log_probs = hg.tensor(np.log(probs))
    assert ctc_greedy_decode(log_probs) == [[1, 1], [2, 1]]
    assert ctc_greedy_decode(log_probs, input_lengths=[2, 3]) == [[1], [2]]
    assert ctc_greedy_decode(np.log(probs[:, 0])) == [1, 1]


def test_beam_search_finds_most_probable_labelling_where_greedy_fails():
    # Each frame favours blank slightly, so the best path is all blanks (labelling []), but
    # the many paths that produce [1] together outweigh it.
    probs = np.array([[0.55, 0.45, 0.0], [0.55, 0.45, 0.0], [0.55, 0.45, 0.0]]) + 1e-12
    probs /= probs.sum(axis=1, keepdims=True)
    log_probs = np.log(probs)
    totals = labelling_probabilities(log_probs)
    best = max(totals, key=totals.get)
    assert ctc_greedy_decode(log_probs) == []
    assert best == (1,)
    labels, score = ctc_prefix_beam_search(log_probs, beam_width=8)
    assert tuple(labels) == best
    np.testing.assert_allclose(np.exp(score), totals[best], rtol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_exact_on_random_tiny_cases(seed):
    rng = np.random.default_rng(seed)
    log_probs = random_log_probs(rng, 5, 1, 3)[:, 0]
    totals = labelling_probabilities(log_probs)
    best = max(totals, key=totals.get)
    # A beam wider than the number of prefixes never prunes: the search is exact.
    labels, score = ctc_prefix_beam_search(hg.tensor(log_probs), beam_width=1000)
    assert tuple(labels) == best
    np.testing.assert_allclose(np.exp(score), totals[best], rtol=1e-9)


def test_beam_search_batch_input():
    rng = np.random.default_rng(9)
    log_probs = random_log_probs(rng, 4, 2, 3)
    results = ctc_prefix_beam_search(log_probs, beam_width=50, input_lengths=[4, 3])
    assert len(results) == 2
    for n, length in enumerate([4, 3]):
        totals = labelling_probabilities(log_probs[:length, n])
        assert tuple(results[n][0]) == max(totals, key=totals.get)


def test_saved_alphas_and_recomputed_alphas_give_the_same_gradient():
    from hybridgrad.ops.ctc import ctc_nll_backward

    rng = np.random.default_rng(7)
    data = random_log_probs(rng, 6, 3, 4, dtype=np.float32)
    targets, lengths = hg.tensor([[1, 2, 2], [3, 0, 0], [1, 3, 1]]), ([6, 5, 6], [3, 1, 3])
    log_probs = hg.tensor(data, requires_grad=True)
    nll = apply("ctc_nll", log_probs, targets, hg.tensor(lengths[0]), hg.tensor(lengths[1]),
                blank=0, zero_infinity=False)
    (alphas,) = nll._node.saved  # the forward's alphas, kept by the node: (T, N, 2S+1)
    assert alphas.shape == (6, 3, 7)
    nll.sum().backward()  # first order: the array VJP from the saved alphas
    assert nll._node.saved is None  # freed with the graph
    recomputed = ctc_nll_backward(hg.ones(3), hg.tensor(data), targets, hg.tensor(lengths[0]),
                                  hg.tensor(lengths[1]), nll.detach(), 0, False)
    np.testing.assert_allclose(log_probs.grad._array, recomputed._array, rtol=1e-6)
    # Float32 gradients agree with float64 ones.
    double = hg.tensor(data.astype(np.float64), requires_grad=True)
    ctc_loss(double, targets, *lengths, reduction="sum").backward()
    np.testing.assert_allclose(log_probs.grad._array, double.grad._array, atol=1e-5)


@st.composite
def tiny_ctc_cases(draw):
    steps = draw(st.integers(1, 5))
    classes = draw(st.integers(2, 3))
    blank = draw(st.integers(0, classes - 1))
    labels = [c for c in range(classes) if c != blank]
    target = draw(st.lists(st.sampled_from(labels), max_size=3))
    seed = draw(st.integers(0, 2 ** 16))
    return steps, classes, blank, target, seed


@settings(max_examples=25, deadline=None)
@given(tiny_ctc_cases())
def test_property_matches_enumeration(case):
    steps, classes, blank, target, seed = case
    log_probs = random_log_probs(np.random.default_rng(seed), steps, 1, classes)
    expected = enumerate_nll(log_probs[:, 0], target, blank)
    padded = hg.tensor([target + [target[0] if target else 1 - min(blank, 1)] * 2])
    got = ctc_loss(hg.tensor(log_probs), padded, [steps], [len(target)], blank=blank,
                   reduction="none")._array[0]
    if np.isinf(expected):
        assert np.isposinf(got)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    totals = labelling_probabilities(log_probs[:, 0], blank)
    labels, score = ctc_prefix_beam_search(log_probs[:, 0], beam_width=10 ** 4, blank=blank)
    np.testing.assert_allclose(np.exp(score), max(totals.values()), rtol=1e-9)
    assert totals[tuple(labels)] == pytest.approx(max(totals.values()), rel=1e-9)


def test_fitting_logits_with_adam_makes_the_decoders_read_the_target():
    hg.manual_seed(0)
    logits = hg.nn.Parameter(hg.randn(12, 2, 5) * 0.1)
    targets = hg.tensor([[1, 2, 2, 3], [4, 4, 1, 0]])
    lengths = ([12, 10], [4, 3])
    optimizer = hg.optim.Adam([logits], lr=0.1)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = ctc_loss(hg.log_softmax(logits, dim=2), targets, *lengths)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    log_probs = hg.log_softmax(logits, dim=2).detach()
    assert ctc_greedy_decode(log_probs, lengths[0]) == [[1, 2, 2, 3], [4, 4, 1]]
    decoded = ctc_prefix_beam_search(log_probs, beam_width=4, input_lengths=lengths[0])
    assert [labels for labels, _ in decoded] == [[1, 2, 2, 3], [4, 4, 1]]


def test_zero_input_lengths_and_empty_time_axis():
    log_probs = hg.tensor(random_log_probs(np.random.default_rng(8), 4, 3, 3), requires_grad=True)
    targets = hg.tensor([[1, 2], [1, 0], [0, 0]])
    loss = ctc_loss(log_probs, targets, [4, 0, 0], [2, 1, 0], reduction="none")
    assert np.isposinf(loss._array[1]) and loss._array[2] == 0.0 and np.isfinite(loss._array[0])
    ctc_loss(log_probs, targets, [4, 0, 0], [2, 1, 0], reduction="sum",
             zero_infinity=True).backward()
    assert not log_probs.grad._array[:, 1:].any() and log_probs.grad._array[:, 0].any()
    empty = ctc_loss(hg.zeros(0, 2, 3), hg.tensor([[1], [0]]), [0, 0], [1, 0], reduction="none")
    assert empty.tolist() == [np.inf, 0.0]
