"""nn.init: PyTorch's formulas (gains, fans, bounds, statistics), in place, reproducible."""

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.nn import init


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(hg.zeros(5, 7)) == (7, 5)
    assert init._calculate_fan_in_and_fan_out(hg.zeros(16, 3, 5, 5)) == (75, 400)
    assert init._calculate_fan_in_and_fan_out(hg.zeros(4, 2, 3)) == (6, 12)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(hg.zeros(5))


def test_uniform_and_normal_in_place_and_statistics():
    t = hg.zeros(200, 100)
    assert init.uniform_(t, -0.5, 1.5) is t
    assert t._array.min() >= -0.5 and t._array.max() <= 1.5 and abs(t._array.mean() - 0.5) < 0.02
    init.normal_(t, 2.0, 0.1)
    assert abs(t._array.mean() - 2.0) < 0.005 and abs(t._array.std() - 0.1) < 0.005
    assert t.dtype == np.float32


def test_constant_zeros_ones_eye():
    t = hg.zeros(2, 3)
    assert init.constant_(t, 1.5)._array.tolist() == [[1.5] * 3] * 2
    assert init.zeros_(t)._array.sum() == 0
    assert init.ones_(t)._array.sum() == 6
    assert init.eye_(t)._array.tolist() == [[1, 0, 0], [0, 1, 0]]


def test_xavier_bounds_and_std():
    t = hg.zeros(300, 200, dtype=hg.float64)
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(t._array).max() <= bound and np.abs(t._array).max() > 0.99 * bound
    init.xavier_normal_(t)
    assert abs(t._array.std() - math.sqrt(2 / 500)) < 0.002


def test_kaiming_bounds_and_modes():
    t = hg.zeros(256, 64, 3, 3, dtype=hg.float64)
    init.kaiming_uniform_(t, a=math.sqrt(5))
    assert np.abs(t._array).max() <= 1 / math.sqrt(64 * 9)
    init.kaiming_uniform_(t, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / (64 * 9))
    assert np.abs(t._array).max() <= bound and np.abs(t._array).max() > 0.99 * bound
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t._array.std() - math.sqrt(2 / (256 * 9))) < 0.001
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(t, mode="fan_avg")


def test_orthogonal():
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        t = init.orthogonal_(hg.zeros(*shape, dtype=hg.float64), gain=2.0)
        flat = t._array.reshape(shape[0], -1)
        if flat.shape[0] <= flat.shape[1]:
            np.testing.assert_allclose(flat @ flat.T, 4 * np.eye(flat.shape[0]), atol=1e-10)
        else:
            np.testing.assert_allclose(flat.T @ flat, 4 * np.eye(flat.shape[1]), atol=1e-10)
    with pytest.raises(ValueError, match="2 or more"):
        init.orthogonal_(hg.zeros(3))


def test_trunc_normal_stays_in_range():
    t = init.trunc_normal_(hg.zeros(5000), std=1.0, a=-1.0, b=0.5)
    assert t._array.min() >= -1.0 and t._array.max() <= 0.5


def test_reproducible_with_seed_and_generator():
    hg.manual_seed(3)
    a = init.normal_(hg.zeros(5)).tolist()
    hg.manual_seed(3)
    b = init.normal_(hg.zeros(5)).tolist()
    assert a == b
    c = init.uniform_(hg.zeros(5), generator=np.random.default_rng(7)).tolist()
    d = init.uniform_(hg.zeros(5), generator=np.random.default_rng(7)).tolist()
    assert c == d and c != a


def test_init_does_not_record_gradients():
    w = hg.nn.Parameter(hg.zeros(3, 3))
    init.xavier_uniform_(w)
    assert w.is_leaf and w.grad_fn is None
