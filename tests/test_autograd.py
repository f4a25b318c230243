"""The backward engine: accumulation, modes, freed graphs, grad(), higher-order gradients."""

from __future__ import annotations

import contextvars
import threading

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.testing import gradcheck


def test_gradients_accumulate_into_leaves_until_cleared():
    w = hg.tensor(2.0, requires_grad=True)
    (w * w).backward()
    (w * 3).backward()
    assert w.grad.item() == 4.0 + 3.0
    w.grad = None
    (w * 3).backward()
    assert w.grad.item() == 3.0


def test_a_tensor_used_twice_gets_the_sum_of_both_paths():
    x = hg.tensor(3.0, requires_grad=True)
    y = x * x + x
    y.backward()
    assert x.grad.item() == 7.0


def test_broadcast_gradients_are_summed_back_to_the_input_shape():
    x = hg.ones(3, 1, requires_grad=True)
    b = hg.ones(4, requires_grad=True)
    (x + b).sum().backward()
    assert x.grad.shape == (3, 1) and x.grad.tolist() == [[4.0]] * 3
    assert b.grad.tolist() == [3.0] * 4


def test_leaf_gradients_own_writeable_unshared_memory():
    a = hg.ones(2, 2, requires_grad=True)
    b = hg.ones(2, 2, requires_grad=True)
    (a + b).sum().backward()
    assert a.grad._array.flags.writeable and b.grad._array.flags.writeable
    assert not np.shares_memory(a.grad._array, b.grad._array)
    a.grad._array *= 10  # An optimiser updating one gradient in place must not touch the other.
    assert b.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_user_gradient_is_not_aliased_by_the_leaf():
    x = hg.ones(2, requires_grad=True)
    seed = hg.tensor([1.0, 2.0])
    x.backward(seed)
    x.grad._array[0] = 99
    assert seed.tolist() == [1.0, 2.0]


def test_backward_on_non_scalar_without_gradient_is_a_clear_error():
    x = hg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(3,\)"):
        (x * 2).backward()
    (x * 2).backward(hg.ones(3))
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match=r"gradient has shape \(2,\)"):
        (x * 2).backward(hg.ones(2))


def test_second_backward_through_a_freed_graph_is_a_clear_error():
    x = hg.tensor(1.0, requires_grad=True)
    y = hg.exp(x) * 2
    y.backward()
    with pytest.raises(RuntimeError, match="freed graph.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = hg.tensor(1.0, requires_grad=True)
    y = x * 5
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 10.0


def test_backward_on_a_tensor_without_graph_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        hg.ones(1).sum().backward()


def test_no_grad_and_enable_grad():
    w = hg.tensor(1.0, requires_grad=True)
    with hg.no_grad():
        assert not (w * 2).requires_grad
        assert not hg.is_grad_enabled()
        with hg.enable_grad():
            assert (w * 2).requires_grad
    assert hg.is_grad_enabled()

    @hg.no_grad()
    def step():
        return w * 2

    assert not step().requires_grad


def test_grad_mode_is_per_context_not_global():
    results = {}

    def worker():
        results["thread"] = hg.is_grad_enabled()

    with hg.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        results["copied_context"] = contextvars.copy_context().run(hg.is_grad_enabled)
    assert results == {"thread": True, "copied_context": False}


def test_integer_and_comparison_results_do_not_require_grad():
    x = hg.tensor([1.0, -1.0], requires_grad=True)
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    with pytest.raises(RuntimeError, match="floating-point"):
        hg.tensor([1, 2]).requires_grad_()


def test_detach_and_is_leaf():
    x = hg.tensor(2.0, requires_grad=True)
    y = x * 3
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d._array is y._array


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = hg.tensor(2.0, requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).backward()
    assert y.grad.item() == 12.0 and x.grad.item() == 36.0


def test_autograd_grad_returns_without_accumulating():
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = hg.autograd.grad((x ** 3).sum(), x)
    assert g.tolist() == [3.0, 12.0]
    assert x.grad is None


def test_grad_outputs_and_unused_inputs():
    x = hg.tensor([1.0, 2.0], requires_grad=True)
    z = hg.tensor(1.0, requires_grad=True)
    (g,) = hg.autograd.grad(x * 2, x, grad_outputs=hg.tensor([1.0, 10.0]))
    assert g.tolist() == [2.0, 20.0]
    with pytest.raises(RuntimeError, match="not used"):
        hg.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = hg.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.tolist() == [2.0, 2.0]


def test_second_derivative():
    x = hg.tensor(0.7, dtype=hg.float64, requires_grad=True)
    y = hg.sin(x) * x ** 3
    (dy,) = hg.autograd.grad(y, x, create_graph=True)
    (d2y,) = hg.autograd.grad(dy, x)
    value = 0.7
    expected_first = np.cos(value) * value**3 + 3 * value**2 * np.sin(value)
    expected_second = (-np.sin(value) * value**3 + 6 * value**2 * np.cos(value)
                       + 6 * value * np.sin(value))
    assert abs(dy.item() - expected_first) < 1e-12
    assert abs(d2y.item() - expected_second) < 1e-12


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((3, 3))
    symmetric = matrix + matrix.T
    a = hg.tensor(symmetric)
    x = hg.tensor(rng.standard_normal(3), requires_grad=True)
    v = hg.tensor(rng.standard_normal(3))
    # f(x) = 1/2 x^T A x + sum(x^4): Hessian A + diag(12 x^2).
    f = 0.5 * (x @ (a @ x)) + (x ** 4).sum()
    (g,) = hg.autograd.grad(f, x, create_graph=True)
    (hv,) = hg.autograd.grad((g * v).sum(), x)
    hessian = symmetric + np.diag(12 * x.numpy() ** 2)
    np.testing.assert_allclose(hv.numpy(), hessian @ v.numpy(), rtol=1e-10)


def test_gradient_of_gradient_via_backward_create_graph():
    x = hg.tensor(2.0, dtype=hg.float64, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    first = x.grad
    assert first.item() == 12.0 and first.requires_grad
    x.grad = None
    first.backward()
    assert x.grad.item() == 12.0  # d/dx 3x^2 = 6x


def test_detect_anomaly_names_the_operator():
    x = hg.tensor([0.0], requires_grad=True)
    with hg.autograd.detect_anomaly():
        y = hg.sqrt(x)
        with pytest.raises(FloatingPointError, match="sqrt: backward produced NaN/Inf"):
            y.sum().backward()


def test_prod_gradient_with_zeros():
    x = hg.tensor([2.0, 0.0, 3.0], dtype=hg.float64, requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]
    y = hg.tensor([0.0, 0.0, 3.0], dtype=hg.float64, requires_grad=True)
    y.prod().backward()
    assert y.grad.tolist() == [0.0, 0.0, 0.0]
    assert gradcheck(lambda t: t.prod(dim=1), [hg.tensor([[0.0, 2.0], [1.5, 0.5]],
                                                         dtype=hg.float64, requires_grad=True)])


def test_max_gradient_is_shared_between_ties():
    x = hg.tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]


def test_float32_gradients_keep_the_leaf_dtype():
    w = hg.ones(2, requires_grad=True)
    (w * hg.ones(2, dtype=hg.float64)).sum().backward()
    assert w.grad.dtype == hg.float32


def test_cat_records_a_copy_of_the_input_list():
    x = hg.ones(2, requires_grad=True)
    pieces = [x, x * 2]
    out = hg.cat(pieces)
    pieces.append(hg.ones(3))
    out.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
