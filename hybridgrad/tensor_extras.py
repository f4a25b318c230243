"""The rarer Tensor methods of PyTorch: shape helpers over :mod:`hybridgrad.ops.api_shape`,
in-place versions of the elementwise functions (``x.sin_()``, ``x.tril_()``...), in-place
shape changes on tensors outside the graph (``x.unsqueeze_(0)``), and the memory/sharing
queries programs ask (``pin_memory``, ``is_shared``...).

Example:
    >>> import hybridgrad as hg
    >>> x = hg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.select(1, 0).tolist(), x.clone().sin_().shape, x.clone().unsqueeze_(0).shape
    ([1.0, 3.0], (2, 2), (1, 2, 2))
"""

from __future__ import annotations

import numpy as np

from hybridgrad.inplace import apply_inplace
from hybridgrad.ops import api
from hybridgrad.ops import api_shape as S  # noqa: N812 - read as a namespace


class TensorExtrasMixin:
    """Rarer Tensor methods; see the module docstring."""

    __slots__ = ()

    def select(self, dim, index):
        return S.select(self, dim, index)

    def ravel(self):
        return S.ravel(self)

    def rot90(self, k: int = 1, dims=(0, 1)):
        return S.rot90(self, k, dims)

    def unfold(self, dimension: int, size: int, step: int):
        return S.unfold(self, dimension, size, step)

    def tensor_split(self, indices_or_sections, dim: int = 0):
        return S.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, sections):
        return S.hsplit(self, sections)

    def vsplit(self, sections):
        return S.vsplit(self, sections)

    def split_with_sizes(self, split_sizes, dim: int = 0):
        return S.split_with_sizes(self, split_sizes, dim)

    def kron(self, other):
        return S.kron(self, other)

    def aminmax(self, *, dim=None, keepdim: bool = False):
        return S.aminmax(self, dim=dim, keepdim=keepdim)

    def cummin(self, dim):
        return S.cummin(self, dim)

    def logcumsumexp(self, dim):
        return S.logcumsumexp(self, dim)

    def hypot(self, other):
        return S.hypot(self, other)

    def xlogy(self, other):
        return S.xlogy(self, other)

    def logit(self, eps=None):
        return S.logit(self, eps)

    def deg2rad(self):
        return S.deg2rad(self)

    def rad2deg(self):
        return S.rad2deg(self)

    def sinc(self):
        return S.sinc(self)

    def heaviside(self, values):
        return S.heaviside(self, values)

    def signbit(self):
        return S.signbit(self)

    def copysign(self, other):
        return S.copysign(self, other)

    def fmax(self, other):
        return S.fmax(self, other)

    def fmin(self, other):
        return S.fmin(self, other)

    def float_power(self, exponent):
        return S.float_power(self, exponent)

    def logaddexp2(self, other):
        return S.logaddexp2(self, other)

    def erfc(self):
        return S.erfc(self)

    def positive(self):
        return self

    def absolute(self):
        return api.abs(self)

    def isin(self, test_elements, *, invert: bool = False):
        return S.isin(self, test_elements, invert=invert)

    def isreal(self):
        from hybridgrad.ops.api_math import isreal

        return isreal(self)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        from hybridgrad.ops.api_linalg import addbmm

        return addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        from hybridgrad.ops.api_linalg import addmv

        return addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        from hybridgrad.ops.api_linalg import addr

        return addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def vdot(self, other):
        from hybridgrad.ops.api_linalg import vdot

        return vdot(self, other)

    def nanquantile(self, q, dim=None, keepdim: bool = False):
        from hybridgrad.ops.api_index import quantile

        kept = api.getitem(api.reshape(self, -1), ~np.isnan(self._array.reshape(-1)))
        if dim is not None:
            raise NotImplementedError("nanquantile with dim is not supported")
        return quantile(kept, q, keepdim=keepdim)

    def index_copy(self, dim, index, source):
        positions = np.asarray(getattr(index, "_array", index)).astype(np.int64)
        selector = [slice(None)] * self.ndim
        selector[dim % self.ndim] = positions
        mask = np.zeros(self.shape, dtype=bool)
        mask[tuple(selector)] = True
        placed = api.index_put_add(tuple(self.shape), tuple(selector), source)
        return api.where(mask, placed, self)

    def index_copy_(self, dim, index, source):
        return apply_inplace(self, "index_copy_",
                             lambda x, s: TensorExtrasMixin.index_copy(x, dim, index, s), source)

    def index_fill(self, dim, index, value):
        return self.clone().index_fill_(dim, index, value) if not self.requires_grad else \
            api.where(_index_mask(self, dim, index), value, self)

    def masked_scatter(self, mask, source):
        mask_array = np.broadcast_to(np.asarray(getattr(mask, "_array", mask)), self.shape)
        count = int(mask_array.sum())
        values = api.getitem(api.reshape(source, -1), slice(0, count))
        placed = api.index_put_add(tuple(self.shape), np.nonzero(mask_array), values)
        return api.where(mask_array, placed, self)

    def masked_scatter_(self, mask, source):
        return apply_inplace(self, "masked_scatter_",
                             lambda x, s: TensorExtrasMixin.masked_scatter(x, mask, s), source)

    def put_(self, index, source, accumulate: bool = False):
        flat = np.asarray(getattr(index, "_array", index)).reshape(-1)
        coordinates = np.unravel_index(flat % self._array.size, self.shape)
        mask = np.zeros(self.shape, dtype=bool)
        mask[coordinates] = True

        def put(x, s):
            placed = api.index_put_add(tuple(x.shape), coordinates, api.reshape(s, -1))
            return x + placed if accumulate else api.where(mask, placed, x)

        return apply_inplace(self, "put_", put, source)

    def sum_to_size(self, *size):
        from hybridgrad.autograd import sum_to

        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return sum_to(self, size)

    def is_nonzero(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._array.reshape(-1)[0])

    def is_same_size(self, other) -> bool:
        return tuple(self.shape) == tuple(other.shape)

    @property
    def retains_grad(self) -> bool:
        return bool(self._retains_grad)

    @property
    def name(self):
        return None  # named tensors are not supported; PyTorch's default is None

    @property
    def mH(self):  # noqa: N802 - PyTorch's name
        return api.transpose(self, -2, -1)

    @property
    def real(self):
        return self

    # Memory and sharing: one process, host memory.
    def pin_memory(self, device=None):
        return self

    def is_pinned(self, device=None) -> bool:
        return False

    def share_memory_(self):
        return self

    def is_shared(self) -> bool:
        return False

    def is_inference(self) -> bool:
        return False

    def bfloat16(self, memory_format=None):
        from hybridgrad.dtype_info import bfloat16

        return self.to(bfloat16)

    # In-place shape changes (tensors outside the graph only: the graph keeps their old shape).
    def _reshape_in_place(self, name: str, shape: tuple):
        from hybridgrad.autograd import is_grad_enabled

        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(f"{name}: changing the shape in place of a tensor that requires "
                               f"grad is not supported; use the out-of-place form")
        self._array = self._array.reshape(shape)
        return self

    def unsqueeze_(self, dim):
        return self._reshape_in_place("unsqueeze_", tuple(api.unsqueeze(self.detach(), dim).shape))

    def squeeze_(self, dim=None):
        return self._reshape_in_place("squeeze_", tuple(api.squeeze(self.detach(), dim).shape))

    def transpose_(self, dim0, dim1):
        from hybridgrad.autograd import is_grad_enabled

        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("transpose_: use the out-of-place transpose on tensors that "
                               "require grad")
        self._array = np.swapaxes(self._array, dim0, dim1)
        return self

    swapaxes_ = swapdims_ = transpose_

    def t_(self):
        return self.transpose_(0, 1) if self.ndim == 2 else self

    def resize_(self, *sizes, memory_format=None):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) \
            else tuple(sizes)
        count = int(np.prod(sizes, dtype=np.int64))
        flat = self._array.reshape(-1)
        if count <= flat.size:
            self._array = flat[:count].reshape(sizes).copy()
        else:
            grown = np.zeros(count, dtype=self._array.dtype)
            grown[:flat.size] = flat
            self._array = grown.reshape(sizes)
        return self

    def resize_as_(self, other, memory_format=None):
        return self.resize_(tuple(other.shape))

    def apply_(self, function):
        """Call a Python function on every element, in place (CPU tensors, as PyTorch)."""
        values = np.vectorize(function, otypes=[self.dtype])(self._array)
        return apply_inplace(self, "apply_", lambda: values, values_only=True)

    def map_(self, other, function):
        values = np.vectorize(function, otypes=[self.dtype])(
            self._array, np.broadcast_to(other._array, self.shape))
        return apply_inplace(self, "map_", lambda: values, values_only=True)


