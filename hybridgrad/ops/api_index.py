"""PyTorch's indexing, sorting and selection functions (``index_select``, ``topk``, ``sort``,
``flip``, ``roll``, ``tril``, ``unique``, ``nonzero``, ``multinomial``...).

Values that flow back to inputs are taken with differentiable primitives (``getitem``,
``gather``, ``where``), so their gradients are PyTorch's; the positions themselves (the order
of a sort, the k largest, the nonzero coordinates, random draws) are computed with NumPy and
carry no gradient, as in PyTorch.

Example:
    >>> import hybridgrad as hg
    >>> values, indices = hg.topk(hg.tensor([1.0, 5.0, 3.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([5.0, 3.0], [1, 2])
"""

# ruff: noqa: A001, A002 - PyTorch names its arguments input, min, max, sorted
from __future__ import annotations

from collections import namedtuple

import numpy as np

from hybridgrad.ops import api, values

ReductionResult = api.ReductionResult
SortResult = namedtuple("SortResult", ["values", "indices"])


def _wrap(array) -> object:
    return values.wrap(array)


def _array(value) -> np.ndarray:
    return value._array if hasattr(value, "_array") else np.asarray(value)


def _axis(dim, ndim: int) -> int:
    return api._axis(dim, ndim)


def _along(dim: int, ndim: int, item) -> tuple:
    return tuple([slice(None)] * dim + [item] + [slice(None)] * (ndim - dim - 1))


def index_select(input, dim: int, index):
    """The slices ``index`` along ``dim`` (gradient scattered back, repeats accumulating).

    Example:
        >>> import hybridgrad as hg
        >>> hg.index_select(hg.tensor([[1, 2], [3, 4]]), 1, hg.tensor([1, 1])).tolist()
        [[2, 2], [4, 4]]
    """
    axis = _axis(dim, len(input.shape))
    positions = _array(index).astype(np.int64).reshape(-1)
    return api.getitem(input, _along(axis, len(input.shape), positions))


def masked_fill(input, mask, value):
    """``value`` where ``mask`` is true, ``input`` elsewhere (broadcasting the mask).

    Example:
        >>> import hybridgrad as hg
        >>> hg.masked_fill(hg.zeros(3), hg.tensor([True, False, True]), -1.0).tolist()
        [-1.0, 0.0, -1.0]
    """
    if hasattr(value, "shape") and len(value.shape) != 0:
        raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                           f"tensor with {len(value.shape)} dimension(s).")
    result = api.where(mask, value, input)
    return result if result.dtype == input.dtype else api.to(result, input.dtype)


def masked_select(input, mask):
    """The elements where ``mask`` (broadcast) is true, as a 1-D tensor.

    Example:
        >>> import hybridgrad as hg
        >>> hg.masked_select(hg.tensor([1, 2, 3]), hg.tensor([True, False, True])).tolist()
        [1, 3]
    """
    shape = np.broadcast_shapes(tuple(input.shape), tuple(_array(mask).shape))
    full = api.broadcast_to(input, shape) if tuple(input.shape) != shape else input
    return api.getitem(full, np.broadcast_to(_array(mask).astype(bool), shape))


def narrow(input, dim: int, start: int, length: int):
    """``length`` elements from ``start`` along ``dim`` (a view in PyTorch, a slice here).

    Example:
        >>> import hybridgrad as hg
        >>> hg.narrow(hg.arange(6).reshape(2, 3), 1, 1, 2).tolist()
        [[1, 2], [4, 5]]
    """
    axis = _axis(dim, len(input.shape))
    start = int(start)
    if start < 0:
        start += input.shape[axis]
    if not 0 <= start <= start + length <= input.shape[axis]:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({input.shape[axis]}).")
    return api.getitem(input, _along(axis, len(input.shape), slice(start, start + int(length))))


