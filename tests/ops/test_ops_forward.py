"""Forward results against NumPy, dtype rules, indexing (repeated indices, masks), errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import hybridgrad as hg
from hybridgrad.ops import OpError

UNARY = {
    "neg": (hg.neg, np.negative),
    "exp": (hg.exp, np.exp),
    "log": (hg.log, np.log),
    "sqrt": (hg.sqrt, np.sqrt),
    "abs": (hg.abs, np.abs),
    "sign": (hg.sign, np.sign),
    "sin": (hg.sin, np.sin),
    "cos": (hg.cos, np.cos),
    "tanh": (hg.tanh, np.tanh),
    "sigmoid": (hg.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "relu": (hg.relu, lambda a: np.maximum(a, 0)),
    "softplus": (hg.softplus, lambda a: np.log1p(np.exp(a))),
}

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: hg.abs(a) ** b, lambda a, b: np.abs(a) ** b),
    "maximum": (hg.maximum, np.maximum),
    "minimum": (hg.minimum, np.minimum),
    "lt": (lambda a, b: a < b, np.less),
    "ge": (lambda a, b: a >= b, np.greater_equal),
    "eq": (lambda a, b: a == b, np.equal),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@settings(max_examples=10, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 999))
def test_unary_matches_numpy(name, shape, seed):
    ours, reference = UNARY[name]
    values = np.random.default_rng(seed).uniform(0.1, 3.0, size=shape)
    result = ours(hg.tensor(values, dtype=hg.float64))
    np.testing.assert_allclose(result.numpy(), reference(values), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=10, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 999))
def test_binary_matches_numpy_with_broadcasting(name, shapes, seed):
    ours, reference = BINARY[name]
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, size=shapes.input_shapes[0])
    b = rng.uniform(0.5, 2.0, size=shapes.input_shapes[1])
    result = ours(hg.tensor(a, dtype=hg.float64), hg.tensor(b, dtype=hg.float64))
    assert result.shape == shapes.result_shape
    np.testing.assert_allclose(result.numpy(), reference(a, b), rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 999),
       data=st.data())
def test_reductions_match_numpy(shape, seed, data):
    values = np.random.default_rng(seed).standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    x = hg.tensor(values, dtype=hg.float64)
    checks = [
        (x.sum(dim, keepdim), values.sum(dim, keepdims=keepdim)),
        (x.mean(dim=dim, keepdim=keepdim), values.mean(dim, keepdims=keepdim)),
        (x.prod(dim, keepdim), values.prod(dim, keepdims=keepdim)),
        (x.amax(dim, keepdim), values.max(dim, keepdims=keepdim)),
        (x.min(dim, keepdim).values, values.min(dim, keepdims=keepdim)),
        (x.argmax(dim, keepdim), values.argmax(dim, keepdims=keepdim)),
        (x.argmin(dim), values.argmin(dim)),
        (x.var(dim, keepdim=keepdim, unbiased=False), values.var(dim, keepdims=keepdim)),
        (x.logsumexp(dim, keepdim),
         np.log(np.exp(values).sum(dim, keepdims=keepdim))),
        (hg.softmax(x, dim), np.exp(values) / np.exp(values).sum(dim, keepdims=True)),
        (hg.log_softmax(x, dim),
         values - np.log(np.exp(values).sum(dim, keepdims=True))),
    ]
    if shape[dim] > 1:
        checks.append((x.std(dim, keepdim=keepdim), values.std(dim, ddof=1, keepdims=keepdim)))
    for ours, reference in checks:
        np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-10, atol=1e-12)


def test_axis_and_keepdims_are_accepted_as_numpy_aliases():
    x = hg.arange(6.0).reshape(2, 3)
    assert x.sum(axis=1, keepdims=True).tolist() == [[3.0], [12.0]]
    assert hg.mean(x, axis=0).tolist() == [1.5, 2.5, 3.5]
    assert x.max(axis=1).values.tolist() == [2.0, 5.0]


def test_softmax_and_logsumexp_are_stable_for_huge_inputs():
    x = hg.tensor([1000.0, 1000.0, -1000.0])
    assert np.allclose(hg.softmax(x).numpy(), [0.5, 0.5, 0.0])
    assert np.isfinite(hg.log_softmax(x).numpy()).all()
    assert abs(hg.logsumexp(x, dim=0).item() - (1000 + np.log(2))) < 1e-3


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(["vv", "vm", "mv", "mm", "batched", "broadcast"]),
       seed=st.integers(0, 999))
def test_matmul_matches_numpy(kind, seed):
    rng = np.random.default_rng(seed)
    shapes = {"vv": ((3,), (3,)), "vm": ((3,), (3, 2)), "mv": ((2, 3), (3,)),
              "mm": ((2, 3), (3, 4)), "batched": ((5, 2, 3), (5, 3, 4)),
              "broadcast": ((2, 1, 2, 3), (4, 3, 2))}[kind]
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    np.testing.assert_allclose((hg.tensor(a) @ hg.tensor(b)).numpy(), a @ b, rtol=1e-12)


def test_matmul_with_a_broadcast_gradient_is_correct():
    # sum()'s gradient is a broadcast array; matmul copies zero-stride operands for BLAS.
    a = hg.randn(3, 4, requires_grad=True, dtype=hg.float64)
    b = hg.randn(4, 5, requires_grad=True, dtype=hg.float64)
    (a @ b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((3, 5)) @ b.numpy().T)
    np.testing.assert_allclose(b.grad.numpy(), a.numpy().T @ np.ones((3, 5)))


def test_shape_functions_match_numpy():
    values = np.arange(24.0).reshape(2, 3, 4)
    x = hg.tensor(values, dtype=hg.float64)
    assert np.array_equal(x.reshape(4, -1).numpy(), values.reshape(4, -1))
    assert np.array_equal(x.view(-1).numpy(), values.reshape(-1))
    assert np.array_equal(x.flatten(1).numpy(), values.reshape(2, 12))
    assert np.array_equal(x.permute(2, 0, 1).numpy(), values.transpose(2, 0, 1))
    assert np.array_equal(x.transpose(0, 2).numpy(), values.swapaxes(0, 2))
    assert np.array_equal(x.T.numpy(), values.T)
    assert np.array_equal(x[:, :1].squeeze(1).numpy(), values[:, 0])
    assert np.array_equal(x.unsqueeze(-1).numpy(), values[..., None])
    assert np.array_equal(x[:1].expand(3, -1, -1).numpy(), np.broadcast_to(values[:1], (3, 3, 4)))
    assert np.array_equal(x.broadcast_to(2, 2, 3, 4).numpy(), np.broadcast_to(values, (2, 2, 3, 4)))
    assert np.array_equal(x.repeat(1, 2, 1, 3).numpy(), np.tile(values, (1, 2, 1, 3)))
    assert np.array_equal(hg.cat([x, x], dim=1).numpy(), np.concatenate([values, values], 1))
    assert np.array_equal(hg.stack([x, x], dim=-1).numpy(), np.stack([values, values], -1))
    assert [p.shape for p in x.split([1, 3], dim=2)] == [(2, 3, 1), (2, 3, 3)]
    assert [p.shape for p in x.chunk(2, dim=1)] == [(2, 2, 4), (2, 1, 4)]
    assert np.array_equal(hg.pad(x, (1, 2, 0, 1), value=-1).numpy(),
                          np.pad(values, ((0, 0), (0, 1), (1, 2)), constant_values=-1))


def test_gather_and_scatter_add_follow_pytorch():
    x = hg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    index = hg.tensor([[2, 0], [1, 1]])
    assert hg.gather(x, 1, index).tolist() == [[3.0, 1.0], [5.0, 5.0]]
    out = hg.scatter_add(hg.zeros(2, 3), 1, index, hg.ones(2, 2))
    assert out.tolist() == [[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]]


# Indexing.


@pytest.mark.parametrize("index", [
    1, -1, slice(None, None, 2), slice(3, 0, -1), (Ellipsis, 1), (None, 0), (slice(None), None),
    (1, slice(0, 3, 2)), ([0, 0, 2],), (np.array([1, 1]), np.array([0, 3])),
    (slice(None), [3, 3, 0]), (Ellipsis, None, 2),
])
def test_getitem_matches_numpy(index):
    values = np.arange(12.0).reshape(3, 4)
    ours = hg.tensor(values, dtype=hg.float64)[index]
    assert np.array_equal(ours.numpy(), values[index])


def test_repeated_indices_accumulate_in_backward():
    x = hg.zeros(4, requires_grad=True)
    x[hg.tensor([0, 0, 3, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 0.0, 1.0]


def test_two_dimensional_repeated_indices_accumulate():
    x = hg.zeros(2, 3, requires_grad=True)
    y = x[[0, 0, 1], [2, 2, 0]]
    (y * hg.tensor([1.0, 2.0, 5.0])).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 3.0], [5.0, 0.0, 0.0]]


def test_boolean_mask_selects_and_scatters_back():
    x = hg.tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    mask = x > 0
    picked = x[mask]
    assert picked.tolist() == [1.0, 4.0]
    (picked * 3).sum().backward()
    assert x.grad.tolist() == [[3.0, 0.0], [0.0, 3.0]]


def test_index_errors_are_clear():
    with pytest.raises(OpError, match=r"getitem: .*shape \(3,\)"):
        hg.zeros(3)[5]
    with pytest.raises(IndexError, match="integer or bool"):
        hg.zeros(3)[hg.tensor([0.5])]


# Dtype rules (PyTorch's, with Python scalars "weak").


@pytest.mark.parametrize("make, expected", [
    (lambda: hg.ones(2) * 2.5, hg.float32),
    (lambda: hg.ones(2) * 2, hg.float32),
    (lambda: hg.tensor([1, 2]) * 2.5, hg.float32),
    (lambda: hg.tensor([1, 2]) * 2, hg.int64),
    (lambda: hg.tensor([1, 2]) / 2, hg.float32),
    (lambda: hg.tensor([True]) + 1, hg.int64),
    (lambda: hg.ones(1) + hg.ones(1, dtype=hg.float64), hg.float64),
    (lambda: hg.tensor([1]) + hg.ones(1), hg.float32),
    (lambda: hg.exp(hg.tensor([1])), hg.float32),
    (lambda: hg.tensor([1, 2]).mean(), hg.float32),
    (lambda: hg.tensor([True, True]).sum(), hg.int64),
    (lambda: 2.0 ** hg.tensor([1]), hg.float32),
    (lambda: hg.ones(1, dtype=hg.float64) * 2.5, hg.float64),
    (lambda: hg.ones(1) > 0, hg.bool),
])
def test_result_dtypes(make, expected):
    assert make().dtype == expected


def test_errors_name_operator_and_shapes():
    with pytest.raises(OpError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        hg.ones(2, 3) + hg.ones(4)
    with pytest.raises(OpError, match=r"matmul: shapes \(2, 3\) and \(4, 2\) are not aligned"):
        hg.ones(2, 3) @ hg.ones(4, 2)
    with pytest.raises(OpError, match=r"matmul"):
        hg.ones(()) @ hg.ones(2)
    with pytest.raises(OpError, match=r"reshape"):
        hg.ones(2, 3).reshape(4, 2)
    with pytest.raises(OpError, match=r"cat: shapes"):
        hg.cat([hg.ones(2, 3), hg.ones(3, 2)])
    with pytest.raises(ValueError, match="stack"):
        hg.stack([hg.ones(2), hg.ones(3)])


def test_unsupported_dtypes_are_clear_errors():
    with pytest.raises(TypeError, match="unsupported data type"):
        hg.tensor(["a", "b"])
    with pytest.raises(TypeError, match="unsupported scalar"):
        hg.ones(2) + "x"
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        hg.tensor([1, 2], requires_grad=True)
    with pytest.raises(OpError, match="gather: index must be an integer tensor"):
        hg.gather(hg.ones(2, 2), 1, hg.ones(2, 2))


def test_erf_is_accurate_and_independent_of_array_size():
    import math

    values = np.linspace(-4, 4, 10001)
    exact = np.array([math.erf(v) for v in values])
    np.testing.assert_allclose(hg.erf(hg.tensor(values)).numpy(), exact, rtol=0, atol=1e-15)
    large = hg.erf(hg.tensor(values, dtype=hg.float32)).numpy()
    assert np.max(np.abs(large - exact)) < 3e-7
    small = hg.erf(hg.tensor(values[:10], dtype=hg.float32)).numpy()
    assert np.array_equal(small, large[:10])


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    x = hg.tensor([[-np.inf, -np.inf], [0.0, 0.0]])
    assert hg.logsumexp(x, dim=1).tolist() == [-np.inf, float(np.log(2.0, dtype=np.float32))]


def test_scalar_that_does_not_fit_the_dtype_is_a_clear_error():
    with pytest.raises(OpError, match=r"add: the Python scalar 300 does not fit .* uint8"):
        hg.tensor([1], dtype=hg.uint8) + 300
