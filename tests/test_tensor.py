"""The eager Tensor: creation functions, attributes, conversions, repr, seeding."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg


def test_tensor_dtypes_follow_pytorch():
    assert hg.tensor(1.5).dtype == hg.float32
    assert hg.tensor([1, 2]).dtype == hg.int64
    assert hg.tensor([True]).dtype == hg.bool
    assert hg.tensor(np.ones(2)).dtype == hg.float64  # NumPy data keeps its dtype
    assert hg.tensor(0.7, dtype=hg.float64).item() == 0.7  # no float32 round trip
    assert hg.tensor([1, 2], dtype=hg.float32).dtype == hg.float32


def test_tensor_copies_but_from_numpy_shares():
    array = np.zeros(2)
    copied, shared = hg.tensor(array), hg.from_numpy(array)
    array[0] = 5
    assert copied.tolist() == [0.0, 0.0] and shared.tolist() == [5.0, 0.0]


def test_creation_functions():
    assert hg.zeros(2, 3).shape == (2, 3) and hg.zeros((2, 3)).dtype == hg.float32
    assert hg.ones(2, dtype=hg.int64).tolist() == [1, 1]
    assert hg.full((2,), 1.5).tolist() == [1.5, 1.5] and hg.full((1,), 3).dtype == hg.int64
    assert hg.zeros_like(hg.ones(2, dtype=hg.float64)).dtype == hg.float64
    assert hg.ones_like(hg.zeros(3)).tolist() == [1.0, 1.0, 1.0]
    assert hg.arange(4).tolist() == [0, 1, 2, 3] and hg.arange(4).dtype == hg.int64
    assert hg.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    assert hg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert hg.zeros(2, requires_grad=True).requires_grad


def test_manual_seed_makes_rand_and_randn_reproducible():
    hg.manual_seed(123)
    first = (hg.rand(3).tolist(), hg.randn(2, 2).tolist())
    hg.manual_seed(123)
    second = (hg.rand(3).tolist(), hg.randn(2, 2).tolist())
    assert first == second
    assert hg.randn(2).dtype == hg.float32 and hg.rand(2, dtype=hg.float64).dtype == hg.float64
    hg.manual_seed(124)
    assert hg.rand(3).tolist() != first[0]


def test_attributes():
    x = hg.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and len(x) == 2
    assert x.requires_grad is False and x.grad is None and x.is_leaf


def test_conversions():
    x = hg.tensor([[1.0, 2.0]])
    assert x.tolist() == [[1.0, 2.0]]
    assert isinstance(x.numpy(), np.ndarray) and np.asarray(x) is x._array
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert hg.tensor(3.5).item() == 3.5 and float(hg.tensor([2.0])) == 2.0
    assert int(hg.tensor(7)) == 7
    with pytest.raises(ValueError, match=r"one-element.*shape \(1, 2\)"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


def test_numpy_on_a_graph_tensor_asks_for_detach():
    y = hg.tensor(1.0, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.numpy()
    assert y.detach().numpy() == 2.0


def test_repr():
    # PyTorch's layout: four decimals, "1." when all values are integral, columns aligned.
    assert repr(hg.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(hg.tensor([1.5, -10.25])) == "tensor([  1.5000, -10.2500])"
    assert repr(hg.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert repr(hg.tensor([100.0, 2.0])) == "tensor([100.,   2.])"
    assert repr(hg.tensor([float("nan"), 1.5])) == "tensor([   nan, 1.5000])"
    assert repr(hg.tensor([[1.5, -2.25], [3.0, 4.0]])) == ("tensor([[ 1.5000, -2.2500],\n"
                                                           "        [ 3.0000,  4.0000]])")
    assert repr(hg.tensor(3)) == "tensor(3)"
    assert repr(hg.tensor([1.0], dtype=hg.float64)) == "tensor([1.], dtype=float64)"
    assert repr(hg.tensor(1.0, requires_grad=True)) == "tensor(1., requires_grad=True)"
    assert "grad_fn=<mulBackward>" in repr(hg.tensor(1.0, requires_grad=True) * 2)


def test_in_place_updates_need_no_grad():
    w = hg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.copy_(hg.zeros(2))
    with hg.no_grad():
        w.copy_(hg.zeros(2))
        w[0] = 5.0
    assert w.tolist() == [5.0, 0.0]


def test_numpy_arrays_on_the_left_defer_to_tensors():
    result = np.ones(2) + hg.ones(2, requires_grad=True)
    assert isinstance(result, hg.Tensor) and result.requires_grad


def test_methods_mirror_functions():
    x = hg.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert x.abs().tolist() == hg.abs(x).tolist()
    assert x.clamp(min=0).tolist() == [[1.0, 0.0], [3.0, 4.0]]
    assert x.relu().tolist() == [[1.0, 0.0], [3.0, 4.0]]
    assert x.softmax(dim=1).shape == (2, 2)
    assert x.to(hg.float64).dtype == hg.float64 and x.long().dtype == hg.int64
    assert x.gather(1, hg.tensor([[1], [0]])).tolist() == [[-2.0], [3.0]]


def test_assigning_grad_checks_type_and_size_as_pytorch_does():
    # The tutorial habit `a.grad = 0.` fails in PyTorch at the assignment, not at the next backward.
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or None but got grad of type float"):
        w.grad = 0.0
    with pytest.raises(RuntimeError, match=r"different size: \[3\] for a tensor of size \[2\]"):
        w.grad = hg.zeros(3)
    w.grad = hg.ones(2)
    (w * w).sum().backward()
    assert w.grad.tolist() == [3.0, 5.0]
    w.grad = None
    assert w.grad is None
