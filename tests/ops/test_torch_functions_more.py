"""The rarer PyTorch functions and Tensor methods (api_shape, tensor_extras): values against
NumPy or by hand, gradient checks of the differentiable compositions."""

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.testing import gradcheck


def f64(values, requires_grad=True):
    return hg.tensor(values, dtype=hg.float64, requires_grad=requires_grad)


def test_stacking_and_splitting_match_numpy():
    a, b = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    ta, tb = hg.tensor(a), hg.tensor(b)
    assert hg.hstack([ta, tb]).tolist() == np.hstack([a, b]).tolist()
    assert hg.vstack([ta, tb]).tolist() == np.vstack([a, b]).tolist()
    assert hg.dstack([ta, tb]).tolist() == np.dstack([a, b]).tolist()
    assert hg.column_stack([hg.tensor([1, 2]), hg.tensor([3, 4])]).tolist() == [[1, 3], [2, 4]]
    assert [t.tolist() for t in hg.tensor_split(hg.arange(7), 3)] == \
        [x.tolist() for x in np.array_split(np.arange(7), 3)]
    assert [t.tolist() for t in hg.tensor_split(hg.arange(6), [1, 4])] == [[0], [1, 2, 3], [4, 5]]
    assert hg.atleast_3d(hg.tensor(1.0)).shape == (1, 1, 1)
    assert hg.concat([ta, tb], 1).shape == (2, 6)


def test_select_rot90_unfold_kron_cartesian():
    x = np.arange(12).reshape(3, 4)
    t = hg.tensor(x)
    assert t.select(0, 1).tolist() == x[1].tolist()
    for k in range(4):
        assert hg.rot90(t, k).tolist() == np.rot90(x, k).tolist()
    windows = hg.arange(10.0).unfold(0, 3, 2)
    assert windows.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8]]
    assert t.unfold(1, 2, 2).shape == (3, 2, 2) and t.unfold(1, 2, 2)[1, 1].tolist() == [6, 7]
    assert hg.kron(hg.tensor([[1, 2], [3, 4]]), hg.tensor([[0, 1], [1, 0]])).tolist() == \
        np.kron([[1, 2], [3, 4]], [[0, 1], [1, 0]]).tolist()
    assert hg.cartesian_prod(hg.tensor([1, 2]), hg.tensor([5, 6, 7])).shape == (6, 2)
    assert gradcheck(lambda v: v.unfold(0, 2, 1).sum(1) * hg.rot90(v.reshape(2, 2)).reshape(-1)[
        :3], [f64([1.0, 2.0, 3.0, 4.0])])


def test_more_math_matches_numpy_and_gradchecks():
    x = np.array([0.3, 1.5, -2.0])
    y = np.array([1.2, -0.4, 2.5])
    tx, ty = hg.tensor(x), hg.tensor(y)
    np.testing.assert_allclose(hg.hypot(tx, ty).tolist(), np.hypot(x, y))
    np.testing.assert_allclose(hg.sinc(tx).tolist(), np.sinc(x))
    np.testing.assert_allclose(hg.deg2rad(tx).tolist(), np.deg2rad(x))
    np.testing.assert_allclose(hg.logaddexp2(tx, ty).tolist(), np.logaddexp2(x, y))
    np.testing.assert_allclose(hg.logcumsumexp(tx, 0).tolist(), np.log(np.cumsum(np.exp(x))))
    np.testing.assert_allclose(hg.xlogy(tx, hg.tensor(np.abs(y))).tolist(), x * np.log(abs(y)))
    assert hg.cummin(tx, 0).values.tolist() == [0.3, 0.3, -2.0]
    assert hg.copysign(tx, ty).tolist() == np.copysign(x, y).tolist()
    assert hg.fmax(hg.tensor([1.0, float("nan")]), hg.tensor([float("nan"), 2.0])).tolist() == \
        [1.0, 2.0]
    std, mean = hg.std_mean(tx)
    assert mean.item() == pytest.approx(x.mean()) and std.item() == pytest.approx(x.std(ddof=1))
    minimum, maximum = hg.aminmax(tx)
    assert (minimum.item(), maximum.item()) == (-2.0, 1.5)
    assert hg.trapezoid(hg.tensor([1.0, 2.0, 3.0]), hg.tensor([0.0, 1.0, 3.0])).item() == 6.5
    assert hg.isin(hg.tensor([1, 2, 3]), hg.tensor([3])).tolist() == [False, False, True]
    assert hg.tril_indices(3, 3).tolist() == [list(v) for v in np.tril_indices(3)]
    for function in (hg.hypot, hg.logaddexp2, lambda a, b: hg.xlogy(a, b * b + 1)):
        assert gradcheck(function, [f64(x), f64(y)])
    for function in (hg.sinc, lambda v: hg.logcumsumexp(v, 0), hg.logit):
        assert gradcheck(function, [f64([0.2, 0.45, 0.7])])
    assert math.isclose(hg.logit(hg.tensor([0.75])).item(), math.log(3), rel_tol=1e-6)


def test_generated_inplace_twins():
    x = hg.tensor([0.5, 1.0])
    assert x.clone().sin_().tolist() == hg.sin(x).tolist()
    assert x.clone().atan2_(hg.tensor([1.0, 1.0])).tolist() == hg.atan2(x, hg.ones(2)).tolist()
    m = hg.ones(3, 3)
    assert m.tril_().tolist() == np.tril(np.ones((3, 3))).tolist() and m._version == 1
    flags = hg.tensor([1.0, 2.0])
    assert flags.eq_(hg.tensor([1.0, 0.0])).tolist() == [1.0, 0.0]
    w = hg.tensor([0.5, 1.5], requires_grad=True)
    h = w * 2
    h.sin_()
    h.sum().backward()
    np.testing.assert_allclose(w.grad.tolist(), 2 * np.cos(2 * np.array([0.5, 1.5])), rtol=1e-6)


