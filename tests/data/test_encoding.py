import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.data.encoding import DIGITS_UPPERCASE, CTCTextCodec, OneHotTextCodec, one_hot

SETTINGS = settings(max_examples=25, deadline=None)


def test_one_hot_matches_loop_and_pytorch_semantics():
    labels = hg.tensor([[0, 3], [2, 1]])
    out = one_hot(labels)
    assert out.shape == (2, 2, 4) and out.dtype == np.int64
    for index in np.ndindex(2, 2):
        expected = [0] * 4
        expected[labels._array[index]] = 1
        assert out._array[index].tolist() == expected
    assert one_hot(hg.tensor([1]), num_classes=10).shape == (1, 10)
    assert one_hot(hg.tensor(2), num_classes=3).tolist() == [0, 0, 1]  # 0-d input


def test_one_hot_errors():
    with pytest.raises(TypeError, match="integer index"):
        one_hot(hg.tensor([1.0]))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        one_hot(hg.tensor([3]), num_classes=3)
    with pytest.raises(RuntimeError, match="non-negative"):
        one_hot(hg.tensor([-1]))
    with pytest.raises(RuntimeError, match="empty"):
        one_hot(hg.tensor(np.zeros(0, np.int64)))


def test_notes_layout_index_formula():
    codec = OneHotTextCodec(DIGITS_UPPERCASE, max_len=4)
    vector = codec.encode("A1Z9")
    assert vector.shape == (144,) and vector.dtype == np.float32 and vector.sum() == 4
    for i, ch in enumerate("A1Z9"):
        assert vector[i * 36 + DIGITS_UPPERCASE.index(ch)] == 1


texts = st.text(alphabet=DIGITS_UPPERCASE, min_size=0, max_size=6)


@SETTINGS
@given(texts)
def test_one_hot_codec_round_trip(text):
    codec = OneHotTextCodec(max_len=6)
    assert codec.decode(codec.encode(text)) == text


@SETTINGS
@given(st.lists(st.text(alphabet="abc", min_size=5, max_size=5), min_size=1, max_size=4),
       st.integers(0, 2 ** 32 - 1))
def test_one_hot_codec_decodes_logits(batch, seed):
    codec = OneHotTextCodec("abc", max_len=5)
    encoded = codec.encode_batch(batch)._array.reshape(len(batch), 5, 3)
    noise = np.random.default_rng(seed).normal(0, 0.1, encoded.shape)
    logits = encoded * 5 + noise  # arg-max is the true character
    assert codec.decode_batch(logits) == batch
    assert codec.decode_batch(logits.reshape(len(batch), 15)) == batch


def test_one_hot_codec_errors():
    codec = OneHotTextCodec("ab", max_len=2)
    with pytest.raises(ValueError, match="more than max_len"):
        codec.encode("aaa")
    with pytest.raises(ValueError, match="'c'"):
        codec.encode("c")
    with pytest.raises(ValueError, match="expected a vector of 4"):
        codec.decode(np.zeros(5))
    with pytest.raises(ValueError, match="repeated"):
        OneHotTextCodec("aa")


@SETTINGS
@given(st.lists(texts, min_size=1, max_size=5))
def test_ctc_codec_round_trip_and_layouts(batch):
    codec = CTCTextCodec()
    targets = codec.encode_batch(batch)
    assert targets.padded.dtype == np.int64 and targets.lengths.tolist() == [len(t) for t in
                                                                             batch]
    assert targets.padded.shape == (len(batch), max(len(t) for t in batch))
    assert codec.decode_batch(targets.padded, targets.lengths) == batch
    assert codec.decode_batch(targets.padded) == batch  # padding is blank
    flat = [label for t in batch for label in codec.encode(t)]
    assert targets.concatenated.tolist() == flat
    assert all(1 <= label <= 36 for label in flat)


@SETTINGS
@given(st.text(alphabet="abc", min_size=0, max_size=6), st.integers(1, 3))
def test_ctc_greedy_decode_of_an_alignment(text, repeat):
    codec = CTCTextCodec("abc")
    path = []
    for label in codec.encode(text):  # each label repeated, blanks between
        path += [label] * repeat + [0]
    steps = np.eye(4)[path + [0]]
    assert codec.greedy_decode(steps) == text
    batch = np.stack([steps, steps], axis=1)  # (T, N, C)
    assert codec.greedy_decode(batch) == [text, text]
    assert codec.greedy_decode(batch.transpose(1, 0, 2), batch_first=True) == [text, text]


def test_ctc_collapse_needs_blank_between_repeats():
    codec = CTCTextCodec("ab")
    assert codec.greedy_decode(np.eye(3)[[1, 1, 1]]) == "a"
    assert codec.greedy_decode(np.eye(3)[[1, 0, 1]]) == "aa"
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        codec.greedy_decode(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="0..2"):
        codec.decode([3])


def test_one_hot_graph_form_matches_eager():
    # The composed form (eq + cast) is what symbols and tracers get; on tensors it must agree.
    from hybridgrad.labels import _one_hot_graph

    labels = hg.tensor(np.random.default_rng(0).integers(0, 7, size=(3, 4)))
    composed = _one_hot_graph(labels, 7)
    assert composed.dtype == np.int64
    assert np.array_equal(composed._array, one_hot(labels, 7)._array)
    with pytest.raises(ValueError, match="explicit num_classes"):
        _one_hot_graph(labels, -1)
