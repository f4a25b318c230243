"""The public operator functions (``hg.exp``, ``hg.sum``, ...), shared by tensors and symbols.

Each function is either one registered primitive or a composition of primitives (softmax,
var, stack, ...). Because they only call :func:`~hybridgrad.ops.registry.apply`, the same
function works eagerly on tensors and builds a graph on symbols.

Arguments follow PyTorch (``dim``, ``keepdim``); NumPy's ``axis``/``keepdims`` are accepted as
aliases.

Example:
    >>> import hybridgrad as hg
    >>> hg.softmax(hg.tensor([0.0, 0.0]), dim=0).tolist()
    [0.5, 0.5]
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from hybridgrad.ops.registry import apply

ReductionResult = namedtuple("ReductionResult", ["values", "indices"])


def _shape_of(x) -> tuple:
    shape = getattr(x, "shape", ())
    return shape if type(shape) is tuple else tuple(shape)


def _dims(dim, axis, ndim: int) -> tuple | None:
    """Normalise dim/axis (int, sequence or None) to a sorted tuple of non-negative axes."""
    if dim is None:
        dim = axis
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    out = []
    for d in dim:
        d = int(d)
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"dimension {d} is out of range for a tensor of {ndim} dimensions")
        out.append(d % builtins.max(ndim, 1))
    return tuple(sorted(set(out)))


def _keep(keepdim, keepdims) -> bool:
    return bool(keepdims if keepdims is not None else keepdim)


def _axis(dim, ndim: int) -> int:
    if not -builtins.max(ndim, 1) <= dim < builtins.max(ndim, 1):
        raise IndexError(f"dimension {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % builtins.max(ndim, 1)


# ----------------------------------------------------------------------------------------------
# Elementwise.


def add(a, b):
    """Elementwise ``a + b`` with broadcasting. Example: ``hg.add(hg.ones(2), 1)``."""
    return apply("add", a, b)


def sub(a, b):
    """Elementwise ``a - b``. Example: ``hg.sub(hg.ones(2), 1)``."""
    return apply("sub", a, b)


def mul(a, b):
    """Elementwise ``a * b``. Example: ``hg.mul(hg.ones(2), 3)``."""
    return apply("mul", a, b)


def div(a, b):
    """Elementwise true division ``a / b``. Example: ``hg.div(hg.ones(2), 4)``."""
    return apply("div", a, b)


def pow(a, b):  # noqa: A001 - PyTorch's name
    """Elementwise ``a ** b``. Example: ``hg.pow(hg.tensor([2.0]), 3)``."""
    return apply("pow", a, b)


def neg(a):
    """Elementwise ``-a``. Example: ``hg.neg(hg.ones(1))``."""
    return apply("neg", a)


def exp(a):
    """Elementwise ``e ** a``. Example: ``hg.exp(hg.zeros(1))``."""
    return apply("exp", a)


def log(a):
    """Elementwise natural logarithm. Example: ``hg.log(hg.ones(1))``."""
    return apply("log", a)


def sqrt(a):
    """Elementwise square root. Example: ``hg.sqrt(hg.tensor([4.0]))``."""
    return apply("sqrt", a)


def abs(a):  # noqa: A001 - PyTorch's name
    """Elementwise absolute value. Example: ``hg.abs(hg.tensor([-1.0]))``."""
    return apply("abs", a)


def sign(a):
    """Elementwise sign (-1, 0, 1). Example: ``hg.sign(hg.tensor([-3.0]))``."""
    return apply("sign", a)


def sin(a):
    """Elementwise sine. Example: ``hg.sin(hg.zeros(1))``."""
    return apply("sin", a)


def cos(a):
    """Elementwise cosine. Example: ``hg.cos(hg.zeros(1))``."""
    return apply("cos", a)


def tanh(a):
    """Elementwise hyperbolic tangent. Example: ``hg.tanh(hg.zeros(1))``."""
    return apply("tanh", a)


def sigmoid(a):
    """Elementwise logistic function, stable for large magnitudes. Example: ``hg.sigmoid(x)``."""
    return apply("sigmoid", a)


def relu(a):
    """Elementwise ``max(a, 0)``. Example: ``hg.relu(hg.tensor([-1.0, 2.0]))``."""
    return apply("relu", a)


def softplus(a, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * a)) / beta``, computed stably. Example: ``hg.softplus(x)``."""
    if beta == 1.0:
        return apply("softplus", a)
    return apply("softplus", a * beta) / beta