def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dimension.

    Example:
        >>> import hybridgrad as hg
        >>> [t.tolist() for t in hg.unbind(hg.tensor([[1, 2], [3, 4]]), 1)]
        [[1, 3], [2, 4]]
    """
    axis = _axis(dim, len(input.shape))
    return tuple(api.getitem(input, _along(axis, len(input.shape), i))
                 for i in range(input.shape[axis]))


def flip(input, dims):
    """Reverse the order along ``dims``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.flip(hg.tensor([[1, 2], [3, 4]]), [0, 1]).tolist()
        [[4, 3], [2, 1]]
    """
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    index = [slice(None)] * len(input.shape)
    for dim in dims:
        index[_axis(dim, len(input.shape))] = slice(None, None, -1)
    return api.getitem(input, tuple(index))


def fliplr(input):
    """Flip along dimension 1."""
    return flip(input, [1])


def flipud(input):
    """Flip along dimension 0."""
    return flip(input, [0])


def roll(input, shifts, dims=None):
    """Rotate elements along ``dims`` by ``shifts`` (flattened when ``dims`` is None).

    Example:
        >>> import hybridgrad as hg
        >>> hg.roll(hg.tensor([1, 2, 3, 4]), 1).tolist()
        [4, 1, 2, 3]
    """
    if dims is None:
        shape = tuple(input.shape)
        return api.reshape(roll(api.reshape(input, -1), shifts, 0), shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dims must align, got {len(shifts)} shifts and "
                           f"{len(dims)} dims")
    for shift, dim in zip(shifts, dims):
        axis = _axis(dim, len(input.shape))
        size = input.shape[axis]
        positions = (np.arange(size) - int(shift)) % size if size else np.arange(0)
        input = api.getitem(input, _along(axis, len(input.shape), positions))
    return input


def _triangle(input, diagonal: int, lower: bool):
    rows, cols = input.shape[-2], input.shape[-1]
    keep = (np.tri(rows, cols, diagonal, dtype=bool) if lower
            else ~np.tri(rows, cols, diagonal - 1, dtype=bool))
    zero = np.zeros((), dtype=input.dtype)
    return api.where(keep, input, zero)


def tril(input, diagonal: int = 0):
    """The lower triangle (elements on and below ``diagonal``), zeros elsewhere.

    Example:
        >>> import hybridgrad as hg
        >>> hg.tril(hg.ones(2, 2)).tolist()
        [[1.0, 0.0], [1.0, 1.0]]
    """
    return _triangle(input, diagonal, True)


def triu(input, diagonal: int = 0):
    """The upper triangle (elements on and above ``diagonal``), zeros elsewhere.

    Example:
        >>> import hybridgrad as hg
        >>> hg.triu(hg.ones(2, 2), diagonal=1).tolist()
        [[0.0, 1.0], [0.0, 0.0]]
    """
    return _triangle(input, diagonal, False)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values and their original positions along ``dim`` (ties keep their order).

    Example:
        >>> import hybridgrad as hg
        >>> hg.sort(hg.tensor([3.0, 1.0, 2.0]), descending=True).indices.tolist()
        [0, 2, 1]
    """
    axis = _axis(dim, len(input.shape)) if len(input.shape) else 0
    if len(input.shape) == 0:
        return SortResult(input, _wrap(np.zeros((), dtype=np.int64)))
    order = argsort(input, axis, descending)
    return SortResult(api.gather(input, axis, order), order)


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """The positions that sort ``input`` along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.argsort(hg.tensor([3, 1, 2])).tolist()
        [1, 2, 0]
    """
    array = _array(input)
    if array.ndim == 0:
        return _wrap(np.zeros((), dtype=np.int64))
    axis = _axis(dim, array.ndim)
    if descending:
        # Stable descending order: sort the reversed array, then map the positions back.
        flipped = np.flip(array, axis)
        order = np.flip(array.shape[axis] - 1 - np.argsort(flipped, axis=axis, kind="stable"),
                        axis)
        # NaN sorts as the largest value in PyTorch (first when descending).
        if array.dtype.kind == "f" and np.isnan(array).any():
            keys = np.where(np.isnan(array), np.inf, array)
            order = np.argsort(-keys, axis=axis, kind="stable")
    else:
        order = np.argsort(array, axis=axis, kind="stable")
    return _wrap(order.astype(np.int64))


def msort(input):
    """Sort along dimension 0."""
    return sort(input, 0).values


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) values along ``dim`` and their positions.

    Example:
        >>> import hybridgrad as hg
        >>> hg.topk(hg.tensor([[1.0, 9.0, 5.0]]), 2, largest=False).indices.tolist()
        [[0, 2]]
    """
    axis = _axis(dim, len(input.shape)) if len(input.shape) else 0
    size = input.shape[axis] if len(input.shape) else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: selected index k ({k}) out of range (dimension size {size})")
    order = argsort(input, axis, descending=largest)
    index = _along(axis, len(input.shape), slice(0, k))
    positions = _wrap(order._array[index])
    return SortResult(api.gather(input, axis, positions), positions)


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest value (1-based) along ``dim`` and its position.

    Example:
        >>> import hybridgrad as hg
        >>> hg.kthvalue(hg.tensor([3.0, 1.0, 2.0]), 2).values.item()
        2.0
    """
    axis = _axis(dim, len(input.shape))
    order = argsort(input, axis)
    positions = _wrap(order._array[_along(axis, len(input.shape), slice(k - 1, k))])
    values = api.gather(input, axis, positions)
    if not keepdim:
        values, positions = api.squeeze(values, axis), _wrap(np.squeeze(positions._array, axis))
    return ReductionResult(values, positions)


