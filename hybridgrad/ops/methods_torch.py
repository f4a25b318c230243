"""PyTorch's Tensor methods that are compositions of primitives (``x.floor()``,
``x.masked_fill(m, v)``, ``x.view_as(y)``, ``x.norm(dim=1)``, ``x.t()``...), shared by eager
tensors and symbols through :class:`hybridgrad.ops.methods.OpsMixin`, so a module written with
them also traces (``hybridize``, ONNX export). Methods that need concrete values (``sort``,
``topk``, ``nonzero``, ``unique``...) are on :class:`hybridgrad.Tensor` only.

Example:
    >>> import hybridgrad as hg
    >>> hg.tensor([[1.5, -2.5]]).floor().t().tolist()
    [[1.0], [-3.0]]
"""

# ruff: noqa: A001, A002, A003 - PyTorch's method and argument names
from __future__ import annotations

import numpy as np

from hybridgrad import dtypes
from hybridgrad.ops import api
from hybridgrad.ops import api_index as I  # noqa: N812 - short module aliases, read as namespaces
from hybridgrad.ops import api_linalg as L  # noqa: N812
from hybridgrad.ops import api_math as M  # noqa: N812


class ComposedMethodsMixin:
    """Tensor/Symbol methods with PyTorch's names, each calling the function of that name."""

    __slots__ = ()

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
        return api.erf(self)

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

    def add(self, other, *, alpha=1):
        return api.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return api.sub(self, other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other):
        return api.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        return M.div(self, other, rounding_mode=rounding_mode)

    divide = div

    def true_divide(self, other):
        return api.div(self, other)

    def floor_divide(self, other):
        return M.floor_divide(self, other)

    def remainder(self, other):
        return M.remainder(self, other)

    def fmod(self, other):
        return M.fmod(self, other)

    def neg(self):
        return api.neg(self)

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

    def __lshift__(self, other):
        return M.bitwise_left_shift(self, other)

    def __rshift__(self, other):
        return M.bitwise_right_shift(self, other)

    def eq(self, other):
        return api.eq(self, other)

    def ne(self, other):
        return api.ne(self, other)

    not_equal = ne

    def lt(self, other):
        return api.lt(self, other)

    less = lt

    def le(self, other):
        return api.le(self, other)

    less_equal = le

    def gt(self, other):
        return api.gt(self, other)

    greater = gt

    def ge(self, other):
        return api.ge(self, other)

    greater_equal = ge

    def isnan(self):
        return api.isnan(self)

    def isfinite(self):
        return api.isfinite(self)

    def isinf(self):
        return M.isinf(self)

    def isposinf(self):
        return M.isposinf(self)

    def isneginf(self):
        return M.isneginf(self)

    def logical_and(self, other):
        return api.logical_and(self, other)

    def logical_or(self, other):
        return api.logical_or(self, other)

    def logical_not(self):
        return api.logical_not(self)

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

    def cumsum(self, dim, *, dtype=None):
        return M.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None):
        return M.cumprod(self, dim, dtype=dtype)

    def diff(self, n: int = 1, dim: int = -1):
        return M.diff(self, n, dim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
        return L.norm(self, p, dim, keepdim, dtype)

    def dist(self, other, p: float = 2):
        return L.dist(self, other, p)

    def nansum(self, dim=None, keepdim: bool = False):
        return api.sum(api.where(api.isnan(self), 0.0, self), dim, keepdim)

    def nanmean(self, dim=None, keepdim: bool = False):
        kept = api.logical_not(api.isnan(self))
        return self.nansum(dim, keepdim) / api.sum(api.to(kept, self.dtype), dim, keepdim)

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

    def index_select(self, dim, index):
        return I.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return I.masked_fill(self, mask, value)

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

    def take(self, index):
        return I.take(self, index)

    def take_along_dim(self, indices, dim=None):
        return I.take_along_dim(self, indices, dim)

    def view_as(self, other):
        return api.reshape(self, tuple(other.shape))

    def reshape_as(self, other):
        return api.reshape(self, tuple(other.shape))

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self if self.ndim < 2 else api.transpose(self, 0, 1)

    def swapaxes(self, axis0, axis1):
        return api.transpose(self, axis0, axis1)

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
        return api.permute(self, tuple(order))

    moveaxis = movedim

    def unflatten(self, dim, sizes):
        dim = dim % self.ndim
        sizes = tuple(sizes)
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes = tuple(self.shape[dim] // known if s == -1 else s for s in sizes)
        return api.reshape(self, tuple(self.shape[:dim]) + sizes + tuple(self.shape[dim + 1:]))

    def tile(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        dims = (1,) * (self.ndim - len(dims)) + tuple(dims)
        return api.repeat(self, *dims)

    def contiguous(self, memory_format=None):
        return self

    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self.dtype.kind == "c"

    def is_signed(self) -> bool:
        return self.dtype.kind in "fic"

    def half(self, memory_format=None):
        return api.to(self, dtypes.float16)

    def int(self, memory_format=None):
        return api.to(self, dtypes.int32)

    def short(self, memory_format=None):
        return api.to(self, np.dtype("int16"))

    def char(self, memory_format=None):
        return api.to(self, np.dtype("int8"))

    def byte(self, memory_format=None):
        return api.to(self, dtypes.uint8)
