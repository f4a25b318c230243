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
from hybridgrad.ops import api
from hybridgrad.ops import api_index as I  # noqa: N812 - short module aliases, read as namespaces
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

    # Arithmetic with PyTorch's keyword forms.

    # & | ~ are bitwise on integers (as PyTorch), logical on everything else.
    def __and__(self, other):
        if self.dtype.kind in "iu":
            return M.bitwise_and(self, other)
        return api.logical_and(self, other)

    __rand__ = __and__

    def __or__(self, other):
        if self.dtype.kind in "iu":
            return M.bitwise_or(self, other)
        return api.logical_or(self, other)

    __ror__ = __or__

    def __invert__(self):
        if self.dtype.kind in "iu":
            return M.bitwise_not(self)
        return api.logical_not(self)

    # Comparisons and tests.

    def equal(self, other) -> bool:
        return equal(self, other)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        return allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
        return isclose(self, other, rtol, atol, equal_nan)

    # Reductions and scans.

    def cummax(self, dim):
        return M.cummax(self, dim)

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

    def count_nonzero(self, dim=None):
        return I.count_nonzero(self, dim)

    def all(self, dim=None, keepdim: bool = False):
        return _truth(self, np.all, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False):
        return _truth(self, np.any, dim, keepdim)

    # Products.

    # Indexing, sorting, selection.

    def masked_select(self, mask):
        return I.masked_select(self, mask)

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

        return apply_inplace(self, "scatter_add_", lambda x, s: api.scatter_add(x, dim, index, s),
                             src)

    def index_add(self, dim, index, source, *, alpha=1):
        positions = np.asarray(getattr(index, "_array", index)).astype(np.int64)
        selector = [slice(None)] * self.ndim
        selector[dim % self.ndim] = positions
        source = source if alpha == 1 else source * alpha
        return self + api.index_put_add(tuple(self.shape), tuple(selector), source)

    def index_add_(self, dim, index, source, *, alpha=1):
        from hybridgrad.inplace import apply_inplace

        return apply_inplace(self, "index_add_",
                             lambda x, s: TorchMethodsMixin.index_add(x, dim, index, s,
                                                                      alpha=alpha), source)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        counts = np.asarray(getattr(repeats, "_array", repeats)).astype(np.int64)
        source = api.reshape(self, -1) if dim is None else self
        axis = 0 if dim is None else dim % source.ndim
        positions = np.repeat(np.arange(source.shape[axis]), counts)
        return I.index_select(source, axis, positions)

    # Shapes and views.

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

    # Dense CPU tensors only, and no accelerator backend is installed: PyTorch programs test
    # these flags (before data_parallel, sparse paths...). Plain class constants.
    is_sparse = is_xpu = is_mps = is_xla = is_nested = is_mkldnn = is_quantized = False
    is_meta = False

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
        return api.to(self, dtype_of_type(dtype))

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
