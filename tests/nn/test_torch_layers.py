"""PyTorch layers added for unmodified programs: values against NumPy or by hand, gradient checks
of the compositions, and Module.to/double/half."""

import numpy as np
import pytest

import hybridgrad as hg
import hybridgrad.nn.functional as F
from hybridgrad.testing import gradcheck


def f64(values, requires_grad=True):
    return hg.tensor(values, dtype=hg.float64, requires_grad=requires_grad)


def test_group_norm_matches_numpy_and_gradchecks():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3))
    grouped = x.reshape(2, 2, -1)
    expected = ((grouped - grouped.mean(-1, keepdims=True))
                / np.sqrt(grouped.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    layer = hg.nn.GroupNorm(2, 4).double()
    np.testing.assert_allclose(layer(hg.tensor(x)).tolist(), expected, rtol=1e-10)
    weight, bias = f64([1.0, 2.0, 0.5, -1.0]), f64([0.0, 1.0, 0.0, 2.0])
    assert gradcheck(lambda t, w, b: F.group_norm(t, 2, w, b), [f64(x), weight, bias])
    with pytest.raises(ValueError, match="divisible"):
        hg.nn.GroupNorm(3, 4)


def test_instance_norm_normalises_each_channel():
    x = hg.randn(2, 3, 4, 4, dtype=hg.float64) * 5 + 2
    out = hg.nn.InstanceNorm2d(3)(x)._array
    np.testing.assert_allclose(out.mean(axis=(2, 3)), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=(2, 3)), 1, rtol=1e-3)
    tracked = hg.nn.InstanceNorm1d(3, track_running_stats=True)
    tracked(hg.ones(2, 3, 5) * 4)
    np.testing.assert_allclose(tracked.running_mean.tolist(), [0.4] * 3, rtol=1e-6)
    assert gradcheck(lambda t: F.instance_norm(t), [f64(np.arange(8.0).reshape(1, 2, 4) ** 2)])


def test_normalize_and_similarities():
    x = hg.tensor([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(F.normalize(x).tolist(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    a, b = hg.tensor([[1.0, 0.0], [1.0, 1.0]]), hg.tensor([[0.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(F.cosine_similarity(a, b).tolist(), [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(hg.nn.PairwiseDistance()(a, b).tolist(),
                               [np.sqrt(2), np.sqrt(2)], rtol=1e-5)
    assert gradcheck(lambda u, v: F.cosine_similarity(u, v), [f64([[1.0, 2.0]]),
                                                              f64([[0.5, -1.0]])])


def test_interpolate_nearest_and_linear_by_hand():
    x = hg.tensor([[[1.0, 2.0, 4.0]]])
    assert F.interpolate(x, scale_factor=2).tolist() == [[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
    assert F.interpolate(x, size=2).tolist() == [[[1.0, 2.0]]]
    # linear, align_corners=False: source = (i + 0.5) / 2 - 0.5, clamped at 0.
    assert F.interpolate(x, scale_factor=2, mode="linear", align_corners=False).tolist() == \
        [[[1.0, 1.25, 1.75, 2.5, 3.5, 4.0]]]
    assert F.interpolate(x, size=5, mode="linear", align_corners=True).tolist() == \
        [[[1.0, 1.5, 2.0, 3.0, 4.0]]]
    image = hg.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    up = hg.nn.Upsample(scale_factor=2, mode="bilinear")(image)
    assert up.shape == (1, 1, 4, 4)
    assert up[0, 0, :, 0].tolist() == [1.0, 1.5, 2.5, 3.0]
    nearest = hg.nn.Upsample(scale_factor=2)(image)
    assert nearest[0, 0].tolist() == [[1.0, 1.0, 2.0, 2.0]] * 2 + [[3.0, 3.0, 4.0, 4.0]] * 2
    assert gradcheck(lambda t: F.interpolate(t, size=(3, 5), mode="bilinear"),
                     [f64(np.arange(6.0).reshape(1, 1, 2, 3))])
    assert gradcheck(lambda t: F.interpolate(t, scale_factor=2), [f64([[[1.0, 2.0]]])])
    with pytest.raises(ValueError, match="exactly one"):
        F.interpolate(x)


def test_pixel_shuffle_by_hand_and_round_trip():
    x = hg.arange(8.0).reshape(1, 8, 1, 1)
    out = hg.nn.PixelShuffle(2)(x)
    assert out.shape == (1, 2, 2, 2)
    assert out[0].tolist() == [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]
    y = hg.randn(2, 3, 4, 6)
    assert (F.pixel_shuffle(F.pixel_unshuffle(y, 2), 2) == y).all().item()
    with pytest.raises(RuntimeError, match="divisible"):
        F.pixel_shuffle(hg.ones(1, 3, 1, 1), 2)


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                              ("circular", "wrap"), ("constant", "constant")])
def test_padding_modes_match_numpy(mode, numpy_mode):
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    padded = F.pad(hg.tensor(x), (2, 1, 1, 2), mode=mode)
    expected = np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), mode=numpy_mode)
    assert padded.tolist() == expected.tolist()
    if mode != "constant":
        assert gradcheck(lambda t: F.pad(t, (2, 1), mode=mode), [f64(x[0, 0])])


def test_padding_modules():
    x = hg.tensor([[[1.0, 2.0, 3.0]]])
    assert hg.nn.ReflectionPad1d((1, 2))(x).tolist() == [[[2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]]
    assert hg.nn.ReplicationPad1d(1)(x).tolist() == [[[1.0, 1.0, 2.0, 3.0, 3.0]]]
    assert hg.nn.ConstantPad1d(1, -1.0)(x).tolist() == [[[-1.0, 1.0, 2.0, 3.0, -1.0]]]
    assert hg.nn.ZeroPad2d((1, 0, 0, 1))(hg.ones(1, 1, 1, 1)).tolist() == [[[[0.0, 1.0],
                                                                            [0.0, 0.0]]]]


def test_channel_dropout_zeroes_whole_channels():
    hg.manual_seed(1)
    out = hg.nn.Dropout2d(0.5)(hg.ones(8, 16, 3, 3))._array
    per_channel = out.reshape(8, 16, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # constant within a channel
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    assert hg.nn.Dropout1d(0.3).eval()(hg.ones(2, 3, 4)).sum().item() == 24.0
    with pytest.raises(ValueError, match="probability"):
        hg.nn.Dropout2d(1.5)


@pytest.mark.parametrize("name, reference", [
    ("relu6", lambda x: np.clip(x, 0, 6)), ("hardtanh", lambda x: np.clip(x, -1, 1)),
    ("hardsigmoid", lambda x: np.clip(x + 3, 0, 6) / 6),
    ("hardswish", lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("mish", lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("selu", lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772
                                                       * (np.exp(x) - 1))),
    ("celu", lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    ("softsign", lambda x: x / (1 + np.abs(x))), ("logsigmoid", lambda x: -np.log1p(np.exp(-x))),
    ("tanhshrink", lambda x: x - np.tanh(x)),
])
def test_activations_match_their_formulas_and_gradcheck(name, reference):
    values = np.array([-7.0, -2.5, -0.3, 0.4, 2.2, 7.5])
    np.testing.assert_allclose(getattr(F, name)(hg.tensor(values)).tolist(), reference(values),
                               rtol=1e-10, atol=1e-12)
    assert gradcheck(getattr(F, name), [f64(values)])
    module_name = {"relu6": "ReLU6", "hardtanh": "Hardtanh", "hardsigmoid": "Hardsigmoid",
                   "hardswish": "Hardswish", "mish": "Mish", "selu": "SELU", "celu": "CELU",
                   "softsign": "Softsign", "logsigmoid": "LogSigmoid",
                   "tanhshrink": "Tanhshrink"}[name]
    module = getattr(hg.nn, module_name)()
    np.testing.assert_allclose(module(hg.tensor(values)).tolist(), reference(values),
                               rtol=1e-10, atol=1e-12)


def test_parametrised_activations():
    assert hg.nn.Hardtanh(-2.0, 2.0)(hg.tensor([-5.0, 5.0])).tolist() == [-2.0, 2.0]
    assert hg.nn.Threshold(0.5, -1.0)(hg.tensor([0.25, 0.75])).tolist() == [-1.0, 0.75]
    assert hg.nn.GLU()(hg.tensor([[2.0, 4.0, 0.0, 0.0]])).tolist() == [[1.0, 2.0]]
    assert hg.nn.Softmin(dim=-1)(hg.tensor([0.0, 0.0])).tolist() == [0.5, 0.5]
    prelu = hg.nn.PReLU(2)
    out = prelu(hg.tensor([[-2.0, -4.0], [1.0, 3.0]]))
    assert out.tolist() == [[-0.5, -1.0], [1.0, 3.0]]
    out.sum().backward()
    assert prelu.weight.grad.tolist() == [-2.0, -4.0]
    assert list(prelu.state_dict()) == ["weight"]


def test_init_additions_and_deprecated_names():
    weight = hg.nn.init.dirac_(hg.zeros(4, 2, 3, 3), groups=2)
    kernel = weight._array
    assert kernel.sum() == 4 and kernel[0, 0, 1, 1] == 1 and kernel[2, 0, 1, 1] == 1
    sparse = hg.nn.init.sparse_(hg.zeros(10, 4), sparsity=0.5)
    assert ((sparse._array == 0).sum(axis=0) >= 5).all()
    with pytest.warns(FutureWarning, match="nn.init.xavier_uniform_"):
        hg.nn.init.xavier_uniform(hg.zeros(3, 3))
    parameter = hg.nn.Parameter(hg.zeros(2, 2))
    hg.nn.init.ones_(parameter)
    assert parameter._version == 1
    generator = hg.Generator().manual_seed(4)
    a = hg.nn.init.normal_(hg.zeros(3), generator=generator).tolist()
    assert a == hg.nn.init.normal_(hg.zeros(3), generator=hg.Generator().manual_seed(4)).tolist()


def test_module_to_double_half_keeps_parameters_and_optimizer():
    model = hg.nn.Sequential(hg.nn.Linear(3, 4), hg.nn.BatchNorm1d(4))
    optimizer = hg.optim.SGD(model.parameters(), lr=0.1)
    weight = model[0].weight
    assert model.to("cpu") is model and model.double() is model
    assert weight.dtype == np.float64 and model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers stay
    loss = model(hg.ones(2, 3, dtype=hg.float64)).sum()
    loss.backward()
    optimizer.step()
    assert model[0].weight is weight and weight.dtype == np.float64
    model.half()
    assert weight.dtype == np.float16
    model.float()
    assert weight.dtype == np.float32 and weight.grad.dtype == np.float32
    with pytest.raises(TypeError, match="floating point"):
        model.to(hg.int64)
    with pytest.raises(AssertionError, match="CUDA"):
        model.cuda()


def test_forward_hooks_and_submodule_lookup():
    model = hg.nn.Sequential(hg.nn.Linear(2, 3), hg.nn.ReLU(), hg.nn.Linear(3, 1))
    activations = {}
    handle = model[1].register_forward_hook(
        lambda module, inputs, output: activations.setdefault("relu", output))
    doubled = model[2].register_forward_pre_hook(lambda module, inputs: (inputs[0] * 2,))
    x = hg.ones(4, 2)
    out = model(x)
    relu = activations["relu"]
    assert relu.shape == (4, 3) and (relu >= 0).all().item()
    expected = model[2].weight @ (relu * 2).T
    np.testing.assert_allclose(out.tolist(), (expected.T + model[2].bias).tolist(), rtol=1e-6)
    handle.remove()
    doubled.remove()
    activations.clear()
    model(x)
    assert activations == {}
    assert model.get_submodule("2") is model[2]
    assert model.get_parameter("0.bias") is model[0].bias
    with pytest.raises(AttributeError, match="no attribute"):
        model.get_submodule("5")


def test_adaptive_max_pool_windows_values_indices_and_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5, 7))
    out, indices = F.adaptive_max_pool2d(hg.tensor(x), (2, 3), return_indices=True)
    # PyTorch's windows: rows [0, 3) and [2, 5); columns [0, 3), [2, 5), [4, 7).
    rows, cols = [(0, 3), (2, 5)], [(0, 3), (2, 5), (4, 7)]
    expected = np.array([[x[..., r0:r1, c0:c1].max(axis=(-2, -1)) for c0, c1 in cols]
                         for r0, r1 in rows]).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(out.tolist(), expected)
    flat = x.reshape(2, 3, -1)
    np.testing.assert_allclose(np.take_along_axis(flat, indices._array.reshape(2, 3, -1), -1),
                               expected.reshape(2, 3, -1))
    assert hg.nn.AdaptiveMaxPool1d(2)(hg.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]])).tolist() == \
        [[[5.0, 4.0]]]
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, 2), [f64(x[:1, :1, :4, :5])])
