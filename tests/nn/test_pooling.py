"""Pooling: forward against naive loops (padding, dilation, ceil_mode), gradients, layers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad.testing import gradcheck, gradgradcheck


def out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def naive_max_pool2d(x, k, s, p=(0, 0), d=(1, 1), ceil_mode=False):
    n, c, h, w = x.shape
    oh = out_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = out_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    out = np.zeros((n, c, oh, ow))
    index = np.zeros((n, c, oh, ow), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    best, where = -np.inf, -1
                    for a in range(k[0]):
                        for bb in range(k[1]):
                            r = i * s[0] - p[0] + a * d[0]
                            q = j * s[1] - p[1] + bb * d[1]
                            if 0 <= r < h and 0 <= q < w and x[b, ch, r, q] > best:
                                best, where = x[b, ch, r, q], r * w + q
                    out[b, ch, i, j], index[b, ch, i, j] = best, where
    return out, index


def naive_avg_pool2d(x, k, s, p=(0, 0), ceil_mode=False, count_include_pad=True):
    n, c, h, w = x.shape
    oh = out_size(h, k[0], s[0], p[0], 1, ceil_mode)
    ow = out_size(w, k[1], s[1], p[1], 1, ceil_mode)
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            total = np.zeros((n, c))
            real = padded = 0
            for a in range(k[0]):
                for bb in range(k[1]):
                    r = i * s[0] - p[0] + a
                    q = j * s[1] - p[1] + bb
                    # Positions inside the padded input count when count_include_pad is set;
                    # the overhang that ceil_mode adds never counts.
                    if -p[0] <= r < h + p[0] and -p[1] <= q < w + p[1]:
                        padded += 1
                    if 0 <= r < h and 0 <= q < w:
                        real += 1
                        total += x[:, :, r, q]
            out[:, :, i, j] = total / (padded if count_include_pad else real)
    return out


MAX_CONFIGS = [
    dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False),
    dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), ceil_mode=False),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1), ceil_mode=False),
    dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=True),
    dict(kernel_size=(3, 3), stride=(2, 3), padding=(1, 1), dilation=(1, 1), ceil_mode=True),
]


@pytest.mark.parametrize("config", MAX_CONFIGS)
def test_max_pool2d_matches_naive(config):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 9))
    out, indices = F.max_pool2d(hg.tensor(x), return_indices=True, **config)
    expected, expected_index = naive_max_pool2d(
        x, config["kernel_size"], config["stride"], config["padding"], config["dilation"],
        config["ceil_mode"])
    np.testing.assert_array_equal(out._array, expected)
    np.testing.assert_array_equal(indices._array, expected_index)
    assert indices.dtype == np.int64


@pytest.mark.parametrize("config", MAX_CONFIGS)
def test_max_pool2d_gradcheck(config):
    # A permutation: all values distinct, so the maximum is unique and differentiable.
    rng = np.random.default_rng(1)
    x = hg.tensor(rng.permutation(2 * 7 * 9).reshape(1, 2, 7, 9) / 10.0, dtype=hg.float64,
                  requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, **config), [x])


def test_max_pool2d_gradgradcheck():
    rng = np.random.default_rng(2)
    x = hg.tensor(rng.permutation(36).reshape(1, 1, 6, 6) / 7.0, dtype=hg.float64,
                  requires_grad=True)
    assert gradgradcheck(lambda t: F.max_pool2d(t, 3, 1) ** 2, [x])


def test_max_pool2d_ties_go_to_first_maximum():
    x = hg.ones(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[1.0, 0.0], [0.0, 0.0]]]]


def test_max_pool2d_overlapping_windows_accumulate():
    x = hg.tensor([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, 1).sum().backward()
    assert x.grad._array[0, 0, 1, 1] == 4.0 and x.grad._array.sum() == 4.0


def test_max_pool2d_padding_never_wins_for_negative_inputs():
    x = -hg.ones(1, 1, 2, 2) - 1
    assert F.max_pool2d(x, 2, 1, padding=1)._array.max() == -2.0


def test_max_pool1d_and_layer():
    x = np.random.default_rng(3).standard_normal((2, 3, 9))
    got = hg.nn.MaxPool1d(3, stride=2, padding=1)(hg.tensor(x))
    expected, _ = naive_max_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1))
    np.testing.assert_array_equal(got._array, expected[:, :, 0])
    pool = hg.nn.MaxPool2d(2)
    assert pool.stride == 2 and pool(hg.zeros(1, 1, 5, 5)).shape == (1, 1, 2, 2)
    assert hg.nn.MaxPool2d(2, ceil_mode=True)(hg.zeros(1, 1, 5, 5)).shape == (1, 1, 3, 3)


AVG_CONFIGS = [
    dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False,
         count_include_pad=True),
    dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=False,
         count_include_pad=True),
    dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=False,
         count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), ceil_mode=True,
         count_include_pad=True),
    dict(kernel_size=(2, 3), stride=(2, 2), padding=(0, 1), ceil_mode=True,
         count_include_pad=False),
]


@pytest.mark.parametrize("config", AVG_CONFIGS)
def test_avg_pool2d_matches_naive(config):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 8))
    got = F.avg_pool2d(hg.tensor(x), **config)
    expected = naive_avg_pool2d(x, config["kernel_size"], config["stride"], config["padding"],
                                config["ceil_mode"], config["count_include_pad"])
    np.testing.assert_allclose(got._array, expected, atol=1e-12)


def test_avg_pool2d_known_pytorch_values():
    # torch.nn.functional.avg_pool2d(torch.ones(1, 1, 3, 3), 2, ceil_mode=True) is all ones:
    # the ceil_mode overhang is not counted in the divisor.
    x = hg.ones(1, 1, 3, 3)
    assert F.avg_pool2d(x, 2, ceil_mode=True).tolist() == [[[[1.0, 1.0], [1.0, 1.0]]]]
    # With zero padding counted, a corner window of a 3x3 kernel holds 4 of 9 ones.
    corner = F.avg_pool2d(x, 3, 1, padding=1)._array[0, 0, 0, 0]
    assert abs(corner - 4 / 9) < 1e-7
    assert F.avg_pool2d(x, 3, 1, padding=1, count_include_pad=False)._array.min() == 1.0
    assert F.avg_pool2d(x, 3, 1, padding=1, divisor_override=2)._array[0, 0, 1, 1] == 4.5


@pytest.mark.parametrize("config", AVG_CONFIGS[1:4])
def test_avg_pool2d_gradcheck(config):
    x = hg.tensor(np.random.default_rng(5).standard_normal((1, 2, 5, 6)), dtype=hg.float64,
                  requires_grad=True)
    assert gradcheck(lambda t: F.avg_pool2d(t, **config), [x])


def test_avg_pool_layers():
    x = np.random.default_rng(6).standard_normal((2, 3, 8))
    got = hg.nn.AvgPool1d(3, 2, 1)(hg.tensor(x))
    np.testing.assert_allclose(got._array, naive_avg_pool2d(x[:, :, None], (1, 3), (1, 2),
                                                          (0, 1))[:, :, 0], atol=1e-12)
    assert hg.nn.AvgPool2d(2)(hg.zeros(1, 1, 4, 4)).shape == (1, 1, 2, 2)


def naive_adaptive_avg(x, out_h, out_w):
    n, c, h, w = x.shape
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        r0, r1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
        for j in range(out_w):
            c0, c1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            out[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("output_size", [1, (3, 2), (5, 7), (2, None)])
def test_adaptive_avg_pool2d_matches_naive(output_size):
    x = np.random.default_rng(7).standard_normal((2, 3, 5, 7))
    got = hg.nn.AdaptiveAvgPool2d(output_size)(hg.tensor(x))
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    out_h, out_w = (s if v is None else v for v, s in zip(output_size, (5, 7)))
    np.testing.assert_allclose(got._array, naive_adaptive_avg(x, out_h, out_w), atol=1e-12)


def test_adaptive_avg_pool_gradcheck():
    x = hg.tensor(np.random.default_rng(8).standard_normal((1, 2, 5, 4)), dtype=hg.float64,
                  requires_grad=True)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 3)), [x])
    y = hg.tensor(np.random.default_rng(9).standard_normal((2, 2, 5)), dtype=hg.float64,
                  requires_grad=True)
    assert gradcheck(lambda t: F.adaptive_avg_pool1d(t, 2), [y])


def test_pool_errors():
    with pytest.raises(ValueError, match="max_pool2d"):
        F.max_pool2d(hg.zeros(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="avg_pool2d"):
        F.avg_pool2d(hg.zeros(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="max_pool2d"):
        F.max_pool2d(hg.zeros(4, 4), 2)


def test_max_pool2d_nonfinite_gradient_stays_at_the_argmax():
    x = hg.tensor([[[[1.0, 2.0], [0.0, -1.0]]]], requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(hg.tensor([[[[np.inf]]]]))
    assert x.grad.tolist() == [[[[0.0, np.inf], [0.0, 0.0]]]]


def test_max_pool2d_nan_propagates_like_pytorch():
    x = hg.tensor([[[[1.0, np.nan], [3.0, 0.0]]]])
    out, index = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(out.item()) and index.item() == 1


def test_max_pool2d_gradient_when_windows_tile_the_input():
    # Exact tiling takes a path that skips zero-filling: every input element must be written.
    rng = np.random.default_rng(11)
    x = rng.permutation(2 * 3 * 6 * 4).reshape(2, 3, 6, 4).astype(np.float64)
    g = rng.standard_normal((2, 3, 3, 2))
    xt = hg.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(hg.tensor(g))
    expected = np.zeros_like(x)
    _, index = naive_max_pool2d(x, (2, 2), (2, 2))
    for b in range(2):
        for c in range(3):
            expected[b, c].reshape(-1)[index[b, c].reshape(-1)] = g[b, c].reshape(-1)
    np.testing.assert_array_equal(xt.grad._array, expected)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.integers(1, 2),
       st.booleans(), st.booleans(), st.integers(3, 7), st.integers(3, 7))
def test_pooling_random_configs(kernel, stride, padding, dilation, ceil_mode, include_pad, h, w):
    if 2 * padding > kernel or min(h, w) + 2 * padding < dilation * (kernel - 1) + 1:
        return
    x = np.random.default_rng(h * 10 + w).standard_normal((1, 2, h, w))
    k, s, p, d = (kernel, kernel), (stride, stride), (padding, padding), (dilation, dilation)
    out, index = F.max_pool2d(hg.tensor(x), k, s, p, d, ceil_mode, return_indices=True)
    expected, expected_index = naive_max_pool2d(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(out._array, expected)
    np.testing.assert_array_equal(index._array, expected_index)
    if w + 2 * padding >= kernel and h + 2 * padding >= kernel:
        got = F.avg_pool2d(hg.tensor(x), k, s, p, ceil_mode, include_pad)
        np.testing.assert_allclose(got._array, naive_avg_pool2d(x, k, s, p, ceil_mode,
                                                              include_pad), atol=1e-12)


def test_avg_pool2d_gradgradcheck():
    x = hg.tensor(np.random.default_rng(12).standard_normal((1, 1, 4, 5)), dtype=hg.float64,
                  requires_grad=True)
    assert gradgradcheck(lambda t: F.avg_pool2d(t, 2, 1, padding=1) ** 2, [x])