def _index_mask(tensor, dim, index):
    positions = np.asarray(getattr(index, "_array", index)).reshape(-1)
    selector = [slice(None)] * tensor.ndim
    selector[dim % tensor.ndim] = positions
    mask = np.zeros(tensor.shape, dtype=bool)
    mask[tuple(selector)] = True
    return mask


def _inplace_method(name: str):
    """``x.name_(*args)``: ``x.name(*args)`` written back into ``x`` (see :mod:`inplace`)."""

    def method(self, *args, **kwargs):
        # Tensor arguments go to apply_inplace too: one that requires grad makes the operation
        # recorded even when this tensor does not require grad (buffer.addmm_(a, w)).
        watched = [value for value in (*args, *kwargs.values()) if hasattr(value, "_array")]
        return apply_inplace(self, name + "_",
                             lambda x, *_: getattr(x, name)(*args, **kwargs), *watched)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place :meth:`{name}` (written into this tensor's storage)."
    return method


# PyTorch's in-place twins of elementwise and same-shape methods. The tensor arguments of
# binary ones (atan2_, hypot_...) are captured by the closure: recorded in-place operations
# still differentiate through them because the lambda calls the differentiable method.
_INPLACE_TWINS = (
    "absolute", "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_left_shift",
    "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "copysign", "cos",
    "cosh", "cumprod", "cumsum", "deg2rad", "eq", "erf", "erfc", "exp2", "expm1", "fix",
    "float_power", "floor_divide", "fmod", "frac", "ge", "greater", "greater_equal", "gt",
    "heaviside", "hypot", "le", "less", "less_equal", "log10", "log1p", "log2", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logit", "lt", "nan_to_num", "ne", "negative",
    "not_equal", "rad2deg", "reciprocal", "remainder", "rsqrt", "sgn", "sin", "sinc", "sinh",
    "square", "tan", "tril", "triu", "xlogy", "addmm", "addbmm", "addmv", "addr", "baddbmm",
    "logaddexp",
)
for _name in _INPLACE_TWINS:
    if not hasattr(TensorExtrasMixin, _name + "_"):
        setattr(TensorExtrasMixin, _name + "_", _inplace_method(_name))
