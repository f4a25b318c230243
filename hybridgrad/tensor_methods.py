"""PyTorch's Tensor methods beyond the operator mixin: ``x.floor()``, ``x.topk(k)``,
``x.new_zeros(...)``, ``x.type(...)``, ``x.view_as(y)``, ``f"{loss:.4f}"``...

Each method calls the function of the same name (:mod:`hybridgrad.ops.api_math`,
:mod:`~hybridgrad.ops.api_index`, :mod:`~hybridgrad.ops.api_linalg`), so ``x.name(...)`` and
``hg.name(x, ...)`` always agree.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.tensor([3.0, 1.0, 2.0])
    >>> x.sort().values.tolist(), x.floor().eq(x).all().item(), f"{x.sum():.2f}"
    ([1.0, 2.0, 3.0], True, '6.00')
"""

# ruff: noqa: A001, A002 - PyTorch names its arguments input, min, max, sorted
from __future__ import annotations

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops import api as F
from hybridgrad.ops import api_index as I  # noqa: N812 - short module aliases, read as namespaces
from hybridgrad.ops import api_linalg as L  # noqa: N812
from hybridgrad.ops import api_math as M  # noqa: N812

# Legacy type names (``x.type()``) by dtype, and back.
_TYPE_NAMES = {
    np.dtype("float32"): "FloatTensor", np.dtype("float64"): "DoubleTensor",
    np.dtype("float16"): "HalfTensor", np.dtype("int64"): "LongTensor",
    np.dtype("int32"): "IntTensor", np.dtype("int16"): "ShortTensor",
    np.dtype("int8"): "CharTensor", np.dtype("uint8"): "ByteTensor",
    np.dtype("bool"): "BoolTensor",
}
_DTYPES_BY_NAME = {name: dtype for dtype, name in _TYPE_NAMES.items()}


def type_name(dtype) -> str:
    """PyTorch's legacy type string of a dtype (``'torch.FloatTensor'`` for float32).

    Example:
        >>> type_name(np.float64)
        'torch.DoubleTensor'
    """
    return "torch." + _TYPE_NAMES.get(np.dtype(dtype), "Tensor")


def dtype_of_type(value) -> np.dtype:
    """The dtype named by a legacy type string or object (``"torch.LongTensor"``,
    ``hg.FloatTensor``) or by a dtype.

    Example:
        >>> dtype_of_type("torch.LongTensor"), dtype_of_type("hybridgrad.FloatTensor")
        (dtype('int64'), dtype('float32'))
    """
    legacy = getattr(value, "_legacy_dtype", None)
    if legacy is not None:
        return legacy
    if isinstance(value, str):
        name = value.rsplit(".", 1)[-1]
        if name in _DTYPES_BY_NAME:
            return _DTYPES_BY_NAME[name]
        raise ValueError(f"invalid type: '{value}'")
    return dtypes.to_dtype(value)


