"""PyTorch's functions and Tensor methods added for unmodified programs: values against
hand-computed results or NumPy, gradients of the compositions against finite differences."""

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.testing import gradcheck


def f64(values, requires_grad=True):
    return hg.tensor(values, dtype=hg.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("name, numpy_function", [
    ("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc), ("tan", np.tan),
    ("asin", np.arcsin), ("acos", np.arccos), ("atan", np.arctan), ("sinh", np.sinh),
    ("cosh", np.cosh), ("log1p", np.log1p), ("expm1", np.expm1), ("log2", np.log2),
    ("log10", np.log10), ("exp2", np.exp2), ("rsqrt", lambda a: 1 / np.sqrt(a)),
    ("reciprocal", np.reciprocal), ("square", np.square), ("frac", lambda a: a - np.trunc(a)),
])
def test_unary_functions_and_methods_agree_with_numpy(name, numpy_function):
    values = np.array([0.1, 0.45, 0.9])
    x = hg.tensor(values, dtype=hg.float64)
    expected = numpy_function(values)
    np.testing.assert_allclose(getattr(hg, name)(x).tolist(), expected, rtol=1e-12)
    np.testing.assert_allclose(getattr(x, name)().tolist(), expected, rtol=1e-12)


def test_round_half_to_even_and_decimals():
    x = hg.tensor([0.5, 1.5, 2.5, -0.5, 1.2345])
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, 1.0]
    np.testing.assert_allclose(hg.round(x, decimals=2).tolist()[-1], 1.23, rtol=1e-6)


@pytest.mark.parametrize("name", ["atan2", "logaddexp"])
def test_binary_compositions_gradcheck(name):
    y = f64([1.0, -1.0, 0.5, -0.3, 2.0])
    x = f64([1.0, -2.0, -0.7, 0.4, 0.1])
    assert gradcheck(getattr(hg, name), [y, x])


def test_atan2_matches_numpy_in_every_quadrant_and_on_the_axes():
    ys = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 2.0, -2.0, 0.0])
    xs = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(hg.atan2(hg.tensor(ys), hg.tensor(xs)).tolist(),
                               np.arctan2(ys, xs), rtol=1e-6, atol=1e-7)


def test_log1p_expm1_gradients_and_accuracy():
    x = f64([1e-12, 0.3, 2.0])
    assert gradcheck(hg.log1p, [x]) and gradcheck(hg.expm1, [x])
    assert hg.log1p(x).tolist()[0] == np.log1p(1e-12)


