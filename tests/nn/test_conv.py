"""Convolution: forward against naive loop references, adjointness, gradients, layer defaults."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad.testing import gradcheck, gradgradcheck


def naive_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    n, c, h, width = x.shape
    o, cg, kh, kw = w.shape
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (width + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    per_group = o // groups
    for bi in range(n):
        for oc in range(o):
            group = oc // per_group
            for i in range(oh):
                for j in range(ow):
                    total = 0.0
                    for ci in range(cg):
                        for a in range(kh):
                            for bb in range(kw):
                                r = i * stride[0] - padding[0] + a * dilation[0]
                                s = j * stride[1] - padding[1] + bb * dilation[1]
                                if 0 <= r < h and 0 <= s < width:
                                    total += x[bi, group * cg + ci, r, s] * w[oc, ci, a, bb]
                    out[bi, oc, i, j] = total + (0.0 if b is None else b[oc])
    return out


def naive_conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                           groups=1, dilation=(1, 1)):
    n, c_in, h, width = x.shape
    _, cg_out, kh, kw = w.shape
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (width - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    out = np.zeros((n, cg_out * groups, oh, ow))
    in_per_group = c_in // groups
    for bi in range(n):
        for ci in range(c_in):
            group = ci // in_per_group
            for i in range(h):
                for j in range(width):
                    for co in range(cg_out):
                        for a in range(kh):
                            for bb in range(kw):
                                r = i * stride[0] - padding[0] + a * dilation[0]
                                s = j * stride[1] - padding[1] + bb * dilation[1]
                                if 0 <= r < oh and 0 <= s < ow:
                                    out[bi, group * cg_out + co, r, s] += (
                                        x[bi, ci, i, j] * w[ci, co, a, bb])
    if b is not None:
        out += np.asarray(b).reshape(1, -1, 1, 1)
    return out


CONFIGS = [
    dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(1, 1), groups=1),
    dict(stride=(2, 2), padding=(1, 1), dilation=(2, 1), groups=1),
    dict(stride=(1, 2), padding=(0, 1), dilation=(1, 2), groups=2),
    dict(stride=(3, 3), padding=(2, 0), dilation=(1, 1), groups=4),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_conv2d_matches_naive_loops(config):
    rng = np.random.default_rng(0)
    groups = config["groups"]
    x = rng.standard_normal((2, 4, 7, 8))
    w = rng.standard_normal((4, 4 // groups, 3, 2))
    b = rng.standard_normal(4)
    got = F.conv2d(hg.tensor(x), hg.tensor(w), hg.tensor(b), **config)
    np.testing.assert_allclose(got._array, naive_conv2d(x, w, b, **config), atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2),
       st.sampled_from([1, 2]), st.integers(4, 7))
def test_conv2d_random_configs(kernel, stride, padding, dilation, groups, size):
    rng = np.random.default_rng(kernel * 100 + stride * 10 + padding)
    if size + 2 * padding < dilation * (kernel - 1) + 1:
        return
    x = rng.standard_normal((1, 2, size, size + 1))
    w = rng.standard_normal((2, 2 // groups, kernel, kernel))
    config = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    got = F.conv2d(hg.tensor(x), hg.tensor(w), **config)._array
    pairs = {k: (v, v) if k != "groups" else v for k, v in config.items()}
    np.testing.assert_allclose(got, naive_conv2d(x, w, **pairs), atol=1e-10)


def test_conv2d_float32_stays_float32():
    x = hg.randn(2, 3, 6, 6)
    w = hg.randn(4, 3, 3, 3)
    assert F.conv2d(x, w).dtype == np.float32


@pytest.mark.parametrize("config", [
    dict(stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1, dilation=(1, 1)),
    dict(stride=(2, 2), padding=(1, 0), output_padding=(1, 0), groups=1, dilation=(1, 1)),
    dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), groups=2, dilation=(1, 1)),
    dict(stride=(1, 2), padding=(1, 1), output_padding=(0, 1), groups=1, dilation=(2, 1)),
])
def test_conv_transpose2d_matches_naive_loops(config):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3, 4))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(3 * config["groups"])
    got = F.conv_transpose2d(hg.tensor(x), hg.tensor(w), hg.tensor(b), **config)
    np.testing.assert_allclose(got._array, naive_conv_transpose2d(x, w, b, **config), atol=1e-10)


def test_conv_transpose_is_the_adjoint_of_conv():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 3))
    config = dict(stride=2, padding=1, dilation=1, groups=2)
    y = F.conv2d(hg.tensor(x), hg.tensor(w), **config)
    probe = rng.standard_normal(y.shape)
    back = F.conv_transpose2d(hg.tensor(probe), hg.tensor(w), stride=2, padding=1, groups=2,
                              output_padding=(0, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose((y._array * probe).sum(), (x * back._array).sum(), rtol=1e-10)


def test_conv1d_matches_naive():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 11))
    w = rng.standard_normal((6, 2, 3))
    b = rng.standard_normal(6)
    got = F.conv1d(hg.tensor(x), hg.tensor(w), hg.tensor(b), stride=2, padding=1, dilation=2,
                   groups=2)
    expected = naive_conv2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(got._array, expected, atol=1e-10)


def test_conv_transpose1d_matches_naive():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 5))
    w = rng.standard_normal((2, 3, 4))
    got = F.conv_transpose1d(hg.tensor(x), hg.tensor(w), stride=2, padding=1, output_padding=1)
    expected = naive_conv_transpose2d(x[:, :, None], w[:, :, None], None, (1, 2), (0, 1),
                                      (0, 1))[:, :, 0]
    np.testing.assert_allclose(got._array, expected, atol=1e-10)


def test_padding_same_keeps_size_even_kernel():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 5, 6))
    w = rng.standard_normal((1, 1, 2, 4))
    got = F.conv2d(hg.tensor(x), hg.tensor(w), padding="same")
    assert got.shape == (1, 1, 5, 6)
    # PyTorch puts the odd extra padding at the end: left/top pad total//2.
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)))
    np.testing.assert_allclose(got._array, naive_conv2d(padded, w), atol=1e-10)


def test_unbatched_input():
    x = hg.randn(3, 5, 5)
    conv = hg.nn.Conv2d(3, 2, 3)
    np.testing.assert_allclose(conv(x)._array, conv(x.unsqueeze(0))._array[0], rtol=1e-6)


def _f64(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return hg.tensor(rng.standard_normal(shape), dtype=hg.float64, requires_grad=True)


@pytest.mark.parametrize("config", [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=2),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=1),
])
def test_conv2d_gradcheck(config):
    groups = config["groups"]
    x, w, b = _f64(2, 2, 5, 5), _f64(2, 2 // groups, 3, 2, seed=1), _f64(2, seed=2)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **config), [x, w, b])


def test_conv2d_gradgradcheck():
    x, w = _f64(1, 2, 4, 4), _f64(2, 2, 2, 2, seed=1)
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), [x, w])


def test_conv_transpose2d_gradcheck_and_gradgradcheck():
    x, w, b = _f64(1, 2, 3, 3), _f64(2, 2, 3, 2, seed=1), _f64(4, seed=2)

    def function(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)

    assert gradcheck(function, [x, w, b])
    assert gradgradcheck(lambda x, w: function(x, w, None), [x, w])


def test_conv1d_gradcheck():
    x, w, b = _f64(2, 2, 6), _f64(3, 2, 3, seed=1), _f64(3, seed=2)
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [x, w, b])


def test_weight_gradient_of_output_padding_transpose():
    # conv2d_weight/conv2d on an output_padding-sized tensor must crop correctly.
    x, w = _f64(1, 1, 2, 2), _f64(1, 1, 3, 3, seed=1)
    assert gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=3, output_padding=2),
                         [x, w])


def test_conv_layers_default_init_matches_pytorch_bounds():
    hg.manual_seed(0)
    conv = hg.nn.Conv2d(4, 64, 3)
    bound = 1 / math.sqrt(4 * 9)
    assert conv.weight.shape == (64, 4, 3, 3) and conv.bias.shape == (64,)
    assert np.abs(conv.weight._array).max() <= bound
    assert np.abs(conv.weight._array).max() > 0.95 * bound
    assert np.abs(conv.bias._array).max() <= bound
    assert conv.weight.dtype == np.float32
    transposed = hg.nn.ConvTranspose2d(8, 6, 3, groups=2)
    assert transposed.weight.shape == (8, 3, 3, 3)
    # PyTorch's fan_in for transposed weights is weight.size(1) * k * k.
    assert np.abs(transposed.weight._array).max() <= 1 / math.sqrt(3 * 9)
    assert hg.nn.Conv1d(2, 3, 5, bias=False).bias is None


def test_conv_layer_state_dict_keys_and_forward():
    conv = hg.nn.Conv2d(3, 5, (3, 1), stride=2, padding=(1, 0), bias=True)
    assert list(conv.state_dict()) == ["weight", "bias"]
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 4)).astype(np.float32)
    expected = naive_conv2d(x.astype(np.float64), conv.weight._array.astype(np.float64),
                            conv.bias._array, (2, 2), (1, 0))
    np.testing.assert_allclose(conv(hg.tensor(x))._array, expected, rtol=1e-4, atol=1e-5)


def test_conv_transpose2d_output_size_argument():
    up = hg.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = hg.zeros(1, 2, 4, 4)
    assert up(x).shape == (1, 2, 7, 7)
    assert up(x, output_size=(8, 8)).shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match="output size"):
        up(x, output_size=(10, 10))


def test_conv_errors_name_the_layer_and_shapes():
    conv = hg.nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"conv2d.*3"):
        conv(hg.zeros(1, 2, 5, 5))
    with pytest.raises(ValueError, match="kernel"):
        conv(hg.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="groups"):
        hg.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(NotImplementedError, match="padding_mode"):
        hg.nn.Conv2d(3, 4, 3, padding_mode="reflect")


def test_output_padding_below_dilation_but_not_stride():
    # PyTorch allows output_padding < max(stride, dilation).
    x, w = _f64(1, 1, 3, 3), _f64(1, 1, 2, 2, seed=1)
    config = dict(stride=1, output_padding=1, dilation=2)
    out = F.conv_transpose2d(x, w, **config)
    expected = naive_conv_transpose2d(x._array, w._array, None, (1, 1), (0, 0), (1, 1), 1, (2, 2))
    np.testing.assert_allclose(out._array, expected, atol=1e-12)
    assert gradcheck(lambda x, w: F.conv_transpose2d(x, w, **config), [x, w])


def test_shape_rules_agree_with_the_forwards():
    # The symbolic compiler relies on the shape rules: check them against eager results.
    from hybridgrad.ops.registry import REGISTRY, Spec, apply

    def spec(t):
        return Spec(tuple(t.shape), t.dtype)

    x, w = hg.randn(2, 4, 7, 6), hg.randn(6, 2, 3, 2)
    conv_attrs = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    y = apply("conv2d", x, w, **conv_attrs)
    assert REGISTRY["conv2d"].shape(spec(x), spec(w), **conv_attrs) == spec(y)
    back = apply("conv_transpose2d", y, w, input_size=(7, 6), **conv_attrs)
    assert REGISTRY["conv_transpose2d"].shape(spec(y), spec(w), input_size=(7, 6),
                                              **conv_attrs) == spec(back)
    dw = apply("conv2d_weight", x, y, kernel_size=(3, 2), **conv_attrs)
    assert REGISTRY["conv2d_weight"].shape(spec(x), spec(y), kernel_size=(3, 2),
                                           **conv_attrs) == spec(dw)
    pool_attrs = dict(kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), dilation=(1, 1),
                      ceil_mode=True)
    p = apply("max_pool2d", x, **pool_attrs)
    assert REGISTRY["max_pool2d"].shape(spec(x), **pool_attrs) == spec(p)
    for name in ("max_pool2d_taps", "max_pool2d_indices"):
        value = apply(name, x, p, **pool_attrs)
        assert REGISTRY[name].shape(spec(x), spec(p), **pool_attrs) == spec(value)
    taps = apply("max_pool2d_taps", x, p, **pool_attrs)
    scattered = apply("max_pool2d_scatter", p, taps, input_shape=tuple(x.shape), **pool_attrs)
    assert REGISTRY["max_pool2d_scatter"].shape(spec(p), spec(taps), input_shape=tuple(x.shape),
                                                **pool_attrs) == spec(scattered)
    gathered = apply("max_pool2d_gather", x, taps, **pool_attrs)
    assert REGISTRY["max_pool2d_gather"].shape(spec(x), spec(taps), **pool_attrs) == \
        spec(gathered)


@pytest.mark.parametrize("config", CONFIGS)
def test_both_column_layouts_agree(config):
    # The backward kernels pick a sample-major or channel-major im2col layout by output size;
    # both must give the same numbers (and the naive oracle checks one of them above).
    from hybridgrad.ops import conv as kernels

    rng = np.random.default_rng(6)
    groups = config["groups"]
    attrs = {k: (v if k == "groups" else v) for k, v in config.items()}
    x = rng.standard_normal((2, 4, 19, 18))
    w = rng.standard_normal((4, 4 // groups, 3, 2))
    y = kernels._conv2d_array(np, x, w, **attrs)
    g = rng.standard_normal(y.shape)
    weights = [kernels._conv2d_weight_array(np, x, g, (3, 2), **attrs, per_sample=flag)
               for flag in (True, False)]
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-10, atol=1e-10)
    inputs = [kernels._conv_transpose2d_array(np, g, w, (19, 18), **attrs, per_sample=flag)
              for flag in (True, False)]
    np.testing.assert_allclose(inputs[0], inputs[1], rtol=1e-10, atol=1e-10)
    # And both are the adjoints: <conv(x, w), g> = <x, convT(g, w)> = <w, conv2d_weight(x, g)>.
    inner = (y * g).sum()
    np.testing.assert_allclose((x * inputs[0]).sum(), inner, rtol=1e-10)
    np.testing.assert_allclose((w * weights[0]).sum(), inner, rtol=1e-10)
