"""PyTorch's stacking, splitting and reshaping helpers (``hstack``, ``tensor_split``,
``atleast_2d``, ``rot90``, ``select``, ``unfold``, ``kron``, ``cartesian_prod``...) and the
remaining reductions (``std_mean``, ``aminmax``, ``logcumsumexp``, ``cummin``...), composed
from primitives so gradients flow where PyTorch's do.

Example:
    >>> import hybridgrad as hg
    >>> hg.hstack([hg.ones(2), hg.zeros(1)]).tolist(), hg.rot90(hg.tensor([[1, 2]])).tolist()
    ([1.0, 1.0, 0.0], [[2], [1]])
"""

# ruff: noqa: A001, A002 - PyTorch names its arguments input, min, max
from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops import api, values
from hybridgrad.ops import api_math as M


def _along(axis: int, ndim: int, item) -> tuple:
    return tuple([slice(None)] * axis + [item] + [slice(None)] * (ndim - axis - 1))


def _list(tensors):
    return list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
        else list(tensors)


def atleast_1d(*tensors):
    """Tensors with at least one dimension (0-d ones become shape (1,)).

    Example:
        >>> import hybridgrad as hg
        >>> hg.atleast_1d(hg.tensor(3.0)).shape
        (1,)
    """
    results = [t if len(t.shape) >= 1 else api.reshape(t, (1,)) for t in _list(tensors)]
    return results[0] if len(results) == 1 else tuple(results)


def atleast_2d(*tensors):
    """Tensors with at least two dimensions (a vector becomes a row).

    Example:
        >>> import hybridgrad as hg
        >>> hg.atleast_2d(hg.ones(3)).shape
        (1, 3)
    """
    results = [t if len(t.shape) >= 2 else api.reshape(t, (1, -1)) for t in _list(tensors)]
    return results[0] if len(results) == 1 else tuple(results)


def atleast_3d(*tensors):
    """Tensors with at least three dimensions ((n,) -> (1, n, 1), (a, b) -> (a, b, 1))."""
    results = []
    for t in _list(tensors):
        if len(t.shape) == 0:
            t = api.reshape(t, (1, 1, 1))
        elif len(t.shape) == 1:
            t = api.reshape(t, (1, -1, 1))
        elif len(t.shape) == 2:
            t = api.unsqueeze(t, -1)
        results.append(t)
    return results[0] if len(results) == 1 else tuple(results)


def hstack(tensors):
    """Concatenate along dimension 1 (0 for vectors).

    Example:
        >>> import hybridgrad as hg
        >>> hg.hstack([hg.ones(2, 1), hg.zeros(2, 2)]).shape
        (2, 3)
    """
    tensors = list(tensors)
    return api.cat(tensors, 0 if len(tensors[0].shape) == 1 else 1)


def vstack(tensors):
    """Concatenate rows (vectors become rows first).

    Example:
        >>> import hybridgrad as hg
        >>> hg.vstack([hg.ones(2), hg.zeros(2)]).tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    return api.cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate along dimension 2 (after :func:`atleast_3d`)."""
    return api.cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    """Stack vectors as columns (2-D tensors are concatenated as they are).

    Example:
        >>> import hybridgrad as hg
        >>> hg.column_stack([hg.tensor([1, 2]), hg.tensor([3, 4])]).tolist()
        [[1, 3], [2, 4]]
    """
    return api.cat([api.reshape(t, (-1, 1)) if len(t.shape) <= 1 else t for t in tensors], 1)


def concat(tensors, dim: int = 0):
    """PyTorch's alias of ``cat``."""
    return api.cat(list(tensors), dim)


concatenate = concat


def tensor_split(input, indices_or_sections, dim: int = 0):
    """Split into ``n`` nearly equal parts (the first ones one longer) or at the given indices.

    Example:
        >>> import hybridgrad as hg
        >>> [t.tolist() for t in hg.tensor_split(hg.arange(5), 3)]
        [[0, 1], [2, 3], [4]]
    """
    axis = api._axis(dim, len(input.shape))
    length = input.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        base, extra = divmod(length, sections)
        sizes = [base + 1] * extra + [base] * (sections - extra)
        bounds = np.cumsum([0] + sizes)
    else:
        positions = [int(i) for i in getattr(indices_or_sections, "tolist",
                                             lambda: indices_or_sections)()]
        bounds = [0] + [min(max(p, 0), length) for p in positions] + [length]
    return tuple(api.getitem(input, _along(axis, len(input.shape), slice(int(start), int(end))))
                 for start, end in zip(bounds[:-1], bounds[1:]))


