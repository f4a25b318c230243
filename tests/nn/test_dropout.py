"""Dropout: inverted scaling, eval identity, edge probabilities, reproducibility, gradients."""

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.nn.dropout import dropout


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_training_zeroes_about_p_and_scales_survivors(p):
    hg.manual_seed(0)
    x = hg.ones(20000, dtype=hg.float64)
    out = hg.nn.Dropout(p)(x)._array
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1.0 / (1.0 - p))
    # Binomial standard deviation is ~0.0035 here; 0.02 is a loose but meaningful bound.
    assert abs((~kept).mean() - p) < 0.02
    assert abs(out.mean() - 1.0) < 0.05


def test_eval_mode_and_training_false_are_identity():
    x = hg.randn(4, 5)
    layer = hg.nn.Dropout(0.7).eval()
    assert layer(x) is x
    assert dropout(x, 0.7, training=False) is x
    layer.train()
    assert not np.array_equal(layer(x)._array, x._array)


def test_edge_probabilities():
    x = hg.randn(3, 4, requires_grad=True)
    assert dropout(x, 0.0) is x
    zeros = dropout(x, 1.0)
    np.testing.assert_array_equal(zeros._array, np.zeros((3, 4)))
    zeros.sum().backward()
    np.testing.assert_array_equal(x.grad._array, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        hg.nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout(x, -0.1)


def test_mask_comes_from_the_seeded_generator():
    hg.manual_seed(42)
    first = dropout(hg.ones(50), 0.5)._array
    hg.manual_seed(42)
    second = dropout(hg.ones(50), 0.5)._array
    third = dropout(hg.ones(50), 0.5)._array
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(second, third)


def test_gradient_is_the_same_mask():
    hg.manual_seed(1)
    x = hg.randn(6, 7, dtype=hg.float64, requires_grad=True)
    out = dropout(x, 0.4)
    out.sum().backward()
    mask = out._array / x._array
    np.testing.assert_allclose(x.grad._array, mask)
    assert set(np.round(np.unique(mask), 10)) <= {0.0, round(1 / 0.6, 10)}


def test_dtype_is_preserved():
    assert dropout(hg.ones(3, dtype=hg.float64), 0.5).dtype == np.float64
    assert dropout(hg.ones(3), 0.5).dtype == np.float32


def test_dropout2d_of_a_2d_input_warns_and_drops_whole_rows_as_pytorch():
    # PyTorch reads a 2-D input as one unbatched sample whose channels are the rows.
    hg.manual_seed(0)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        out = hg.nn.functional.dropout2d(hg.ones(64, 5), p=0.5, training=True)
    rows = out.numpy()
    assert all(len(set(row)) == 1 for row in rows.tolist())
    assert set(np.unique(rows)) == {0.0, 2.0}