def erf(a):
    """Elementwise error function. Example: ``hg.erf(hg.zeros(1))``."""
    return apply("erf", a)


def clamp(a, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Clamp every element into ``[min, max]`` (either bound may be None).

    Example:
        >>> import hybridgrad as hg
        >>> hg.clamp(hg.tensor([-2.0, 0.5, 3.0]), -1, 1).tolist()
        [-1.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if _is_tensor_bound(min) or _is_tensor_bound(max):
        # Tensor bounds (PyTorch allows them): elementwise maximum/minimum, differentiable in
        # the bounds too.
        result = a if min is None else maximum(a, min)
        return result if max is None else minimum(result, max)
    return apply("clamp", a, low=None if min is None else float(min),
                 high=None if max is None else float(max))


clip = clamp


def _is_tensor_bound(bound) -> bool:
    shape = getattr(bound, "shape", None)
    return shape is not None and (len(shape) > 0 or getattr(bound, "requires_grad", False))


def maximum(a, b):
    """Elementwise maximum of two tensors. Example: ``hg.maximum(x, y)``."""
    return apply("maximum", a, b)


def minimum(a, b):
    """Elementwise minimum of two tensors. Example: ``hg.minimum(x, y)``."""
    return apply("minimum", a, b)


def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` elementwise, without overflow (PyTorch's ``torch.logaddexp``).

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.logaddexp(hg.tensor(1000.0), hg.tensor(1000.0)).item(), 3)  # 1000 + log 2
        1000.693
    """
    return apply("logaddexp", a, b)


def where(condition, a, b):
    """Pick from ``a`` where ``condition`` holds, else from ``b`` (broadcasting).

    Example:
        >>> import hybridgrad as hg
        >>> hg.where(hg.tensor([True, False]), 1.0, 0.0).tolist()
        [1.0, 0.0]
    """
    return apply("where", condition, a, b)


def eq(a, b):
    """Elementwise ``a == b`` (bool, no gradient). Example: ``hg.eq(x, 0)``."""
    return apply("eq", a, b)


def ne(a, b):
    """Elementwise ``a != b``. Example: ``hg.ne(x, 0)``."""
    return apply("ne", a, b)


def lt(a, b):
    """Elementwise ``a < b``. Example: ``hg.lt(x, 0)``."""
    return apply("lt", a, b)


def le(a, b):
    """Elementwise ``a <= b``. Example: ``hg.le(x, 0)``."""
    return apply("le", a, b)


def gt(a, b):
    """Elementwise ``a > b``. Example: ``hg.gt(x, 0)``."""
    return apply("gt", a, b)


def ge(a, b):
    """Elementwise ``a >= b``. Example: ``hg.ge(x, 0)``."""
    return apply("ge", a, b)


def logical_and(a, b):
    """Elementwise logical and. Example: ``hg.logical_and(x > 0, x < 1)``."""
    return apply("logical_and", a, b)


def logical_or(a, b):
    """Elementwise logical or. Example: ``hg.logical_or(x < 0, x > 1)``."""
    return apply("logical_or", a, b)


def logical_not(a):
    """Elementwise logical not. Example: ``hg.logical_not(x > 0)``."""
    return apply("logical_not", a)


def isnan(a):
    """Elementwise NaN test. Example: ``hg.isnan(x)``."""
    return apply("isnan", a)


def isfinite(a):
    """Elementwise finiteness test. Example: ``hg.isfinite(x)``."""
    return apply("isfinite", a)


def to(a, dtype):
    """Cast to ``dtype`` (differentiable between floats). Example: ``hg.to(x, hg.float64)``."""
    from hybridgrad.dtypes import to_dtype

    dtype = to_dtype(dtype)
    if a.dtype == dtype:
        return a
    return apply("cast", a, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Reductions.


def sum(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, dtype=None):  # noqa: A001
    """Sum over ``dim`` (all dimensions when None).

    Example:
        >>> import hybridgrad as hg
        >>> hg.sum(hg.ones(2, 3), dim=1).tolist()
        [3.0, 3.0]
    """
    if dtype is not None:
        a = to(a, dtype)
    elif a.dtype.kind == "b":
        from hybridgrad import dtypes

        a = to(a, dtypes.int64)
    return apply("sum", a, axis=_dims(dim, axis, len(a.shape)), keepdims=_keep(keepdim, keepdims))


def mean(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, dtype=None):
    """Arithmetic mean over ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.mean(hg.tensor([1.0, 2.0, 6.0])).item()
        3.0
    """
    axes = _dims(dim, axis, len(a.shape))
    if a.dtype.kind != "f":
        from hybridgrad import dtypes

        a = to(a, dtype or dtypes.get_default_dtype())
    count = _count(a.shape, axes)
    return sum(a, axes, keepdim, keepdims=keepdims) / count


def _count(shape: tuple, axes) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64)) if shape else 1
    return int(np.prod([shape[i] for i in axes], dtype=np.int64)) if axes else 1


def var(a, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None,
        axis=None, keepdims=None):
    """Variance over ``dim``; unbiased (correction=1) by default, as in PyTorch.

    Example:
        >>> import hybridgrad as hg
        >>> hg.var(hg.tensor([1.0, 3.0])).item()
        2.0
    """
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _dims(dim, axis, len(a.shape))
    centered = a - mean(a, axes, keepdim=True)
    count = _count(a.shape, axes)
    return sum(centered * centered, axes, keepdim, keepdims=keepdims) / builtins.max(
        count - correction, 0
    )


def std(a, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None,
        axis=None, keepdims=None):
    """Standard deviation over ``dim`` (unbiased by default).

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.std(hg.tensor([1.0, 3.0])).item(), 4)
        1.4142
    """
    return sqrt(var(a, dim, unbiased, keepdim, correction=correction, axis=axis,
                    keepdims=keepdims))


def amax(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Maximum values over ``dim`` (gradient shared evenly between ties).

    Example:
        >>> import hybridgrad as hg
        >>> hg.amax(hg.tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1).tolist()
        [5.0, 7.0]
    """
    return apply("amax", a, axis=_dims(dim, axis, len(a.shape)), keepdims=_keep(keepdim, keepdims))


def amin(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Minimum values over ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.amin(hg.tensor([3.0, 1.0])).item()
        1.0
    """
    return -amax(-a, dim, keepdim, axis=axis, keepdims=keepdims)


def argmax(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Index of the maximum (of the flattened tensor when ``dim`` is None).

    Example:
        >>> import hybridgrad as hg
        >>> hg.argmax(hg.tensor([1.0, 5.0, 2.0])).item()
        1
    """
    dim = axis if dim is None else dim
    return apply("argmax", a, axis=None if dim is None else _axis(dim, len(a.shape)),
                 keepdims=_keep(keepdim, keepdims))


def argmin(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Index of the minimum. Example: ``hg.argmin(x, dim=1)``."""
    dim = axis if dim is None else dim
    return apply("argmin", a, axis=None if dim is None else _axis(dim, len(a.shape)),
                 keepdims=_keep(keepdim, keepdims))


def max(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):  # noqa: A001
    """PyTorch's ``max``: the overall maximum; ``(values, indices)`` along ``dim``; or, given a
    second tensor, the elementwise maximum.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([[1.0, 5.0], [7.0, 2.0]])
        >>> x.max().item(), x.max(dim=1).indices.tolist()
        (7.0, [1, 0])
    """
    if dim is not None and not isinstance(dim, (int, np.integer, tuple, list)):
        return maximum(a, dim)
    dim = axis if dim is None else dim
    if dim is None:
        return amax(a)
    if isinstance(dim, (tuple, list)):
        return amax(a, dim, keepdim, keepdims=keepdims)
    return ReductionResult(amax(a, dim, keepdim, keepdims=keepdims),
                           argmax(a, dim, keepdim, keepdims=keepdims))


def min(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):  # noqa: A001
    """PyTorch's ``min`` (see :func:`max`).

    Example:
        >>> import hybridgrad as hg
        >>> hg.tensor([3.0, 1.0]).min().item()
        1.0
    """
    if dim is not None and not isinstance(dim, (int, np.integer, tuple, list)):
        return minimum(a, dim)
    dim = axis if dim is None else dim
    if dim is None:
        return amin(a)
    if isinstance(dim, (tuple, list)):
        return amin(a, dim, keepdim, keepdims=keepdims)
    return ReductionResult(amin(a, dim, keepdim, keepdims=keepdims),
                           argmin(a, dim, keepdim, keepdims=keepdims))


def prod(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """Product over ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.prod(hg.tensor([2.0, 3.0, 4.0])).item()
        24.0
    """
    return apply("prod", a, axis=_dims(dim, axis, len(a.shape)), keepdims=_keep(keepdim, keepdims))


def logsumexp(a, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``log(sum(exp(a)))`` over ``dim``, computed stably by shifting by the maximum.

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.logsumexp(hg.tensor([1000.0, 1000.0]), dim=0).item(), 2)
        1000.69
    """
    axes = _dims(dim, axis, len(a.shape))
    shift = amax(a, axes, keepdim=True).detach()
    # A slice of all -inf gives -inf (not NaN from -inf - -inf), as in PyTorch.
    shift = where(isfinite(shift), shift, 0.0)
    total = log(sum(exp(a - shift), axes, keepdim=True)) + shift
    if not _keep(keepdim, keepdims):
        total = _drop_dims(total, axes)
    return total


def _drop_dims(a, axes):
    shape = _shape_of(a)
    if axes is None:
        return a.reshape(())
    return a.reshape(tuple(s for i, s in enumerate(shape) if i not in axes))


def softmax(a, dim: int = -1, *, axis=None):
    """Softmax along ``dim``, stable for large inputs.

    Example:
        >>> import hybridgrad as hg
        >>> hg.softmax(hg.tensor([1000.0, 1000.0])).tolist()
        [0.5, 0.5]
    """
    axes = _dims(dim if axis is None else axis, None, len(a.shape))
    shifted = exp(a - amax(a, axes, keepdim=True).detach())
    return shifted / sum(shifted, axes, keepdim=True)


def log_softmax(a, dim: int = -1, *, axis=None):
    """Logarithm of softmax along ``dim``, computed stably (no log of tiny numbers).

    Example:
        >>> import hybridgrad as hg
        >>> round(hg.log_softmax(hg.tensor([0.0, 1000.0]))[0].item(), 1)
        -1000.0
    """
    axes = _dims(dim if axis is None else axis, None, len(a.shape))
    shifted = a - amax(a, axes, keepdim=True).detach()
    return shifted - log(sum(exp(shifted), axes, keepdim=True))


# ----------------------------------------------------------------------------------------------
# Linear algebra.


def matmul(a, b):
    """Matrix product with NumPy's rules (batched, broadcasting, 1-D vectors).

    Example:
        >>> import hybridgrad as hg
        >>> hg.matmul(hg.ones(2, 3), hg.ones(3)).tolist()
        [3.0, 3.0]
    """
    return apply("matmul", a, b)


# ----------------------------------------------------------------------------------------------
# Shapes.


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(map(int, shape))


def reshape(a, *shape):
    """Reshape (one dimension may be -1).

    Example:
        >>> import hybridgrad as hg
        >>> hg.reshape(hg.arange(6), 2, -1).shape
        (2, 3)
    """
    shape = _shape_arg(shape)
    old = _shape_of(a)
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        total = int(np.prod(old, dtype=np.int64))
        if shape.count(-1) > 1 or known == 0 or total % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {old} into {shape}")
        shape = tuple(total // known if s == -1 else s for s in shape)
    if shape == old:
        return a
    return apply("reshape", a, shape=shape)


view = reshape


def flatten(a, start_dim: int = 0, end_dim: int = -1):
    """Flatten dimensions ``start_dim..end_dim`` into one.

    Example:
        >>> import hybridgrad as hg
        >>> hg.flatten(hg.zeros(2, 3, 4), 1).shape
        (2, 12)
    """
    shape = _shape_of(a)
    if not shape:
        return reshape(a, 1)
    start, end = _axis(start_dim, len(shape)), _axis(end_dim, len(shape))
    merged = int(np.prod(shape[start:end + 1], dtype=np.int64))
    return reshape(a, shape[:start] + (merged,) + shape[end + 1:])


def squeeze(a, dim=None):
    """Remove dimensions of size 1 (only ``dim`` when given).

    Example:
        >>> import hybridgrad as hg
        >>> hg.squeeze(hg.zeros(1, 3, 1)).shape
        (3,)
    """
    shape = _shape_of(a)
    if dim is None:
        return reshape(a, tuple(s for s in shape if s != 1))
    axes = _dims(dim, None, len(shape))
    return reshape(a, tuple(s for i, s in enumerate(shape) if not (i in axes and s == 1)))


def unsqueeze(a, dim: int):
    """Insert a dimension of size 1 at ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.unsqueeze(hg.zeros(3), 0).shape
        (1, 3)
    """
    shape = list(_shape_of(a))
    dim = dim % (len(shape) + 1)
    shape.insert(dim, 1)
    return reshape(a, tuple(shape))


def permute(a, *dims):
    """Reorder dimensions.

    Example:
        >>> import hybridgrad as hg
        >>> hg.permute(hg.zeros(2, 3, 4), 2, 0, 1).shape
        (4, 2, 3)
    """
    dims = _shape_arg(dims)
    ndim = len(_shape_of(a))
    if sorted(d % builtins.max(ndim, 1) for d in dims) != list(range(ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {ndim} dimensions")
    dims = tuple(d % ndim for d in dims)
    if dims == tuple(range(ndim)):
        return a
    return apply("permute", a, dims=dims)


def transpose(a, dim0: int = -2, dim1: int = -1):
    """Swap two dimensions.

    Example:
        >>> import hybridgrad as hg
        >>> hg.transpose(hg.zeros(2, 3), 0, 1).shape
        (3, 2)
    """
    ndim = len(_shape_of(a))
    if ndim < 2:
        return a
    dims = list(range(ndim))
    d0, d1 = _axis(dim0, ndim), _axis(dim1, ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(a, dims)


swapaxes = transpose


def broadcast_to(a, *shape):
    """Broadcast to ``shape`` (NumPy's rules).

    Example:
        >>> import hybridgrad as hg
        >>> hg.broadcast_to(hg.ones(3), 2, 3).shape
        (2, 3)
    """
    shape = _shape_arg(shape)
    if shape == _shape_of(a):
        return a
    return apply("broadcast_to", a, shape=shape)


def expand(a, *sizes):
    """PyTorch's expand: like broadcast_to, with -1 meaning "keep this size".

    Example:
        >>> import hybridgrad as hg
        >>> hg.expand(hg.ones(3, 1), -1, 4).shape
        (3, 4)
    """
    sizes = _shape_arg(sizes)
    old = _shape_of(a)
    lead = len(sizes) - len(old)
    shape = tuple(old[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(a, shape)


def repeat(a, *repeats):
    """PyTorch's ``repeat`` (NumPy's ``tile``): repeat the whole tensor along each dimension.

    Example:
        >>> import hybridgrad as hg
        >>> hg.repeat(hg.tensor([1.0, 2.0]), 2).tolist()
        [1.0, 2.0, 1.0, 2.0]
    """
    repeats = _shape_arg(repeats)
    shape = _shape_of(a)
    if len(repeats) < len(shape):
        raise ValueError(f"repeat: {len(repeats)} repeats for a tensor of shape {shape}")
    shape = (1,) * (len(repeats) - len(shape)) + shape
    interleaved = []
    for size in shape:
        interleaved += [1, size]
    x = reshape(a, tuple(interleaved))
    target = []
    for r, s in zip(repeats, shape):
        target += [r, s]
    x = broadcast_to(x, tuple(target))
    return reshape(x, tuple(r * s for r, s in zip(repeats, shape)))


def cat(tensors: Sequence, dim: int = 0, *, axis=None):
    """Concatenate along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.cat([hg.ones(2), hg.zeros(1)]).tolist()
        [1.0, 1.0, 0.0]
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    dim = axis if axis is not None else dim
    return apply("cat", tensors, axis=_axis(dim, len(_shape_of(tensors[0]))))


concatenate = cat


def stack(tensors: Sequence, dim: int = 0, *, axis=None):
    """Stack tensors of equal shape along a new dimension.

    Example:
        >>> import hybridgrad as hg
        >>> hg.stack([hg.ones(2), hg.zeros(2)]).shape
        (2, 2)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    dim = axis if axis is not None else dim
    shapes = {_shape_of(t) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim % (len(_shape_of(tensors[0])) + 1))


def split(a, split_size_or_sections, dim: int = 0):
    """Split into pieces of ``split_size`` (an int) or of the given sizes (a list).

    Example:
        >>> import hybridgrad as hg
        >>> [p.shape for p in hg.split(hg.zeros(5), 2)]
        [(2,), (2,), (1,)]
    """
    shape = _shape_of(a)
    dim = _axis(dim, len(shape))
    length = shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        sizes = [builtins.min(size, length - start) for start in range(0, length, size)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} do not add up to {length} (dim {dim})")
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * dim + (slice(start, start + size),)
        pieces.append(a[index])
        start += size
    return tuple(pieces)


def chunk(a, chunks: int, dim: int = 0):
    """Split into ``chunks`` nearly equal pieces (PyTorch's rule: ceil-sized pieces).

    Example:
        >>> import hybridgrad as hg
        >>> [p.shape for p in hg.chunk(hg.zeros(5), 2)]
        [(3,), (2,)]
    """
    length = _shape_of(a)[_axis(dim, len(_shape_of(a)))]
    return split(a, builtins.max(1, math.ceil(length / chunks)), dim)


def pad(a, pad: Sequence[int], mode: str = "constant", value: float = 0.0):
    """PyTorch's ``F.pad``: ``pad`` lists (before, after) pairs starting from the last dimension.

    Example:
        >>> import hybridgrad as hg
        >>> hg.pad(hg.ones(2), (1, 2)).tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0]
    """
    pad = [int(p) for p in pad]
    if mode in _INDEX_PAD_MODES:
        return _pad_by_index(a, pad, mode)
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (constant, reflect, "
                                  "replicate, circular)")
    ndim = len(_shape_of(a))
    if len(pad) % 2 or len(pad) // 2 > ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {ndim} dims")
    widths = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        widths[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(p < 0 for pair in widths for p in pair):
        raise ValueError(f"pad: negative padding {pad} is not supported")
    return apply("pad", a, widths=tuple(widths), value=float(value))


# NumPy's names for PyTorch's non-constant padding modes.
_INDEX_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_by_index(a, pad: list, mode: str):
    """Reflect/replicate/circular padding as one gather of positions per padded dimension
    (so the gradient accumulates into the repeated elements)."""
    ndim = len(_shape_of(a))
    if len(pad) % 2 or len(pad) // 2 > ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {ndim} dims")
    for i in range(len(pad) // 2):
        axis = ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        size = _shape_of(a)[axis]
        if mode == "reflect" and (before >= size or after >= size):
            raise ValueError(f"pad: padding ({before}, {after}) should be less than the input "
                             f"dimension {size} for reflect padding")
        positions = np.pad(np.arange(size), (before, after), mode=_INDEX_PAD_MODES[mode])
        index = [slice(None)] * ndim
        index[axis] = positions
        a = getitem(a, tuple(index))
    return a


# ----------------------------------------------------------------------------------------------
# Indexing.


def _freeze_index(index) -> Any:
    """Turn an index into something made of ints, slices, None, Ellipsis and int/bool arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    frozen = []
    for item in index:
        if isinstance(getattr(item, "_array", None), np.ndarray):  # an eager tensor
            item = item._array
        if isinstance(item, range):
            item = np.arange(item.start, item.stop, item.step, dtype=np.int64)
        if isinstance(item, list):
            item = np.asarray([v._array if isinstance(getattr(v, "_array", None), np.ndarray)
                               else v for v in item])
        if isinstance(item, np.ndarray):
            if item.dtype.kind not in "iub":
                raise IndexError(f"index arrays must be integer or bool, got {item.dtype}")
            if item.dtype.kind == "u":
                item = item.astype(np.int64)
        elif isinstance(item, np.integer):
            item = int(item)
        elif isinstance(item, slice):
            item = slice(*(None if v is None else int(v) for v in (item.start, item.stop,
                                                                     item.step)))
        elif not (item is None or item is Ellipsis or isinstance(item, int)):
            raise IndexError(f"unsupported index of type {type(item).__name__}: {item!r}")
        frozen.append(item)
    return tuple(frozen)


def getitem(a, index):
    """``a[index]`` with NumPy semantics (ints, slices with steps, None, Ellipsis, integer and
    boolean arrays). The gradient scatters back, accumulating repeated indices.

    Example:
        >>> import hybridgrad as hg
        >>> hg.getitem(hg.arange(5.0), slice(None, None, 2)).tolist()
        [0.0, 2.0, 4.0]
    """
    return apply("getitem", a, index=_freeze_index(index))


def index_put_add(base_shape, index, values, dtype=None):
    """Zeros of ``base_shape`` with ``values`` added at ``index`` (the adjoint of getitem)."""
    return apply("index_add_zeros", values, shape=tuple(base_shape), index=_freeze_index(index))


def gather(a, dim: int, index):
    """PyTorch's ``gather``: ``out[i][j] = a[i][index[i][j]]`` along ``dim``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.gather(hg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, hg.tensor([[1], [0]])).tolist()
        [[2.0], [3.0]]
    """
    return apply("gather", a, index, axis=_axis(dim, len(_shape_of(a))))


def scatter_add(a, dim: int, index, src):
    """PyTorch's ``scatter_add``: ``out = a`` then ``out[i][index[i][j]] += src[i][j]``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.scatter_add(hg.zeros(3), 0, hg.tensor([0, 0, 2]), hg.ones(3)).tolist()
        [2.0, 0.0, 1.0]
    """
    return apply("scatter_add", a, index, src, axis=_axis(dim, len(_shape_of(a))))