def median(input, dim: int | None = None, keepdim: bool = False):
    """The lower median (PyTorch's rule); with ``dim``, ``(values, indices)``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.median(hg.tensor([4.0, 1.0, 3.0, 2.0])).item()
        2.0
    """
    if dim is None:
        flat = api.reshape(input, -1)
        return api.squeeze(kthvalue(flat, (flat.shape[0] + 1) // 2, 0).values)
    size = input.shape[_axis(dim, len(input.shape))]
    return kthvalue(input, (size + 1) // 2, dim, keepdim)


def nanmedian(input, dim: int | None = None, keepdim: bool = False):
    """:func:`median` ignoring NaN (whole-tensor form)."""
    if dim is not None:
        raise NotImplementedError("nanmedian with dim is not supported; use median")
    kept = api.getitem(api.reshape(input, -1), ~np.isnan(_array(input).reshape(-1)))
    return median(kept)


def mode(input, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest among ties) and a position of it.

    Example:
        >>> import hybridgrad as hg
        >>> hg.mode(hg.tensor([1, 2, 2, 3, 3])).values.item()
        2
    """
    array = _array(input)
    axis = _axis(dim, array.ndim)
    moved = np.moveaxis(array, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    values = np.empty(flat.shape[0], dtype=array.dtype)
    positions = np.empty(flat.shape[0], dtype=np.int64)
    for row_index, row in enumerate(flat):
        uniques, counts = np.unique(row, return_counts=True)
        best = uniques[np.argmax(counts)]
        values[row_index] = best
        positions[row_index] = np.nonzero(row == best)[0][-1]
    shape = moved.shape[:-1]
    values, positions = values.reshape(shape), positions.reshape(shape)
    if keepdim:
        values, positions = np.expand_dims(values, axis), np.expand_dims(positions, axis)
    return ReductionResult(_wrap(values), _wrap(positions))


def quantile(input, q, dim: int | None = None, keepdim: bool = False,
             interpolation: str = "linear"):
    """The ``q``-quantile(s) with linear interpolation between order statistics (differentiable).

    Example:
        >>> import hybridgrad as hg
        >>> hg.quantile(hg.tensor([1.0, 2.0, 3.0, 4.0]), 0.5).item()
        2.5
    """
    if interpolation != "linear":
        raise NotImplementedError("quantile: only interpolation='linear' is supported")
    if dim is None:
        input, dim = api.reshape(input, -1), 0
    axis = _axis(dim, len(input.shape))
    values = sort(input, axis).values
    size = input.shape[axis]
    quantiles = np.atleast_1d(_array(q)).astype(np.float64)
    if ((quantiles < 0) | (quantiles > 1)).any():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    results = []
    for fraction in quantiles:
        position = fraction * (size - 1)
        low, high = int(np.floor(position)), int(np.ceil(position))
        weight = position - low
        below = api.getitem(values, _along(axis, len(input.shape), slice(low, low + 1)))
        above = api.getitem(values, _along(axis, len(input.shape), slice(high, high + 1)))
        result = below + (above - below) * weight
        results.append(result if keepdim else api.squeeze(result, axis))
    if np.ndim(_array(q)) == 0:
        return results[0]
    return api.stack(results, 0)


def nonzero(input, *, as_tuple: bool = False):
    """Coordinates of the non-zero elements: an (n, ndim) tensor, or one tensor per dimension.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nonzero(hg.tensor([[0, 1], [2, 0]])).tolist()
        [[0, 1], [1, 0]]
    """
    array = _array(input)
    coordinates = np.nonzero(np.atleast_1d(array))
    if as_tuple:
        return tuple(_wrap(c.astype(np.int64)) for c in coordinates)
    return _wrap(np.stack(coordinates, axis=1).astype(np.int64) if array.ndim else
                 np.zeros((int(bool(array)), 0), dtype=np.int64))


def argwhere(input):
    """``nonzero(input)``: the (n, ndim) coordinates of the non-zero elements."""
    return nonzero(input)


def where(condition, input=None, other=None):
    """``where(condition, input, other)`` elementwise, or ``where(condition)`` =
    ``nonzero(condition, as_tuple=True)``.

    Example:
        >>> import hybridgrad as hg
        >>> [t.tolist() for t in hg.where(hg.tensor([False, True, True]))]
        [[1, 2]]
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return api.where(condition, input, other)


def count_nonzero(input, dim=None):
    """The number of non-zero elements (over ``dim``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.count_nonzero(hg.tensor([0, 3, 1])).item()
        2
    """
    return _wrap(np.count_nonzero(_array(input), axis=dim).astype(np.int64))


def unique(input, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (sorted), optionally with inverse positions and counts.

    Example:
        >>> import hybridgrad as hg
        >>> values, counts = hg.unique(hg.tensor([3, 1, 3, 2]), return_counts=True)
        >>> values.tolist(), counts.tolist()
        ([1, 2, 3], [1, 1, 2])
    """
    array = _array(input)
    values, inverse, counts = np.unique(array, return_inverse=True, return_counts=True,
                                        axis=dim)
    results = [_wrap(values)]
    if return_inverse:
        shape = array.shape if dim is None else (array.shape[dim],)
        results.append(_wrap(inverse.reshape(shape).astype(np.int64)))
    if return_counts:
        results.append(_wrap(counts.astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Collapse runs of equal consecutive values (1-D and flattened inputs).

    Example:
        >>> import hybridgrad as hg
        >>> hg.unique_consecutive(hg.tensor([1, 1, 2, 2, 1])).tolist()
        [1, 2, 1]
    """
    if dim is not None:
        raise NotImplementedError("unique_consecutive: dim is not supported")
    flat = _array(input).reshape(-1)
    starts = np.concatenate([[True], flat[1:] != flat[:-1]]) if flat.size else np.zeros(0, bool)
    results = [_wrap(flat[starts])]
    if return_inverse:
        results.append(_wrap((np.cumsum(starts) - 1).reshape(_array(input).shape)))
    if return_counts:
        results.append(_wrap(np.diff(np.append(np.nonzero(starts)[0], flat.size))))
    return results[0] if len(results) == 1 else tuple(results)


def bincount(input, weights=None, minlength: int = 0):
    """Counts of each non-negative integer in a 1-D tensor (weighted sums with ``weights``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.bincount(hg.tensor([0, 2, 2])).tolist()
        [1, 0, 2]
    """
    array = _array(input)
    if array.ndim != 1 or array.dtype.kind not in "iub":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got "
                           f"shape {list(array.shape)} {array.dtype}")
    if array.size and array.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return _wrap(np.bincount(array, minlength=minlength).astype(np.int64))
    weight_array = _array(weights)
    out_dtype = weight_array.dtype if weight_array.dtype.kind == "f" else np.float64
    return _wrap(np.bincount(array, weights=weight_array, minlength=minlength).astype(out_dtype))


def histc(input, bins: int = 100, min: float = 0, max: float = 0):  # noqa: A002
    """Histogram of ``bins`` equal-width bins over [min, max] (the data's range when both are 0).

    Example:
        >>> import hybridgrad as hg
        >>> hg.histc(hg.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3).tolist()
        [0.0, 2.0, 1.0, 0.0]
    """
    array = _array(input).astype(np.float64).reshape(-1)
    low, high = float(min), float(max)
    if low == high == 0 and array.size:
        low, high = float(array.min()), float(array.max())
    if low == high:
        low, high = low - 1, high + 1
    counts, _ = np.histogram(array[(array >= low) & (array <= high)], bins=bins,
                             range=(low, high))
    dtype = _array(input).dtype if _array(input).dtype.kind == "f" else np.float32
    return _wrap(counts.astype(dtype))


def searchsorted(sorted_sequence, values, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter=None):
    """Positions where ``values`` would be inserted into the last dimension of
    ``sorted_sequence`` to keep it sorted.

    Example:
        >>> import hybridgrad as hg
        >>> hg.searchsorted(hg.tensor([1, 3, 5]), hg.tensor([3, 6])).tolist()
        [1, 3]
    """
    sequence, targets = _array(sorted_sequence), _array(values)
    side = side or ("right" if right else "left")
    if sorter is not None:
        sequence = np.take_along_axis(sequence, _array(sorter), -1)
    if sequence.ndim <= 1:
        result = np.searchsorted(sequence, targets, side=side)
    else:
        flat_sequence = sequence.reshape(-1, sequence.shape[-1])
        flat_targets = targets.reshape(flat_sequence.shape[0], -1)
        result = np.stack([np.searchsorted(row, target, side=side)
                           for row, target in zip(flat_sequence, flat_targets)]).reshape(
            targets.shape)
    return _wrap(np.asarray(result).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False):
    """The bucket of each value given sorted 1-D ``boundaries`` (PyTorch's ``right`` rule).

    Example:
        >>> import hybridgrad as hg
        >>> hg.bucketize(hg.tensor([1, 5]), hg.tensor([2, 4])).tolist()
        [0, 2]
    """
    side = "right" if right else "left"
    result = np.searchsorted(_array(boundaries), _array(input), side=side)
    return _wrap(np.asarray(result).astype(np.int32 if out_int32 else np.int64))


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None):
    """Draw category indices with probabilities proportional to the rows of ``input``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.multinomial(hg.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
        [1, 1]
    """
    from hybridgrad.random import numpy_generator

    rng = numpy_generator(generator)
    weights = _array(input).astype(np.float64)
    single = weights.ndim == 1
    rows = weights.reshape(1, -1) if single else weights
    if rows.ndim != 2:
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {weights.ndim}")
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    samples = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for index, row in enumerate(rows):
        total = row.sum()
        if total <= 0:
            raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                               "probabilities <= 0)")
        if not replacement and num_samples > np.count_nonzero(row):
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) "
                               "samples without replacement")
        samples[index] = rng.choice(row.size, size=num_samples, replace=replacement,
                                    p=row / total)
    return _wrap(samples[0] if single else samples)


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples that are 1 with probability ``input`` (or ``p``), in ``input``'s dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.bernoulli(hg.tensor([0.0, 1.0])).tolist()
        [0.0, 1.0]
    """
    from hybridgrad.random import numpy_generator

    probabilities = _array(input) if p is None else np.broadcast_to(p, _array(input).shape)
    draws = numpy_generator(generator).random(_array(input).shape) < probabilities
    return _wrap(draws.astype(_array(input).dtype))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False):
    """Samples of N(mean, std^2): tensors of means/stds, or floats with ``size``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.normal(0.0, 1.0, (2, 3)).shape, hg.normal(hg.zeros(4), 1.0).shape
        ((2, 3), (4,))
    """
    from hybridgrad import dtypes
    from hybridgrad.random import numpy_generator

    rng = numpy_generator(generator)
    mean_array, std_array = _array(mean), _array(std)
    shape = tuple(size) if size is not None else np.broadcast_shapes(mean_array.shape,
                                                                     std_array.shape)
    dtype = dtypes.to_dtype(dtype) or next(
        (a.dtype for a in (mean_array, std_array) if a.dtype.kind == "f" and a.ndim),
        dtypes.get_default_dtype())
    out = _wrap(rng.normal(mean_array, std_array, shape).astype(dtype))
    return out.requires_grad_(True) if requires_grad else out


def poisson(input, generator=None):
    """Poisson samples with rates ``input``."""
    from hybridgrad.random import numpy_generator

    return _wrap(numpy_generator(generator).poisson(_array(input)).astype(_array(input).dtype))


def take(input, index):
    """Elements of the flattened ``input`` at ``index`` (shaped like ``index``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.take(hg.tensor([[1, 2], [3, 4]]), hg.tensor([0, 3])).tolist()
        [1, 4]
    """
    return api.getitem(api.reshape(input, -1), _array(index).astype(np.int64))


def take_along_dim(input, indices, dim: int | None = None):
    """``gather`` with broadcasting (PyTorch's ``take_along_dim``)."""
    if dim is None:
        return take(input, indices)
    return api.gather(input, dim, indices)


def scatter(input, dim: int, index, src=None, value=None, *, reduce=None):
    """A copy of ``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.scatter(hg.zeros(2, 3), 1, hg.tensor([[2], [0]]), 1.0).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_add")
    if src is None:
        src = value
    axis = _axis(dim, len(input.shape))
    positions = _array(index).astype(np.int64)
    mask = np.zeros(tuple(input.shape), dtype=bool)
    np.put_along_axis(mask, positions, True, axis=axis)
    if not hasattr(src, "shape") or len(getattr(src, "shape", ())) == 0:
        src = api.broadcast_to(api.to(_wrap(np.asarray(_array(src))), input.dtype), positions.shape)
    else:
        region = tuple(slice(0, size) for size in positions.shape)
        src = api.getitem(src, region) if tuple(src.shape) != positions.shape else src
    placed = api.scatter_add(api.mul(input, 0), axis, _wrap(positions), api.to(src, input.dtype))
    return api.where(mask, placed, input)


__all__ = [
    "argsort", "argwhere", "bernoulli", "bincount", "bucketize", "count_nonzero", "flip",
    "fliplr", "flipud", "histc", "index_select", "kthvalue", "masked_fill", "masked_select",
    "median", "mode", "msort", "multinomial", "nanmedian", "narrow", "nonzero", "normal",
    "poisson", "quantile", "roll", "scatter", "searchsorted", "sort", "take", "take_along_dim",
    "topk", "tril", "triu", "unbind", "unique", "unique_consecutive", "where",
]