class TorchMethodsMixin:
    """Tensor methods with PyTorch's names that call the functions of the same name."""

    __slots__ = ()

    # Elementwise math.
    def floor(self):
        return M.floor(self)

    def ceil(self):
        return M.ceil(self)

    def round(self, decimals: int = 0):
        return M.round(self, decimals=decimals)

    def trunc(self):
        return M.trunc(self)

    fix = trunc

    def frac(self):
        return M.frac(self)

    def tan(self):
        return M.tan(self)

    def asin(self):
        return M.asin(self)

    def acos(self):
        return M.acos(self)

    def atan(self):
        return M.atan(self)

    def atan2(self, other):
        return M.atan2(self, other)

    def sinh(self):
        return M.sinh(self)

    def cosh(self):
        return M.cosh(self)

    def asinh(self):
        return M.asinh(self)

    def acosh(self):
        return M.acosh(self)

    def atanh(self):
        return M.atanh(self)

    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def log1p(self):
        return M.log1p(self)

    def expm1(self):
        return M.expm1(self)

    def log2(self):
        return M.log2(self)

    def log10(self):
        return M.log10(self)

    def exp2(self):
        return M.exp2(self)

    def rsqrt(self):
        return M.rsqrt(self)

    def reciprocal(self):
        return M.reciprocal(self)

    def square(self):
        return M.square(self)

    def sgn(self):
        return M.sgn(self)

    def erf(self):
        return F.erf(self)

    def nan_to_num(self, nan: float = 0.0, posinf=None, neginf=None):
        return M.nan_to_num(self, nan, posinf, neginf)

    def logaddexp(self, other):
        return M.logaddexp(self, other)

    def lerp(self, end, weight):
        return M.lerp(self, end, weight)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return M.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return M.addcdiv(self, tensor1, tensor2, value=value)

    # Arithmetic with PyTorch's keyword forms.
    def add(self, other, *, alpha=1):
        return F.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return F.sub(self, other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other):
        return F.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        return M.div(self, other, rounding_mode=rounding_mode)

    divide = div

    def true_divide(self, other):
        return F.div(self, other)

    def floor_divide(self, other):
        return M.floor_divide(self, other)

    def remainder(self, other):
        return M.remainder(self, other)

    def fmod(self, other):
        return M.fmod(self, other)

    def neg(self):
        return F.neg(self)

    negative = neg

    def __floordiv__(self, other):
        return M.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return M.floor_divide(other, self)

    def __mod__(self, other):
        return M.remainder(self, other)

    def __rmod__(self, other):
        return M.remainder(other, self)

    def __xor__(self, other):
        return M.bitwise_xor(self, other) if self.dtype.kind != "b" else M.logical_xor(self,
                                                                                         other)

    __rxor__ = __xor__

    # & | ~ are bitwise on integers (as PyTorch), logical on everything else.
    def __and__(self, other):
        if self.dtype.kind in "iu":
            return M.bitwise_and(self, other)
        return F.logical_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        if self.dtype.kind in "iu":
            return M.bitwise_or(self, other)
        return F.logical_or(self, other)

    __ror__ = __or__

    def __invert__(self):
        if self.dtype.kind in "iu":
            return M.bitwise_not(self)
        return F.logical_not(self)

    def __lshift__(self, other):
        return M.bitwise_left_shift(self, other)

    def __rshift__(self, other):
        return M.bitwise_right_shift(self, other)

    # Comparisons and tests.
    def eq(self, other):
        return F.eq(self, other)

    def ne(self, other):
        return F.ne(self, other)

    not_equal = ne

    def lt(self, other):
        return F.lt(self, other)

    less = lt

    def le(self, other):
        return F.le(self, other)

    less_equal = le

    def gt(self, other):
        return F.gt(self, other)

    greater = gt

    def ge(self, other):
        return F.ge(self, other)

    greater_equal = ge

    def equal(self, other) -> bool:
        return equal(self, other)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        return allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
        return isclose(self, other, rtol, atol, equal_nan)

    def isnan(self):
        return F.isnan(self)

    def isfinite(self):
        return F.isfinite(self)

    def isinf(self):
        return M.isinf(self)

    def isposinf(self):
        return M.isposinf(self)

    def isneginf(self):
        return M.isneginf(self)

    def logical_and(self, other):
        return F.logical_and(self, other)

    def logical_or(self, other):
        return F.logical_or(self, other)

    def logical_not(self):
        return F.logical_not(self)

    def logical_xor(self, other):
        return M.logical_xor(self, other)

    def bitwise_and(self, other):
        return M.bitwise_and(self, other)

    def bitwise_or(self, other):
        return M.bitwise_or(self, other)

    def bitwise_xor(self, other):
        return M.bitwise_xor(self, other)

    def bitwise_not(self):
        return M.bitwise_not(self)

    def clamp_min(self, min):  # noqa: A002
        return M.clamp_min(self, min)

    def clamp_max(self, max):  # noqa: A002
        return M.clamp_max(self, max)

    # Reductions and scans.
    def cumsum(self, dim, *, dtype=None):
        return M.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return M.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim):
        return M.cummax(self, dim)

    def diff(self, n: int = 1, dim: int = -1):
        return M.diff(self, n, dim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
        return L.norm(self, p, dim, keepdim, dtype)

    def dist(self, other, p: float = 2):
        return L.dist(self, other, p)

    def median(self, dim=None, keepdim: bool = False):
        return I.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim: bool = False):
        return I.nanmedian(self, dim, keepdim)

    def mode(self, dim: int = -1, keepdim: bool = False):
        return I.mode(self, dim, keepdim)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
        return I.kthvalue(self, k, dim, keepdim)

    def quantile(self, q, dim=None, keepdim: bool = False, interpolation: str = "linear"):
        return I.quantile(self, q, dim, keepdim, interpolation)

    def nansum(self, dim=None, keepdim: bool = False):
        return F.sum(F.where(F.isnan(self), 0.0, self), dim, keepdim)

    def nanmean(self, dim=None, keepdim: bool = False):
        kept = F.logical_not(F.isnan(self))
        return self.nansum(dim, keepdim) / F.sum(F.to(kept, self.dtype), dim, keepdim)

    def count_nonzero(self, dim=None):
        return I.count_nonzero(self, dim)

    def all(self, dim=None, keepdim: bool = False):
        return _truth(self, np.all, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False):
        return _truth(self, np.any, dim, keepdim)

    # Products.
    def mm(self, mat2):
        return L.mm(self, mat2)

    def bmm(self, mat2):
        return L.bmm(self, mat2)

    def mv(self, vec):
        return L.mv(self, vec)

    def dot(self, other):
        return L.dot(self, other)

    inner = dot

    def outer(self, other):
        return L.outer(self, other)

    ger = outer

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return L.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return L.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def cross(self, other, dim=None):
        return L.cross(self, other, dim)

    def diag(self, diagonal: int = 0):
        return L.diag(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        return L.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1):
        return L.diag_embed(self, offset, dim1, dim2)

    def trace(self):
        return L.trace(self)

    def tril(self, diagonal: int = 0):
        return I.tril(self, diagonal)

    def triu(self, diagonal: int = 0):
        return I.triu(self, diagonal)

    # Indexing, sorting, selection.
    def index_select(self, dim, index):
        return I.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return I.masked_fill(self, mask, value)

    def masked_select(self, mask):
        return I.masked_select(self, mask)

    def narrow(self, dim, start, length):
        return I.narrow(self, dim, start, length)

    def unbind(self, dim: int = 0):
        return I.unbind(self, dim)

    def flip(self, *dims):
        return I.flip(self, dims[0] if len(dims) == 1 else dims)

    def fliplr(self):
        return I.fliplr(self)

    def flipud(self):
        return I.flipud(self)

    def roll(self, shifts, dims=None):
        return I.roll(self, shifts, dims)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return I.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return I.argsort(self, dim, descending, stable)

    def msort(self):
        return I.msort(self)

    def topk(self, k, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        return I.topk(self, k, dim, largest, sorted)

    def nonzero(self, *, as_tuple: bool = False):
        return I.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return I.argwhere(self)

    def unique(self, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
               return_counts: bool = False, dim=None):
        return I.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse: bool = False, return_counts: bool = False,
                           dim=None):
        return I.unique_consecutive(self, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength: int = 0):
        return I.bincount(self, weights, minlength)

    def histc(self, bins: int = 100, min: float = 0, max: float = 0):  # noqa: A002
        return I.histc(self, bins, min, max)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None):
        return I.multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        return I.bernoulli(self, p, generator=generator)

    def take(self, index):
        return I.take(self, index)

    def take_along_dim(self, indices, dim=None):
        return I.take_along_dim(self, indices, dim)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        return I.scatter(self, dim, index, src, value, reduce=reduce)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        from hybridgrad.inplace import apply_inplace

        if hasattr(src, "_array"):  # a source tensor may carry gradient
            return apply_inplace(self, "scatter_", lambda x, s: I.scatter(
                x, dim, index, s, value, reduce=reduce), src)
        return apply_inplace(self, "scatter_", lambda x: I.scatter(x, dim, index, src, value,
                                                                   reduce=reduce))

    def scatter_add_(self, dim, index, src):
        from hybridgrad.inplace import apply_inplace

        return apply_inplace(self, "scatter_add_", lambda x, s: F.scatter_add(x, dim, index, s),
                             src)

    def index_add(self, dim, index, source, *, alpha=1):
        positions = np.asarray(getattr(index, "_array", index)).astype(np.int64)
        selector = [slice(None)] * self.ndim
        selector[dim % self.ndim] = positions
        source = source if alpha == 1 else source * alpha
        return self + F.index_put_add(tuple(self.shape), tuple(selector), source)

    def index_add_(self, dim, index, source, *, alpha=1):
        from hybridgrad.inplace import apply_inplace

        return apply_inplace(self, "index_add_",
                             lambda x, s: TorchMethodsMixin.index_add(x, dim, index, s,
                                                                      alpha=alpha), source)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        counts = np.asarray(getattr(repeats, "_array", repeats)).astype(np.int64)
        source = F.reshape(self, -1) if dim is None else self
        axis = 0 if dim is None else dim % source.ndim
        positions = np.repeat(np.arange(source.shape[axis]), counts)
        return I.index_select(source, axis, positions)

    # Shapes and views.
    def view_as(self, other):
        return F.reshape(self, tuple(other.shape))

    def reshape_as(self, other):
        return F.reshape(self, tuple(other.shape))

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self if self.ndim < 2 else F.transpose(self, 0, 1)

    def swapaxes(self, axis0, axis1):
        return F.transpose(self, axis0, axis1)

    swapdims = swapaxes

    def movedim(self, source, destination):
        source = [source] if isinstance(source, int) else list(source)
        destination = [destination] if isinstance(destination, int) else list(destination)
        ndim = self.ndim
        source = [s % ndim for s in source]
        destination = [d % ndim for d in destination]
        order = [d for d in range(ndim) if d not in source]
        for target, origin in sorted(zip(destination, source)):
            order.insert(target, origin)
        return F.permute(self, tuple(order))

    moveaxis = movedim

    def unflatten(self, dim, sizes):
        dim = dim % self.ndim
        sizes = tuple(sizes)
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes = tuple(self.shape[dim] // known if s == -1 else s for s in sizes)
        return F.reshape(self, tuple(self.shape[:dim]) + sizes + tuple(self.shape[dim + 1:]))

    def tile(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        dims = (1,) * (self.ndim - len(dims)) + tuple(dims)
        return F.repeat(self, *dims)

    def contiguous(self, memory_format=None):
        return self

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._array.flags.c_contiguous)

    def stride(self, dim=None):
        itemsize = self._array.itemsize
        strides = tuple(s // itemsize for s in self._array.strides)
        return strides if dim is None else strides[dim]

    def data_ptr(self) -> int:
        return int(self._array.__array_interface__["data"][0])

    def storage_offset(self) -> int:
        return 0

    def nelement(self) -> int:
        return int(self._array.size)

    def ndimension(self) -> int:
        return self._array.ndim

    def element_size(self) -> int:
        return int(self._array.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self._array.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self._array.nbytes)

    @property
    def H(self):  # noqa: N802 - PyTorch's name (the conjugate transpose; real tensors here)
        return self.t()

    @property
    def layout(self) -> str:
        return "torch.strided"

    @property
    def is_sparse(self) -> bool:
        return False

    # No accelerator backends are installed: PyTorch programs test these before data_parallel.
    @property
    def is_xpu(self) -> bool:
        return False

    @property
    def is_mps(self) -> bool:
        return False

    @property
    def is_xla(self) -> bool:
        return False

    @property
    def is_nested(self) -> bool:
        return False

    @property
    def is_mkldnn(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def is_meta(self) -> bool:
        return False

    # New tensors like this one (dtype and device of self unless given).
    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False, **_):
        from hybridgrad.factories import zeros

        return zeros(*size, dtype=dtype or self.dtype, device=device,
                     requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False, **_):
        from hybridgrad.factories import ones

        return ones(*size, dtype=dtype or self.dtype, device=device,
                    requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False, **_):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None,
                 requires_grad: bool = False, **_):
        from hybridgrad.factories import full

        return full(size, fill_value, dtype=dtype or self.dtype, device=device,
                    requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False, **_):
        from hybridgrad.factories import tensor

        return tensor(data, dtype=dtype or self.dtype, device=device,
                      requires_grad=requires_grad)

    # Types.
    def type(self, dtype=None, non_blocking: bool = False, **_):
        """``x.type()`` is PyTorch's type string; ``x.type(t)`` casts to a dtype, a legacy type
        (``hg.LongTensor``) or a type string (``'torch.DoubleTensor'``)."""
        if dtype is None:
            return type_name(self.dtype)
        return F.to(self, dtype_of_type(dtype))

    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self.dtype.kind == "c"

    def is_signed(self) -> bool:
        return self.dtype.kind in "fic"

    def half(self, memory_format=None):
        return F.to(self, dtypes.float16)

    def int(self, memory_format=None):
        return F.to(self, dtypes.int32)

    def short(self, memory_format=None):
        return F.to(self, np.dtype("int16"))

    def char(self, memory_format=None):
        return F.to(self, np.dtype("int8"))

    def byte(self, memory_format=None):
        return F.to(self, dtypes.uint8)

    def __format__(self, spec: str) -> str:
        # f"{loss:.4f}": a 0-d tensor formats as its number, as PyTorch.
        if self._array.ndim == 0:
            return format(self._array.item(), spec)
        return format(str(self), spec)


def _truth(tensor, reduce, dim, keepdim):
    array = tensor._array
    result = reduce(array, axis=dim, keepdims=keepdim) if dim is not None else reduce(array)
    return type(tensor)._wrap(np.asarray(result))


def equal(input, other) -> bool:
    """True when both have the same shape and elements.

    Example:
        >>> import hybridgrad as hg
        >>> hg.equal(hg.tensor([1, 2]), hg.tensor([1, 2])), hg.equal(hg.ones(2), hg.ones(3))
        (True, False)
    """
    a, b = np.asarray(input._array), np.asarray(getattr(other, "_array", other))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """Elementwise ``|a - b| <= atol + rtol * |b|``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.isclose(hg.tensor([1.0, 2.0]), hg.tensor([1.0 + 1e-7, 2.1])).tolist()
        [True, False]
    """
    a, b = input._array, np.asarray(getattr(other, "_array", other))
    return type(input)._wrap(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when every element :func:`isclose`.

    Example:
        >>> import hybridgrad as hg
        >>> hg.allclose(hg.tensor([1.0]), hg.tensor([1.0 + 1e-9]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._array.all())