def hsplit(input, indices_or_sections):
    """:func:`tensor_split` along dimension 1 (0 for vectors)."""
    return tensor_split(input, indices_or_sections, 0 if len(input.shape) == 1 else 1)


def vsplit(input, indices_or_sections):
    """:func:`tensor_split` along dimension 0."""
    return tensor_split(input, indices_or_sections, 0)


def dsplit(input, indices_or_sections):
    """:func:`tensor_split` along dimension 2."""
    return tensor_split(input, indices_or_sections, 2)


def split_with_sizes(input, split_sizes, dim: int = 0):
    """``split`` with a list of sizes."""
    return api.split(input, list(split_sizes), dim)


def select(input, dim: int, index: int):
    """``input[..., index, ...]`` along ``dim`` (that dimension removed).

    Example:
        >>> import hybridgrad as hg
        >>> hg.select(hg.tensor([[1, 2], [3, 4]]), 1, 0).tolist()
        [1, 3]
    """
    axis = api._axis(dim, len(input.shape))
    return api.getitem(input, _along(axis, len(input.shape), int(index)))


def ravel(input):
    """Flattened to one dimension."""
    return api.reshape(input, (-1,))


def rot90(input, k: int = 1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first towards the
    second).

    Example:
        >>> import hybridgrad as hg
        >>> hg.rot90(hg.tensor([[1, 2], [3, 4]])).tolist()
        [[2, 4], [1, 3]]
    """
    from hybridgrad.ops.api_index import flip

    first, second = (d % len(input.shape) for d in dims)
    k %= 4
    if k == 1:
        return api.transpose(flip(input, [second]), first, second)
    if k == 2:
        return flip(input, [first, second])
    if k == 3:
        return flip(api.transpose(input, first, second), [second])
    return input


def unfold(input, dimension: int, size: int, step: int):
    """Sliding windows of ``size`` with ``step`` along ``dimension``, as a new last dimension
    (PyTorch's ``Tensor.unfold``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.arange(5).unfold(0, 2, 2).tolist()
        [[0, 1], [2, 3]]
    """
    axis = api._axis(dimension, len(input.shape))
    count = (input.shape[axis] - size) // step + 1
    if count < 0 or size <= 0 or step <= 0:
        raise RuntimeError(f"unfold: size {size} and step {step} do not fit dimension "
                           f"{dimension} of shape {list(input.shape)}")
    positions = (np.arange(count)[:, None] * step + np.arange(size)[None, :])
    windows = api.getitem(input, _along(axis, len(input.shape), positions))
    # The window axis was inserted after `axis` (as count, size): move size to the end.
    order = list(range(len(windows.shape)))
    order.append(order.pop(axis + 1))
    return api.permute(windows, tuple(order))


def kron(input, other):
    """Kronecker product.

    Example:
        >>> import hybridgrad as hg
        >>> hg.kron(hg.eye(2), hg.ones(1, 2)).tolist()
        [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    """
    ndim = max(len(input.shape), len(other.shape))
    a = api.reshape(input, (1,) * (ndim - len(input.shape)) + tuple(input.shape))
    b = api.reshape(other, (1,) * (ndim - len(other.shape)) + tuple(other.shape))
    a_expanded = api.reshape(a, sum(((s, 1) for s in a.shape), ()))
    b_expanded = api.reshape(b, sum(((1, s) for s in b.shape), ()))
    return api.reshape(a_expanded * b_expanded,
                     tuple(x * y for x, y in zip(a.shape, b.shape)))


def cartesian_prod(*tensors):
    """All combinations of the elements of 1-D tensors, one per row.

    Example:
        >>> import hybridgrad as hg
        >>> hg.cartesian_prod(hg.tensor([1, 2]), hg.tensor([3, 4])).tolist()
        [[1, 3], [1, 4], [2, 3], [2, 4]]
    """
    from hybridgrad.ops.api_linalg import meshgrid

    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return api.stack([api.reshape(g, (-1,)) for g in grids], 1)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (2, n) coordinates of the lower triangle of a row x col matrix.

    Example:
        >>> import hybridgrad as hg
        >>> hg.tril_indices(2, 2).tolist()
        [[0, 1, 1], [0, 0, 1]]
    """
    return values.wrap(np.stack(np.tril_indices(row, offset, col)).astype(dtype or np.int64))


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (2, n) coordinates of the upper triangle of a row x col matrix."""
    return values.wrap(np.stack(np.triu_indices(row, offset, col)).astype(dtype or np.int64))


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False):
    """Whether each element occurs in ``test_elements``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.isin(hg.tensor([1, 2, 3]), hg.tensor([2, 9])).tolist()
        [False, True, False]
    """
    members = np.asarray(getattr(elements, "_array", elements))
    tests = np.asarray(getattr(test_elements, "_array", test_elements))
    return values.wrap(np.isin(members, tests, invert=invert))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times (``repeat_interleave(counts)`` alone gives
    ``arange`` repeated by counts).

    Example:
        >>> import hybridgrad as hg
        >>> hg.repeat_interleave(hg.tensor([1, 2]), 2).tolist()
        [1, 1, 2, 2]
    """
    if repeats is None:
        counts = np.asarray(input._array).astype(np.int64)
        return values.wrap(np.repeat(np.arange(counts.size), counts))
    return input.repeat_interleave(repeats, dim)


# Reductions returning pairs.
def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std, mean)`` over ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> [t.item() for t in hg.std_mean(hg.tensor([1.0, 3.0]))]
        [1.4142135381698608, 2.0]
    """
    return (api.std(input, dim, unbiased, keepdim, correction=correction),
            api.mean(input, dim, keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var, mean)`` over ``dim``."""
    return (api.var(input, dim, unbiased, keepdim, correction=correction),
            api.mean(input, dim, keepdim))


def aminmax(input, *, dim=None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (or everything).

    Example:
        >>> import hybridgrad as hg
        >>> hg.aminmax(hg.tensor([3, 1, 2])).max.item()
        3
    """
    from collections import namedtuple

    result = namedtuple("aminmax", ["min", "max"])
    return result(api.amin(input, dim, keepdim), api.amax(input, dim, keepdim))


def cummin(input, dim: int):
    """Running minimum along ``dim``: ``(values, indices)``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.cummin(hg.tensor([3.0, 1.0, 2.0]), 0).values.tolist()
        [3.0, 1.0, 1.0]
    """
    result = M.cummax(-input, dim)
    return api.ReductionResult(-result.values, result.indices)


def logcumsumexp(input, dim: int):
    """``log(cumsum(exp(input)))`` along ``dim`` without overflow.

    Example:
        >>> import hybridgrad as hg
        >>> [round(v, 4) for v in hg.logcumsumexp(hg.tensor([0.0, 0.0]), 0).tolist()]
        [0.0, 0.6931]
    """
    top = api.amax(input, dim, keepdim=True)
    top = top.detach() if hasattr(top, "detach") else top
    return api.log(M.cumsum(api.exp(input - top), dim)) + top


# More elementwise math.
def hypot(input, other):
    """``sqrt(a^2 + b^2)``. Example: ``hg.hypot(hg.tensor([3.0]), hg.tensor([4.0])) -> [5.]``."""
    return api.sqrt(input * input + other * other)


def xlogy(input, other):
    """``x * log(y)``, 0 where x is 0.

    Example:
        >>> import hybridgrad as hg
        >>> hg.xlogy(hg.tensor([0.0, 2.0]), hg.tensor([0.0, 1.0])).tolist()
        [0.0, 0.0]
    """
    zero = input == 0
    safe = api.where(zero, 1.0, other)
    return api.where(zero, 0.0, input * api.log(safe))


def logit(input, eps: float | None = None):
    """``log(p / (1 - p))`` (p clamped to [eps, 1 - eps] when eps is given).

    Example:
        >>> import hybridgrad as hg
        >>> hg.logit(hg.tensor([0.5])).tolist()
        [0.0]
    """
    if eps is not None:
        input = api.clamp(input, eps, 1 - eps)
    return api.log(input / (1 - input))


def deg2rad(input):
    """Degrees to radians."""
    return input * (math.pi / 180.0)


def rad2deg(input):
    """Radians to degrees."""
    return input * (180.0 / math.pi)


def sinc(input):
    """``sin(pi x) / (pi x)``, 1 at 0.

    Example:
        >>> import hybridgrad as hg
        >>> hg.sinc(hg.tensor([0.0, 1.0])).tolist()[0]
        1.0
    """
    scaled = input * math.pi
    zero = input == 0
    safe = api.where(zero, 1.0, scaled)
    return api.where(zero, 1.0, api.sin(safe) / safe)


def heaviside(input, values):
    """0 below zero, 1 above, ``values`` at zero.

    Example:
        >>> import hybridgrad as hg
        >>> hg.heaviside(hg.tensor([-1.0, 0.0, 2.0]), hg.tensor(0.5)).tolist()
        [0.0, 0.5, 1.0]
    """
    return api.where(input == 0, values, api.to(input > 0, input.dtype))


def signbit(input):
    """True where the sign bit is set (negative numbers and -0.0)."""
    return values.wrap(np.signbit(input._array))


def copysign(input, other):
    """``|input|`` with the sign of ``other``."""
    sign_array = np.where(np.signbit(np.asarray(getattr(other, "_array", other))), -1.0, 1.0)
    return api.abs(input) * values.wrap(sign_array.astype(
        input.dtype if input.dtype.kind == "f" else np.float32))


def fmax(input, other):
    """Elementwise maximum ignoring NaN (the other value wins)."""
    return api.where(api.isnan(input), other, api.where(api.isnan(other), input,
                                                  api.maximum(input, other)))


def fmin(input, other):
    """Elementwise minimum ignoring NaN."""
    return api.where(api.isnan(input), other, api.where(api.isnan(other), input,
                                                  api.minimum(input, other)))


def float_power(input, exponent):
    """``input ** exponent`` computed in float64."""
    cast = api.to(input, np.float64) if hasattr(input, "dtype") else input
    power = api.to(exponent, np.float64) if hasattr(exponent, "dtype") else exponent
    return api.pow(cast, power)


def logaddexp2(input, other):
    """``log2(2**a + 2**b)`` without overflow."""
    return M.logaddexp(input * math.log(2.0), other * math.log(2.0)) / math.log(2.0)


def erfc(input):
    """``1 - erf(x)``."""
    return 1 - api.erf(input)


def positive(input):
    """``input`` itself (PyTorch's unary plus)."""
    return input


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    return other - input * alpha


def trapezoid(y, x=None, *, dx: float | None = None, dim: int = -1):
    """Trapezoidal rule along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.trapezoid(hg.tensor([1.0, 2.0, 3.0])).item()
        4.0
    """
    axis = api._axis(dim, len(y.shape))
    left = api.getitem(y, _along(axis, len(y.shape), slice(None, -1)))
    right = api.getitem(y, _along(axis, len(y.shape), slice(1, None)))
    if x is not None:
        widths = M.diff(x, dim=-1 if len(x.shape) == 1 else dim)
        if len(x.shape) == 1 and len(y.shape) > 1:
            shape = [1] * len(y.shape)
            shape[axis] = -1
            widths = api.reshape(widths, tuple(shape))
        return api.sum((left + right) * widths, axis) / 2
    return api.sum(left + right, axis) * ((1.0 if dx is None else dx) / 2)


trapz = trapezoid


__all__ = [
    "aminmax", "atleast_1d", "atleast_2d", "atleast_3d", "cartesian_prod", "column_stack",
    "concat", "copysign", "cummin", "deg2rad", "dsplit", "dstack", "erfc",
    "float_power", "fmax", "fmin", "heaviside", "hsplit", "hstack", "hypot", "isin", "kron",
    "logaddexp2", "logcumsumexp", "logit", "positive", "rad2deg", "ravel", "repeat_interleave",
    "rot90", "row_stack", "rsub", "select", "signbit", "sinc", "split_with_sizes", "std_mean",
    "tensor_split", "trapezoid", "trapz", "tril_indices", "triu_indices", "var_mean",
    "vsplit", "vstack", "xlogy",
]
