"""BatchNorm: train/eval forward and running statistics against hand-computed NumPy."""

import numpy as np
import pytest

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad.testing import gradcheck, gradgradcheck


def numpy_bn_train(x, axes, eps, weight, bias):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[1] = -1
    return (x - mean) / np.sqrt(var + eps) * weight.reshape(shape) + bias.reshape(shape)


def test_batchnorm2d_training_forward_and_running_stats():
    rng = np.random.default_rng(0)
    bn = hg.nn.BatchNorm2d(3, momentum=0.1)
    bn.weight._array[...] = [1.0, 2.0, 0.5]
    bn.bias._array[...] = [0.0, -1.0, 3.0]
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.standard_normal((4, 3, 5, 2)).astype(np.float32) * (step + 1) + step
        out = bn(hg.tensor(x))
        np.testing.assert_allclose(out._array, numpy_bn_train(x.astype(np.float64), (0, 2, 3),
                                                            1e-5, bn.weight._array,
                                                            bn.bias._array), atol=1e-4)
        running_mean = 0.9 * running_mean + 0.1 * x.mean(axis=(0, 2, 3))
        running_var = 0.9 * running_var + 0.1 * x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean._array, running_mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var._array, running_var, rtol=1e-5)
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked._array) == 3


def test_batchnorm_eval_uses_running_stats():
    bn = hg.nn.BatchNorm1d(2, eps=1e-3)
    bn.running_mean._array[...] = [1.0, -2.0]
    bn.running_var._array[...] = [4.0, 0.25]
    bn.weight._array[...] = [2.0, 1.0]
    bn.bias._array[...] = [0.5, 0.0]
    bn.eval()
    x = np.array([[3.0, -1.0], [1.0, -2.0], [0.0, 0.0]], dtype=np.float32)
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-3) * [2.0, 1.0] + [0.5, 0]
    np.testing.assert_allclose(bn(hg.tensor(x))._array, expected, rtol=1e-5)
    assert int(bn.num_batches_tracked._array) == 0
    assert bn.running_mean.tolist() == [1.0, -2.0]


def test_momentum_none_is_cumulative_average():
    rng = np.random.default_rng(1)
    bn = hg.nn.BatchNorm1d(2, momentum=None)
    batches = [rng.standard_normal((5, 2)) for _ in range(4)]
    for batch in batches:
        bn(hg.tensor(batch, dtype=hg.float32))
    np.testing.assert_allclose(bn.running_mean._array, np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5)
    np.testing.assert_allclose(bn.running_var._array,
                               np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-5)


def test_batchnorm1d_three_dimensional_input():
    x = np.random.default_rng(2).standard_normal((4, 3, 6))
    bn = hg.nn.BatchNorm1d(3, affine=False)
    out = bn(hg.tensor(x, dtype=hg.float64))
    np.testing.assert_allclose(out._array, numpy_bn_train(x, (0, 2), 1e-5, np.ones(3),
                                                        np.zeros(3)), atol=1e-10)
    assert bn.weight is None and list(bn.state_dict()) == [
        "running_mean", "running_var", "num_batches_tracked"]


def test_without_running_stats_eval_uses_batch_statistics():
    bn = hg.nn.BatchNorm2d(2, track_running_stats=False).eval()
    x = np.random.default_rng(3).standard_normal((3, 2, 2, 2))
    out = bn(hg.tensor(x, dtype=hg.float64))
    np.testing.assert_allclose(out._array, numpy_bn_train(x, (0, 2, 3), 1e-5, np.ones(2),
                                                        np.zeros(2)), atol=1e-10)
    assert list(bn.state_dict()) == ["weight", "bias"]


def test_batchnorm_state_dict_and_defaults():
    bn = hg.nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.weight.tolist() == [1.0] * 4 and bn.bias.tolist() == [0.0] * 4
    assert bn.running_var.tolist() == [1.0] * 4
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]


def test_batch_norm_gradcheck_training_and_eval():
    rng = np.random.default_rng(4)
    x = hg.tensor(rng.standard_normal((3, 2, 2, 2)), dtype=hg.float64, requires_grad=True)
    w = hg.tensor(rng.standard_normal(2), dtype=hg.float64, requires_grad=True)
    b = hg.tensor(rng.standard_normal(2), dtype=hg.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    mean = hg.tensor([0.3, -0.1], dtype=hg.float64)
    var = hg.tensor([2.0, 0.5], dtype=hg.float64)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, mean, var, w, b), [x, w, b])


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="BatchNorm2d"):
        hg.nn.BatchNorm2d(3)(hg.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="channels"):
        hg.nn.BatchNorm1d(3)(hg.zeros(2, 4))
    with pytest.raises(ValueError, match="more than 1 value"):
        hg.nn.BatchNorm1d(3)(hg.zeros(1, 3))


def test_batch_norm_gradgradcheck():
    rng = np.random.default_rng(5)
    x = hg.tensor(rng.standard_normal((4, 2)), dtype=hg.float64, requires_grad=True)
    w = hg.tensor(rng.standard_normal(2), dtype=hg.float64, requires_grad=True)
    assert gradgradcheck(lambda x, w: F.batch_norm(x, None, None, w, None, training=True),
                         [x, w])
