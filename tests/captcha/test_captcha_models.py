"""Captcha models: codecs with a padding class, losses, decoding of hand-made matrices, and a
few training steps lowering each loss on a fixed tiny batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.data.encoding import CTCTextCodec, OneHotTextCodec
from hybridgrad.models.captcha import (
    ALPHANUMERIC,
    CRNN,
    PAD,
    OneHotCNN,
    PaddedOneHotCodec,
    ctc_batch_loss,
    ctc_decode,
    onehot_decode,
    onehot_loss,
)
from hybridgrad.testing import gradcheck

CHARSET = "0123456789ABCDEF"


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=CHARSET, min_size=0, max_size=6))
def test_padded_codec_round_trips_any_length(text):
    codec = PaddedOneHotCodec(CHARSET, max_len=6)
    vector = codec.encode(text)
    assert vector.shape == (6 * (len(CHARSET) + 1),)
    blocks = vector.reshape(6, -1)
    assert (blocks.sum(axis=1) == 1).all()                       # exactly one class per slot
    assert (blocks[len(text):, -1] == 1).all()                   # padding after the text
    assert codec.decode(vector) == text
    assert codec.decode(blocks * 7.0 - 3.0) == text             # logits decode the same
    assert codec.classes(text) == [CHARSET.index(c) for c in text] + [16] * (6 - len(text))


def test_padded_codec_uses_the_notes_index_formula():
    codec = PaddedOneHotCodec("AB", max_len=3)
    # idx = i * char_set_len + char_set.index(ch), with char_set_len = 2 + 1 (padding)
    assert np.flatnonzero(codec.encode("BA")).tolist() == [0 * 3 + 1, 1 * 3 + 0, 2 * 3 + 2]


def test_padded_codec_errors():
    with pytest.raises(ValueError, match="more than max_len"):
        PaddedOneHotCodec("AB", max_len=2).encode("ABA")
    with pytest.raises(ValueError, match="not in the charset"):
        PaddedOneHotCodec("AB", max_len=2).encode("C")
    with pytest.raises(ValueError, match="padding"):
        PaddedOneHotCodec("A" + PAD, max_len=2)


def test_alnum_is_the_notes_62_characters():
    assert ALPHANUMERIC == ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def test_onehot_ce_loss_matches_per_position_softmax_by_hand():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3 * 4))
    codec = OneHotTextCodec("abcd", max_len=3)
    targets = codec.encode_batch(["abc", "dda"])
    got = onehot_loss(hg.tensor(logits), targets, 3, "ce").item()
    expected = []
    for row, text in zip(logits.reshape(2, 3, 4), ["abc", "dda"]):
        for scores, ch in zip(row, text):
            expected.append(-(scores["abcd".index(ch)] - np.log(np.exp(scores).sum())))
    assert got == pytest.approx(np.mean(expected), rel=1e-6)


def test_onehot_bce_loss_matches_the_notes_sigmoid_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 8))
    targets = OneHotTextCodec("ab", max_len=4).encode_batch(["abba", "bbbb"])._array
    expected = np.mean(np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-abs(logits))))
    got = onehot_loss(hg.tensor(logits), hg.tensor(targets), 4, "bce").item()
    assert got == pytest.approx(expected, rel=1e-6)


def test_onehot_loss_gradcheck_float64():
    rng = np.random.default_rng(2)
    logits = hg.tensor(rng.normal(size=(2, 6)), requires_grad=True)
    targets = OneHotTextCodec("abc", max_len=2).encode_batch(["ab", "cc"])
    for kind in ("ce", "bce"):
        assert gradcheck(lambda x, kind=kind: onehot_loss(x, targets, 2, kind), [logits])


def test_onehot_loss_errors():
    with pytest.raises(ValueError, match="kind"):
        onehot_loss(hg.zeros(1, 4), hg.zeros(1, 4), 2, "mse")
    with pytest.raises(ValueError, match="do not split"):
        onehot_loss(hg.zeros(1, 6), hg.zeros(1, 6), 4)
    with pytest.raises(ValueError, match="differ in shape"):
        onehot_loss(hg.zeros(1, 6), hg.zeros(2, 6), 2)


def test_onehot_decode_hand_made_with_padding_and_confidence():
    codec = PaddedOneHotCodec("xy", max_len=3)
    probabilities = np.array([[0.7, 0.2, 0.1],    # x
                              [0.1, 0.6, 0.3],    # y
                              [0.2, 0.3, 0.5]])   # padding
    texts, confidence = onehot_decode(np.log(probabilities).reshape(1, -1), codec)
    assert texts == ["xy"]
    assert confidence[0] == pytest.approx(0.7 * 0.6 * 0.5)


def test_ctc_greedy_decode_hand_made():
    codec = CTCTextCodec("ab")
    # frames (blank, a, b): a a _ a b b  -> "aab"; path probability 0.9^6
    best = [1, 1, 0, 1, 2, 2]
    probabilities = np.full((6, 3), 0.05)
    probabilities[np.arange(6), best] = 0.9
    texts, confidence = ctc_decode(np.log(probabilities)[:, None, :], codec)
    assert texts == ["aab"]
    assert confidence[0] == pytest.approx(0.9 ** 6)


def test_ctc_beam_decode_beats_greedy_on_a_hand_made_matrix():
    codec = CTCTextCodec("a")
    # Greedy picks blank twice ("" with p = 0.36); "a" has p = 0.4*0.6*2 + 0.4*0.4 = 0.64.
    log_probs = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))[:, None, :]
    assert ctc_decode(log_probs, codec)[0] == [""]
    texts, confidence = ctc_decode(log_probs, codec, beam_width=3)
    assert texts == ["a"] and confidence[0] == pytest.approx(0.64)


def test_ctc_beam_confidence_is_exact_by_enumeration():
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(3), size=4)          # T=4, blank + "ab"
    codec = CTCTextCodec("ab")
    texts, confidence = ctc_decode(np.log(probabilities)[:, None, :], codec, beam_width=50)
    totals: dict = {}
    for path in np.ndindex(*(3,) * 4):                          # all 81 alignments
        labels, previous = [], 0
        for label in path:
            if label != previous and label != 0:
                labels.append(label)
            previous = label
        text = codec.decode(labels)
        totals[text] = totals.get(text, 0.0) + math.prod(probabilities[t, k]
                                                         for t, k in enumerate(path))
    best = max(totals, key=totals.get)
    assert texts[0] == best and confidence[0] == pytest.approx(totals[best])


def test_crnn_shapes_and_log_probabilities():
    hg.manual_seed(0)
    model = CRNN(num_classes=7, height=16, width=40, channels=(4, 4, 4, 4), hidden=5, rnn="gru")
    output = model(hg.randn(3, 1, 16, 40))
    assert output.shape == (10, 3, 7)                           # T = width / 4
    assert np.allclose(np.exp(output._array).sum(axis=2), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="multiple"):
        CRNN(7, height=20, width=40, channels=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="rnn"):
        CRNN(7, height=16, width=40, channels=(4, 4, 4, 4), rnn="transformer")


def test_crnn_wide_pools_set_the_time_steps():
    hg.manual_seed(0)
    model = CRNN(num_classes=7, height=32, width=48, channels=(2, 2, 2, 2, 2), hidden=3,
                 wide_pools=3)
    assert model(hg.randn(2, 1, 32, 48)).shape == (6, 2, 7)     # T = 48 / 2**3
    pools = [layer for layer in model.features if isinstance(layer, nn.MaxPool2d)]
    assert [tuple(p.kernel_size) for p in pools] == [(2, 2)] * 3 + [(2, 1)] * 2
    with pytest.raises(ValueError, match="wide_pools"):
        CRNN(7, height=16, width=40, channels=(4, 4), wide_pools=3)
    with pytest.raises(ValueError, match="multiple of 8"):
        CRNN(7, height=16, width=20, channels=(4, 4, 4), wide_pools=3)


def test_onehot_cnn_shape_errors():
    with pytest.raises(ValueError, match="multiples"):
        OneHotCNN(4, 10, height=20, width=40, channels=(4, 4, 4))


def _tiny_batch():
    rng = np.random.default_rng(4)
    images = hg.tensor(rng.normal(size=(4, 1, 16, 32)).astype(np.float32))
    return images, ["ab", "ba", "aab", "b"]


def _steps(model, loss_fn, steps=8, lr=0.02):
    optimizer = hg.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_a_few_steps_lower_the_ctc_loss_on_a_fixed_batch():
    hg.manual_seed(0)
    images, texts = _tiny_batch()
    codec = CTCTextCodec("ab")
    model = CRNN(codec.num_classes, height=16, width=32, channels=(4, 8, 8, 8), hidden=8,
                 dropout=0.0)
    losses = _steps(model, lambda: ctc_batch_loss(model(images), texts, codec))
    assert all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("kind", ["ce", "bce"])
def test_a_few_steps_lower_the_onehot_loss_on_a_fixed_batch(kind):
    hg.manual_seed(0)
    images, texts = _tiny_batch()
    codec = PaddedOneHotCodec("ab", max_len=3)
    model = OneHotCNN(3, 3, height=16, width=32, channels=(4, 8), hidden=16, dropout=0.0)
    targets = codec.encode_batch(texts)
    losses = _steps(model, lambda: onehot_loss(model(images), targets, 3, kind))
    assert all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]