def test_division_rounding_modes_and_remainders():
    a, b = hg.tensor([-7, 7, -6, 5]), hg.tensor([2, -2, 3, 5])
    assert hg.div(a, b, rounding_mode="floor").tolist() == [-4, -4, -2, 1]
    assert hg.div(a, b, rounding_mode="trunc").tolist() == [-3, -3, -2, 1]
    assert (a // 2).tolist() == [-4, 3, -3, 2]
    assert (a % 3).tolist() == [2, 1, 0, 2]
    assert hg.fmod(a, 3).tolist() == [-1, 1, 0, 2]
    floats = hg.tensor([-7.5, 7.5])
    assert hg.div(floats, 2, rounding_mode="floor").tolist() == [-4.0, 3.0]
    assert floats.div(2).tolist() == [-3.75, 3.75]
    with pytest.raises(ValueError, match="rounding_mode"):
        hg.div(a, b, rounding_mode="nearest")


def test_bitwise_and_logical_operators():
    a, b = hg.tensor([6, 5]), hg.tensor([3, 1])
    assert (a & b).tolist() == [2, 1] and (a | b).tolist() == [7, 5]
    assert (a ^ b).tolist() == [5, 4] and (~a).tolist() == [-7, -6]
    assert (a << 1).tolist() == [12, 10] and (a >> 1).tolist() == [3, 2]
    p, q = hg.tensor([True, False]), hg.tensor([True, True])
    assert (p & q).tolist() == [True, False] and (p ^ q).tolist() == [False, True]
    assert (~p).tolist() == [False, True] and p.logical_xor(q).tolist() == [False, True]
    with pytest.raises(RuntimeError, match="bitwise"):
        hg.bitwise_and(hg.ones(1), hg.ones(1))


def test_comparison_methods_and_tests():
    x = hg.tensor([1.0, float("inf"), -float("inf"), float("nan")])
    assert x.eq(1.0).tolist() == [True, False, False, False]
    assert x.ne(1.0).tolist()[0] is False
    assert x.isinf().tolist() == [False, True, True, False]
    assert hg.isposinf(x).tolist() == [False, True, False, False]
    assert x.isnan().tolist() == [False, False, False, True]
    assert hg.nan_to_num(x).tolist()[3] == 0.0
    assert hg.equal(hg.tensor([1, 2]), hg.tensor([1, 2])) is True
    assert hg.allclose(hg.tensor([1.0]), hg.tensor([1.000001])) is True
    assert not hg.tensor([1.0]).allclose(hg.tensor([1.1]))


def test_cumulative_functions():
    x = hg.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 6.0]])
    assert x.cumsum(1).tolist() == [[1.0, 3.0, 6.0], [4.0, 4.0, 10.0]]
    assert hg.cumsum(hg.tensor([True, True]), 0).dtype == np.int64
    assert x.cumprod(1).tolist() == [[1.0, 2.0, 6.0], [4.0, 0.0, 0.0]]
    assert x.cummax(1).values.tolist() == [[1.0, 2.0, 3.0], [4.0, 4.0, 6.0]]
    assert hg.diff(hg.tensor([1, 4, 9]), n=2).tolist() == [2]
    assert gradcheck(lambda t: hg.cumprod(t, 1), [f64([[1.0, -2.0, 0.0, 3.0]])])
    assert gradcheck(lambda t: t.cumsum(0), [f64([1.0, 2.0, 3.0])])


def test_products_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    batch_a, batch_b = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 3, 4))
    ta, tb = hg.tensor(a), hg.tensor(b)
    np.testing.assert_allclose(ta.mm(tb).tolist(), a @ b)
    np.testing.assert_allclose(hg.bmm(hg.tensor(batch_a), hg.tensor(batch_b)).tolist(),
                               batch_a @ batch_b)
    np.testing.assert_allclose(hg.addmm(hg.ones(2, 4, dtype=hg.float64), ta, tb, beta=0.5,
                                        alpha=2).tolist(), 0.5 + 2 * (a @ b))
    np.testing.assert_allclose(hg.outer(hg.tensor(a[0]), hg.tensor(b[0])).tolist(),
                               np.outer(a[0], b[0]))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        hg.mm(ta, ta)
    with pytest.raises(RuntimeError, match="3D tensor"):
        hg.bmm(ta, tb)


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]), ("...ij,...jk", [(2, 2, 3), (2, 3, 2)]),
    ("ik,jk", [(2, 3), (4, 3)]),
])
def test_einsum_matches_numpy_and_gradchecks(equation, shapes):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    tensors = [f64(array) for array in arrays]
    np.testing.assert_allclose(hg.einsum(equation, *tensors).tolist(),
                               np.einsum(equation, *arrays), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda *ts: hg.einsum(equation, *ts), tensors)