def test_index_copy_masked_scatter_put():
    x = hg.zeros(3, 2)
    assert x.index_copy(0, hg.tensor([2, 0]), hg.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist() == \
        [[3.0, 4.0], [0.0, 0.0], [1.0, 2.0]]
    mask = hg.tensor([[True, False], [False, True], [True, True]])
    assert x.masked_scatter(mask, hg.arange(1.0, 7.0)).tolist() == \
        [[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]
    flat = hg.zeros(2, 2)
    flat.put_(hg.tensor([3, 0]), hg.tensor([9.0, 8.0]))
    assert flat.tolist() == [[8.0, 0.0], [0.0, 9.0]]
    assert gradcheck(lambda a, s: a.index_copy(0, hg.tensor([1]), s),
                     [f64([[1.0, 2.0], [3.0, 4.0]]), f64([[5.0, 6.0]])])


def test_inplace_shape_changes_outside_the_graph():
    x = hg.arange(6.0)
    alias = x
    x.unsqueeze_(0)
    assert alias.shape == (1, 6)
    x.squeeze_().resize_(2, 3)
    assert x.shape == (2, 3) and x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    x.t_()
    assert x.shape == (3, 2)
    with pytest.raises(RuntimeError, match="requires grad"):
        hg.ones(2, requires_grad=True).unsqueeze_(0)


def test_queries_and_apply():
    x = hg.tensor([1.0, 2.0])
    assert x.pin_memory() is x and not x.is_pinned() and not x.is_shared()
    assert x.name is None and not x.retains_grad and x.is_same_size(hg.zeros(2))
    assert x.clone().apply_(lambda v: v * 10).tolist() == [10.0, 20.0]
    assert x.sum_to_size(1).tolist() == [3.0]
    with pytest.raises(TypeError, match="bfloat16"):
        x.bfloat16()
    assert hg.tensor([0.0]).is_nonzero() is False


def test_alpha_and_out_keywords():
    a, b = hg.tensor([1.0, 2.0]), hg.tensor([10.0, 20.0])
    assert hg.add(a, b, alpha=0.5).tolist() == [6.0, 12.0]
    assert hg.sub(a, b, alpha=0.1).tolist() == [0.0, 0.0]
    buffer = hg.zeros(2)
    view = buffer.data
    assert hg.mul(a, b, out=buffer) is buffer and view.tolist() == [10.0, 40.0]
    assert buffer._version == 1
    matrix = hg.zeros(1, 1)
    hg.matmul(hg.ones(1, 2), hg.ones(2, 1), out=matrix)
    assert matrix.tolist() == [[2.0]]
    resized = hg.zeros(1)
    hg.cat([a, b], out=resized)
    assert resized.tolist() == [1.0, 2.0, 10.0, 20.0]
    assert hg.sum(a, out=hg.zeros(())).item() == 3.0
    w = hg.tensor([1.0], requires_grad=True)
    hg.add(w, w, alpha=3).backward()
    assert w.grad.tolist() == [4.0]


def test_process_switches_and_constants():
    layer = hg.nn.Linear(2, 2)
    assert hg.compile(layer) is layer and hg.compile()(len) is len
    hg.use_deterministic_algorithms(True)
    try:
        assert hg.are_deterministic_algorithms_enabled()
    finally:
        hg.use_deterministic_algorithms(False)
    with pytest.raises(RuntimeError, match="precision"):
        hg.set_float32_matmul_precision("low")
    with pytest.raises(AssertionError, match="CUDA"):
        hg.set_default_device("cuda")
    assert hg.pi == math.pi and hg.inf == float("inf") and hg.newaxis is None
    assert hg.typename(hg.zeros(1, dtype=hg.float64)) == "torch.DoubleTensor"
    assert hg.scalar_tensor(2).dtype == np.float32 and hg.scalar_tensor(2).shape == ()
    source = np.zeros(2)
    assert hg.asarray(source)._array is source
    assert hg.asarray(source, copy=True)._array is not source


def test_composed_methods_trace_symbolically():
    # The composition methods live on the operator mixin, so hg.jit.trace (and hybridize, ONNX
    # export) can follow a PyTorch-style forward that uses them.
    def forward(x, y):
        mask = x.gt(0.5)
        z = x.masked_fill(mask, 0.0).view_as(y).t().flip(0)
        w = z.floor() + z.log1p() + z.clamp_min(0.1).rsqrt() + z.norm(dim=1, keepdim=True)
        return w.tril().mm(y) + hg.tensor(1.0).add(y.narrow(0, 0, 3).sum(), alpha=2)

    traced = hg.jit.trace(forward, [hg.ones(3, 3), hg.ones(3, 3)])
    x, y = hg.rand(3, 3), hg.rand(3, 3)
    np.testing.assert_allclose(traced(x, y)._array, forward(x, y)._array, rtol=1e-5)


def test_method_and_functional_forms_at_top_level():
    x = hg.tensor([-1.0, 2.0])
    assert hg.clone(x)._array is not x._array and hg.clone(x).tolist() == x.tolist()
    y = x.clone()
    assert hg.relu_(y) is y and y.tolist() == [0.0, 2.0]
    assert hg.t(hg.ones(2, 3)).shape == (3, 2) and hg.nansum(hg.tensor([float("nan"), 1.0])) == 1
    assert hg.conv2d is hg.nn.functional.conv2d and hg.dropout is hg.nn.functional.dropout
    assert hg.greater(x, 0).tolist() == [False, True]
    assert hg.concatenate([hg.ones(1), hg.zeros(1)], axis=0).tolist() == [1.0, 0.0]
