"""Tracing eager code: hg.jit.trace, Module.hybridize, and the errors for untraceable code."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.symbolic import TracingError


def _mlp():
    hg.manual_seed(0)
    return hg.nn.Sequential(hg.nn.Linear(6, 16), _Relu(), hg.nn.Linear(16, 3))


class _Relu(hg.nn.Module):
    def forward(self, x):
        return hg.relu(x)


def test_trace_of_an_mlp_equals_eager():
    model = _mlp()
    x = hg.randn(5, 6)
    traced = hg.jit.trace(model, x)
    np.testing.assert_allclose(traced(x)._array, model(x)._array, rtol=1e-6, atol=1e-6)
    # Another batch size traces again and still matches.
    x2 = hg.randn(2, 6)
    np.testing.assert_allclose(traced(x2)._array, model(x2)._array, rtol=1e-6, atol=1e-6)
    text = str(traced.graph)
    assert "tensor 0.weight" in text and "tensor 2.bias" in text
    # nn.Linear's fused primitive is lowered to a product with the transposed weight, which
    # joins the bias and activation as a GEMM epilogue (passes.lower_linear).
    assert "linear" not in text and "fused_matmul" in text


def test_trace_reads_parameters_at_call_time():
    model = _mlp()
    x = hg.randn(4, 6)
    traced = hg.jit.trace(model, x)
    before = traced(x)._array.copy()
    with hg.no_grad():
        model[2].bias.copy_(model[2].bias + 1.0)
    after = traced(x)._array
    np.testing.assert_allclose(after, before + 1.0, rtol=1e-6)
    # Replacing ._array (as load_state_dict does) is seen too.
    model.load_state_dict(_mlp().state_dict())
    np.testing.assert_allclose(traced(x)._array, model(x)._array, rtol=1e-6, atol=1e-6)
    # So are in-place changes of a weight (the compiled graph reads it transposed).
    model[0].weight._array *= 2.0
    np.testing.assert_allclose(traced(x)._array, model(x)._array, rtol=1e-6, atol=1e-6)


def test_trace_of_a_function_with_multiple_outputs():
    f = hg.jit.trace(lambda a, b: (a * b, (a - b).exp().sum(dim=0)), [hg.ones(2, 3),
                                                                      hg.ones(2, 3)])
    a, b = hg.randn(2, 3), hg.randn(2, 3)
    first, second = f(a, b)
    np.testing.assert_allclose(first._array, (a * b)._array, rtol=1e-6)
    np.testing.assert_allclose(second._array, (a - b).exp().sum(dim=0)._array, rtol=1e-6)


def test_hybridize_caches_per_signature_and_mode():
    model = _mlp().hybridize()
    x = hg.randn(3, 6)
    with hg.no_grad():
        out = model(x)
        again = model(x)
        model(hg.randn(7, 6))
        model.eval()
        model(x)
    hybrid = model.__dict__["_hybrid"]
    assert len(hybrid.traced._cache) == 3
    np.testing.assert_allclose(out._array, again._array)
    model.hybridize(False)
    np.testing.assert_allclose(model(x)._array, out._array, rtol=1e-6, atol=1e-6)


def test_hybridized_module_still_trains_eagerly_when_gradients_are_wanted():
    model = _mlp().hybridize()
    x = hg.randn(3, 6)
    loss = model(x).sum()
    loss.backward()
    assert model[0].weight.grad is not None


def _branching(x):
    if x.sum() > 0:  # data-dependent control flow
        return x
    return -x


def test_data_dependent_control_flow_names_the_line():
    with pytest.raises(TracingError) as error:
        hg.jit.trace(_branching, hg.ones(3))
    message = str(error.value)
    assert "test_trace.py" in message and "if x.sum() > 0" in message
    assert "bool()" in message


@pytest.mark.parametrize("call,what", [
    (lambda x: x.sum().item(), ".item()"),
    (lambda x: float(x.sum()), "float()"),
    (lambda x: x.numpy(), ".numpy()"),
    (lambda x: x.tolist(), ".tolist()"),
    (lambda x: np.asarray(x), "NumPy array"),
])
def test_concrete_value_requests_are_clear_errors(call, what):
    with pytest.raises(TracingError, match="test_trace.py:") as error:
        hg.jit.trace(call, hg.ones(3))
    assert what in str(error.value)


class _Dropout(hg.nn.Module):
    """Dropout written as the layer in hybridgrad.nn will be: a mask from the generator."""

    def forward(self, x):
        if not self.training:
            return x
        from hybridgrad.tensor import default_generator

        mask = default_generator().random(tuple(x.shape)) >= 0.5
        return x * hg.tensor(mask.astype(np.float32) * 2)


def test_random_draws_while_tracing_in_training_mode_are_refused():
    model = hg.nn.Sequential(hg.nn.Linear(3, 3), _Dropout())
    with pytest.raises(TracingError, match="random numbers.*frozen") as error:
        hg.jit.trace(model, hg.ones(2, 3))
    assert "test_trace.py" in str(error.value)
    # In evaluation mode dropout is the identity and traces fine.
    model.eval()
    traced = hg.jit.trace(model, hg.ones(2, 3))
    np.testing.assert_allclose(traced(hg.ones(2, 3))._array, model(hg.ones(2, 3))._array, rtol=1e-6)
    # The generator is restored after tracing.
    hg.rand(2)


def test_softmax_and_log_softmax_trace():
    f = hg.jit.trace(lambda x: hg.log_softmax(x, dim=1) + hg.softmax(x, dim=0), hg.ones(3, 4))
    x = hg.randn(3, 4)
    expected = hg.log_softmax(x, dim=1) + hg.softmax(x, dim=0)
    np.testing.assert_allclose(f(x)._array, expected._array, rtol=1e-5, atol=1e-6)


class _Normalize(hg.nn.Module):
    """Like batch norm in evaluation mode: array code on buffers."""

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", hg.zeros(3))

    def forward(self, x):
        return x - hg.Tensor._wrap(self.shift._array * 2)


def test_buffers_changed_after_tracing_trigger_a_new_trace():
    model = _Normalize()
    traced = hg.jit.trace(model, hg.ones(2, 3))
    np.testing.assert_allclose(traced(hg.ones(2, 3))._array, np.ones((2, 3)))
    model.shift._array[...] = 1.0  # in place, as running statistics are updated
    np.testing.assert_allclose(traced(hg.ones(2, 3))._array, -np.ones((2, 3)))


def test_array_code_on_parameters_while_tracing_is_a_clear_error():
    class Raw(hg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = hg.nn.Parameter(hg.ones(3))

        def forward(self, x):
            return x * (self.w.data * 2)

    with pytest.raises(TracingError, match=r"\.data of a symbol.*test_trace.py"):
        hg.jit.trace(Raw(), hg.ones(3))