def test_norms_and_distances():
    x = hg.tensor([[3.0, -4.0], [0.0, 1.0]])
    assert x.norm().item() == pytest.approx(math.sqrt(26))
    assert x.norm(dim=1).tolist() == [5.0, 1.0]
    assert x.norm(p=1).item() == 8.0 and x.norm(p=float("inf")).item() == 4.0
    assert hg.norm(x, p=3, dim=1).tolist()[0] == pytest.approx((27 + 64) ** (1 / 3))
    points = hg.tensor([[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(hg.cdist(points, points).tolist(),
                               [[0, math.sqrt(2)], [math.sqrt(2), 0]], rtol=1e-6)
    assert gradcheck(lambda a, b: hg.cdist(a, b), [f64([[0.0, 1.0], [2.0, 0.5]]),
                                                    f64([[1.0, 1.0], [0.0, -1.0], [3, 2]])])
    assert gradcheck(lambda t: t.norm(dim=0), [f64([[3.0, -1.0], [4.0, 2.0]])])


def test_diagonals_triangles_and_cross():
    m = hg.arange(9.0).reshape(3, 3)
    assert hg.diag(m).tolist() == [0.0, 4.0, 8.0] and m.diag(1).tolist() == [1.0, 5.0]
    assert hg.diag(hg.tensor([1, 2]), 1).tolist() == [[0, 1, 0], [0, 0, 2], [0, 0, 0]]
    assert m.trace().item() == 12.0
    assert m.tril().tolist() == np.tril(np.arange(9.0).reshape(3, 3)).tolist()
    assert m.triu(1).tolist() == np.triu(np.arange(9.0).reshape(3, 3), 1).tolist()
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(hg.cross(hg.tensor(a), hg.tensor(b)).tolist(), np.cross(a, b))
    assert gradcheck(lambda t: hg.diag(t), [f64([1.0, 2.0])])
    assert gradcheck(lambda t: t.tril(-1) + t.triu(1) * 2, [f64(np.ones((3, 3)))])


def test_selection_functions():
    x = hg.tensor([[1.0, 5.0, 3.0], [9.0, 2.0, 2.0]])
    assert x.index_select(1, hg.tensor([2, 0])).tolist() == [[3.0, 1.0], [2.0, 9.0]]
    assert x.masked_fill(x > 2, 0.0).tolist() == [[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]]
    assert x.masked_select(x > 2).tolist() == [5.0, 3.0, 9.0]
    assert x.narrow(1, 1, 2).tolist() == [[5.0, 3.0], [2.0, 2.0]]
    assert [t.tolist() for t in x.unbind(0)] == [[1.0, 5.0, 3.0], [9.0, 2.0, 2.0]]
    assert x.flip(0).tolist() == [[9.0, 2.0, 2.0], [1.0, 5.0, 3.0]]
    assert x.roll(1, 1).tolist() == [[3.0, 1.0, 5.0], [2.0, 9.0, 2.0]]
    assert x.roll(1).tolist() == [[2.0, 1.0, 5.0], [3.0, 9.0, 2.0]]
    assert hg.chunk(hg.arange(5), 2)[1].tolist() == [3, 4]
    assert x[range(1, 2)].tolist() == [[9.0, 2.0, 2.0]]
    assert gradcheck(lambda t: t.index_select(0, hg.tensor([1, 1, 0])).roll(1, 1).flip(1),
                     [f64([[1.0, 2.0], [3.0, 4.0]])])


def test_sorting_functions():
    x = hg.tensor([[3.0, 1.0, 2.0, 1.0]])
    assert x.sort().values.tolist() == [[1.0, 1.0, 2.0, 3.0]]
    assert x.sort().indices.tolist() == [[1, 3, 2, 0]]  # stable for ties
    assert x.sort(descending=True).indices.tolist() == [[0, 2, 1, 3]]
    assert x.argsort(dim=1).tolist() == [[1, 3, 2, 0]]
    values, indices = x.topk(2)
    assert values.tolist() == [[3.0, 2.0]] and indices.tolist() == [[0, 2]]
    assert x.topk(1, largest=False).values.tolist() == [[1.0]]
    assert x.kthvalue(3).values.tolist() == [2.0]
    assert hg.median(hg.tensor([4.0, 1.0, 3.0, 2.0])).item() == 2.0
    assert x.median(1).values.tolist() == [1.0]
    assert hg.mode(hg.tensor([1, 2, 2, 3, 3, 3])).values.item() == 3
    assert hg.quantile(hg.tensor([1.0, 2.0, 3.0, 4.0]), hg.tensor([0.25, 1.0])).tolist() == \
        [1.75, 4.0]
    grads = f64([[3.0, 1.0, 2.0]])
    assert gradcheck(lambda t: t.topk(2).values * t.sort(1).values[:, :2], [grads])
    assert gradcheck(lambda t: hg.quantile(t, 0.3), [f64([0.5, 3.0, 1.0, 2.0])])


def test_nonzero_unique_and_counts():
    x = hg.tensor([[0, 3], [1, 0]])
    assert x.nonzero().tolist() == [[0, 1], [1, 0]]
    assert [t.tolist() for t in hg.nonzero(x, as_tuple=True)] == [[0, 1], [1, 0]]
    assert [t.tolist() for t in hg.where(x > 0)] == [[0, 1], [1, 0]]
    assert hg.argwhere(x).shape == (2, 2) and x.count_nonzero().item() == 2
    values, inverse, counts = hg.unique(hg.tensor([3, 1, 3]), return_inverse=True,
                                        return_counts=True)
    assert (values.tolist(), inverse.tolist(), counts.tolist()) == ([1, 3], [1, 0, 1], [1, 2])
    assert hg.bincount(hg.tensor([1, 1, 3])).tolist() == [0, 2, 0, 1]
    assert hg.bincount(hg.tensor([0, 0]), weights=hg.tensor([0.5, 0.25])).tolist() == [0.75]
    assert hg.histc(hg.tensor([0.0, 0.5, 1.0, 2.0]), bins=2, min=0, max=2).tolist() == [2.0, 2.0]
    assert hg.searchsorted(hg.tensor([1, 3, 5]), hg.tensor([0, 3, 9]), right=True).tolist() == \
        [0, 2, 3]
    assert hg.bucketize(hg.tensor([2, 7]), hg.tensor([1, 5])).tolist() == [1, 2]


def test_multinomial_bernoulli_and_normal():
    hg.manual_seed(0)
    draws = hg.multinomial(hg.tensor([0.1, 0.0, 0.9]), 2000, replacement=True)
    counts = np.bincount(draws._array, minlength=3)
    assert counts[1] == 0 and 0.85 < counts[2] / 2000 < 0.95
    unique_draws = hg.multinomial(hg.tensor([[1.0, 1.0, 1.0]]), 3)
    assert sorted(unique_draws.tolist()[0]) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="without replacement"):
        hg.multinomial(hg.tensor([1.0, 0.0]), 2)
    assert set(hg.bernoulli(hg.full((100,), 0.5)).tolist()) <= {0.0, 1.0}
    samples = hg.normal(2.0, 0.5, (4000,))
    assert abs(samples.mean().item() - 2.0) < 0.05 and samples.dtype == np.float32


def test_scatter_and_index_add():
    one_hot = hg.zeros(2, 3).scatter_(1, hg.tensor([[2], [0]]), 1.0)
    assert one_hot.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    target = hg.zeros(3).index_add_(0, hg.tensor([0, 0, 2]), hg.ones(3))
    assert target.tolist() == [2.0, 0.0, 1.0]
    assert gradcheck(lambda t, s: t.scatter(0, hg.tensor([1, 0]), s),
                     [f64([1.0, 2.0, 3.0]), f64([5.0, 6.0])])


def test_meshgrid_and_broadcasting_helpers():
    rows, cols = hg.meshgrid(hg.tensor([1, 2]), hg.tensor([3, 4, 5]), indexing="ij")
    np_rows, np_cols = np.meshgrid([1, 2], [3, 4, 5], indexing="ij")
    assert rows.tolist() == np_rows.tolist() and cols.tolist() == np_cols.tolist()
    xs, ys = hg.meshgrid(hg.tensor([1, 2]), hg.tensor([3, 4, 5]), indexing="xy")
    np_xs, np_ys = np.meshgrid([1, 2], [3, 4, 5], indexing="xy")
    assert xs.tolist() == np_xs.tolist() and ys.tolist() == np_ys.tolist()
    with pytest.warns(UserWarning, match="indexing"):
        hg.meshgrid(hg.tensor([1]), hg.tensor([2]))
    assert [t.shape for t in hg.broadcast_tensors(hg.ones(3, 1), hg.ones(2))] == [(3, 2)] * 2


def test_shape_and_type_methods():
    x = hg.arange(6.0).reshape(2, 3)
    assert x.view_as(hg.zeros(3, 2)).shape == (3, 2) and x.t().shape == (3, 2)
    assert x.nelement() == 6 and x.element_size() == 4 and x.ndimension() == 2
    assert x.contiguous() is x and x.is_contiguous() and not x.t()._array.flags.c_contiguous
    assert x.stride() == (3, 1)
    assert x.new_zeros(2).dtype == np.float32 and x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_tensor([1, 2]).dtype == np.float32
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type(hg.float64).dtype == np.float64
    assert x.type("torch.LongTensor").dtype == np.int64
    assert x.type(hg.LongTensor).dtype == np.int64
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert x.half().dtype == np.float16 and x.int().dtype == np.int32
    assert x.byte().dtype == np.uint8
    assert x.movedim(0, 1).shape == (3, 2) and x.unflatten(1, (3, 1)).shape == (2, 3, 1)
    assert x.repeat_interleave(2, dim=0).shape == (4, 3)
    assert x.any().item() and not x.all().item()
    assert x.all(dim=0).tolist() == [False, True, True]


def test_format_of_zero_dimensional_tensors():
    loss = hg.tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235" and f"{hg.tensor(3):d}" == "3"
    assert f"{hg.tensor(2.0) * 2:.2f}" == "4.00"
    assert f"{hg.tensor([1.0])}" == str(hg.tensor([1.0]))


def test_legacy_constructors_and_variable():
    assert hg.FloatTensor([1, 2]).dtype == np.float32
    assert hg.LongTensor([1.7]).tolist() == [1]
    assert hg.FloatTensor(2, 3).shape == (2, 3) and hg.DoubleTensor().shape == (0,)
    assert isinstance(hg.zeros(1), hg.FloatTensor)
    assert not isinstance(hg.zeros(1), hg.LongTensor)
    x = hg.ones(2)
    v = hg.autograd.Variable(x, requires_grad=True)
    assert v.requires_grad and not x.requires_grad and v._array is x._array
    with pytest.warns(UserWarning, match="volatile"):
        hg.autograd.Variable(x, volatile=True)


def test_dtype_information():
    assert hg.finfo(hg.float32).eps == float(np.finfo(np.float32).eps)
    assert hg.finfo().bits == 32 and hg.iinfo(hg.int32).min == -(2 ** 31)
    assert hg.is_tensor(hg.zeros(1)) and hg.is_floating_point(hg.zeros(1))
    assert hg.numel(hg.zeros(2, 3)) == 6
    assert hg.promote_types(hg.int64, hg.float64) == np.float64
    hg.set_default_dtype(hg.float64)
    try:
        assert hg.tensor([0.5]).dtype == np.float64 and hg.zeros(1).dtype == np.float64
    finally:
        hg.set_default_dtype(hg.float32)
    assert hg.tensor([0.5]).dtype == np.float32


def test_inference_mode_forms():
    w = hg.ones(1, requires_grad=True)
    with hg.inference_mode():
        assert not (w * 2).requires_grad
    with hg.inference_mode(False):
        assert (w * 2).requires_grad

    @hg.inference_mode()
    def predict(x):
        return w * x

    assert not predict(2.0).requires_grad and (w * 2).requires_grad


def test_legacy_tensor_constructor_reads_sizes_and_makes_floats():
    assert hg.Tensor(2, 3).shape == (2, 3) and hg.Tensor(2, 3).dtype == np.float32
    assert hg.Tensor(4).shape == (4,) and hg.Tensor().shape == (0,)
    assert hg.Tensor([1, 2]).dtype == np.float32 and hg.Tensor([1, 2]).tolist() == [1.0, 2.0]
    assert hg.Tensor(np.array([1, 2])).dtype == np.int64  # arrays keep their dtype
    assert hg.tensor([1, 2]).dtype == np.int64  # the factory keeps PyTorch's tensor() rule
    weight = hg.nn.Parameter(hg.Tensor(3, 2))
    assert weight.shape == (3, 2) and weight.requires_grad
