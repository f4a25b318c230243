"""The GPT's fused primitives: ``gelu`` (values against the composite, float64 gradient
checks of the first-order and higher-order paths, ONNX export)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hybridgrad as hg
from hybridgrad.nn import functional as F
from hybridgrad.ops.gelu import gelu
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


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 3e-7), (np.float64, 1e-15)])
def test_gelu_equals_the_composite_exact_gelu(dtype, tolerance):
    values = np.concatenate([np.linspace(-9, 9, 2001), [0.0, -0.0, 1e-30, -40, 40]])
    x = hg.tensor(values.astype(dtype), requires_grad=True)
    reference = hg.tensor(values.astype(dtype), requires_grad=True)
    fused, composite = gelu(x), F.gelu(reference)
    assert fused.dtype == dtype
    np.testing.assert_allclose(fused._array, composite._array, rtol=0, atol=tolerance * 10)
    fused.sum().backward()
    composite.sum().backward()
    np.testing.assert_allclose(x.grad._array, reference.grad._array, rtol=0, atol=1e-6)
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
