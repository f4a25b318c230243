"""The GPT's fused primitives (``gelu``, ``softmax_last``, ``layer_norm_last``): values against
the composites, float64 gradient checks of the first-order and higher-order paths, ONNX export.
Declared as their gradcheck file, so the suite also runs it on the strict array backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hybridgrad as hg
from hybridgrad.nn import functional as F
from hybridgrad.ops.gpt_fused import gelu, layer_norm_last, softmax_last
from hybridgrad.testing import gradcheck

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


@settings(max_examples=10, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 100))
def test_gelu_gradcheck_float64(shape, seed):
    x = hg.tensor(np.random.default_rng(seed).normal(0, 2, shape), requires_grad=True)
    assert gradcheck(gelu, (x,))


def test_gelu_second_derivative_matches_finite_differences():
    x = hg.tensor(np.linspace(-3, 3, 7), requires_grad=True)

    def first_derivative(value):
        (grad,) = hg.autograd.grad(gelu(value).sum(), value, create_graph=True)
        return grad

    assert gradcheck(first_derivative, (x,))


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 3e-7), (np.float64, 3e-7)])
def test_gelu_equals_the_composite_exact_gelu(dtype, tolerance):
    values = np.concatenate([np.linspace(-9, 9, 2001), [0.0, -0.0, 1e-30, -40, 40]])
    x = hg.tensor(values.astype(dtype), requires_grad=True)
    reference = hg.tensor(values.astype(dtype), requires_grad=True)
    fused, composite = gelu(x), F.gelu(reference)
    assert fused.dtype == dtype
    np.testing.assert_allclose(fused.detach().numpy(), composite.detach().numpy(), rtol=0,
                               atol=tolerance * 10)
    fused.sum().backward()
    composite.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), reference.grad.numpy(), rtol=0, atol=1e-6)
    with pytest.raises(Exception, match="gelu: expected a floating-point input"):
        gelu(hg.tensor([1, 2]))


def test_gelu_exports_to_onnx_and_runs_in_onnxruntime(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    x = hg.tensor(np.linspace(-4, 4, 12, dtype=np.float32).reshape(3, 4))
    path = str(tmp_path / "gelu.onnx")
    hg.onnx.export(gelu, x, path, input_names=["x"], output_names=["y"])
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(actual, gelu(x).numpy(), atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 100))
def test_softmax_last_gradcheck_float64_and_second_order(shape, seed):
    x = hg.tensor(np.random.default_rng(seed).normal(0, 3, shape), requires_grad=True)
    assert gradcheck(softmax_last, (x,))

    def first_derivative(value):
        weights = hg.tensor(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape))
        (grad,) = hg.autograd.grad((softmax_last(value) * weights).sum(), value,
                                   create_graph=True)
        return grad

    assert gradcheck(first_derivative, (x,))


def test_softmax_last_equals_the_composite_with_masks_and_exports():
    scores = np.random.default_rng(0).normal(0, 5, (2, 3, 4, 4)).astype(np.float32)
    scores += np.triu(np.full((4, 4), -np.inf, np.float32), 1)
    fused_input = hg.tensor(scores, requires_grad=True)
    composite_input = hg.tensor(scores, requires_grad=True)
    fused, composite = softmax_last(fused_input), hg.softmax(composite_input, -1)
    np.testing.assert_allclose(fused.detach().numpy(), composite.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    assert (fused.detach().numpy()[..., 0, 1:] == 0).all()  # masked keys get exactly zero weight
    upstream = np.random.default_rng(1).normal(size=scores.shape).astype(np.float32)
    (fused * hg.tensor(upstream)).sum().backward()
    (composite * hg.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(fused_input.grad.numpy(), composite_input.grad.numpy(), atol=1e-6)
    onnxruntime = pytest.importorskip("onnxruntime")
    finite = hg.tensor(np.nan_to_num(scores, neginf=-1e9))
    proto = hg.onnx.export(softmax_last, finite, None, input_names=["x"])
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"x": finite.numpy()})
    np.testing.assert_allclose(actual, softmax_last(finite).numpy(), atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 100))
def test_layer_norm_last_gradcheck_float64_and_second_order(shape, seed):
    generator = np.random.default_rng(seed)
    x = hg.tensor(generator.normal(1, 3, shape), requires_grad=True)
    weight = hg.tensor(generator.normal(1, 0.5, shape[-1:]), requires_grad=True)
    bias = hg.tensor(generator.normal(0, 0.5, shape[-1:]), requires_grad=True)
    if shape[-1] == 1:  # one channel: x_hat is 0 and the input gradient vanishes
        assert np.allclose(layer_norm_last(x, weight, bias).detach().numpy(), bias.detach().numpy())
        return
    assert gradcheck(layer_norm_last, (x, weight, bias))

    def first_derivatives(value, gain):
        upstream = hg.tensor(np.cos(np.arange(int(np.prod(shape)))).reshape(shape))
        grads = hg.autograd.grad((layer_norm_last(value, gain, bias) * upstream).sum(),
                                 (value, gain), create_graph=True)
        return grads[0].sum() + grads[1].sum() * 0.5 + (grads[0] * grads[0]).sum()

    assert gradcheck(first_derivatives, (x, weight))


def test_layer_norm_last_equals_nn_layer_norm_and_exports(tmp_path):
    generator = np.random.default_rng(3)
    layer = hg.nn.LayerNorm(8)
    layer.weight = hg.nn.Parameter(hg.tensor(generator.normal(1, 0.3, 8).astype(np.float32)))
    layer.bias = hg.nn.Parameter(hg.tensor(generator.normal(0, 0.3, 8).astype(np.float32)))
    values = generator.normal(2, 4, (3, 5, 8)).astype(np.float32)
    fused_input = hg.tensor(values, requires_grad=True)
    composite_input = hg.tensor(values, requires_grad=True)
    fused = layer_norm_last(fused_input, layer.weight, layer.bias)
    composite = layer(composite_input)
    np.testing.assert_allclose(fused.detach().numpy(), composite.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    upstream = hg.tensor(generator.normal(size=values.shape).astype(np.float32))
    (fused * upstream).sum().backward()
    weight_grad = layer.weight.grad.numpy().copy()
    layer.weight.grad = None
    (composite * upstream).sum().backward()
    np.testing.assert_allclose(fused_input.grad.numpy(), composite_input.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(weight_grad, layer.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(Exception, match=r"weight and bias of shape \(C,\)"):
        layer_norm_last(fused_input, hg.ones(3), hg.zeros(8))
    onnxruntime = pytest.importorskip("onnxruntime")
    x = hg.tensor(values)
    proto = hg.onnx.export(lambda v: layer_norm_last(v, layer.weight, layer.bias), x, None,
                           input_names=["x"])
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"x": values})
    np.testing.assert_allclose(actual, composite.detach().numpy(), atol=1e-5)
