"""Operator methods shared by eager tensors and symbols (``x + y``, ``x.sum()``, ``x.T``, ...).

Both :class:`hybridgrad.Tensor` and :class:`hybridgrad.symbolic.Symbol` inherit this mixin, so
every operator a tensor has, a symbol has, with the same names and broadcasting.

Example:
    >>> import hybridgrad as hg
    >>> (hg.ones(2, 3).T @ hg.ones(2)).tolist()
    [2.0, 2.0, 2.0]
"""

from __future__ import annotations

from hybridgrad.ops import api
from hybridgrad.ops.methods_torch import ComposedMethodsMixin


class OpsMixin(ComposedMethodsMixin):
    """Python operators and methods, each one call into :mod:`hybridgrad.ops.api`."""

    __slots__ = ()
    # NumPy must defer to our reflected operators (ndarray + Tensor -> Tensor.__radd__).
    __array_priority__ = 1000

    # Arithmetic.
    def __add__(self, other):
        return api.add(self, other)

    def __radd__(self, other):
        return api.add(other, self)

    def __sub__(self, other):
        return api.sub(self, other)

    def __rsub__(self, other):
        return api.sub(other, self)

    def __mul__(self, other):
        return api.mul(self, other)

    def __rmul__(self, other):
        return api.mul(other, self)

    def __truediv__(self, other):
        return api.div(self, other)

    def __rtruediv__(self, other):
        return api.div(other, self)

    def __pow__(self, other):
        return api.pow(self, other)

    def __rpow__(self, other):
        return api.pow(other, self)

    def __matmul__(self, other):
        return api.matmul(self, other)

    def __rmatmul__(self, other):
        return api.matmul(other, self)

    def __neg__(self):
        return api.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return api.abs(self)

    # Comparisons (no gradient). __eq__ is elementwise, as in PyTorch and NumPy.
    def __eq__(self, other):  # type: ignore[override]
        return api.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return api.ne(self, other)

    def __lt__(self, other):
        return api.lt(self, other)

    def __le__(self, other):
        return api.le(self, other)

    def __gt__(self, other):
        return api.gt(self, other)

    def __ge__(self, other):
        return api.ge(self, other)

    def __and__(self, other):
        return api.logical_and(self, other)

    def __or__(self, other):
        return api.logical_or(self, other)

    def __invert__(self):
        return api.logical_not(self)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return api.getitem(self, index)

    # Methods with PyTorch's names.
    def exp(self):
        return api.exp(self)

    def log(self):
        return api.log(self)

    def sqrt(self):
        return api.sqrt(self)

    def abs(self):
        return api.abs(self)

    def sign(self):
        return api.sign(self)

    def sin(self):
        return api.sin(self)

    def cos(self):
        return api.cos(self)

    def tanh(self):
        return api.tanh(self)

    def sigmoid(self):
        return api.sigmoid(self)

    def relu(self):
        return api.relu(self)

    def softplus(self):
        return api.softplus(self)

    def clamp(self, min=None, max=None):  # noqa: A002
        return api.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return api.maximum(self, other)

    def minimum(self, other):
        return api.minimum(self, other)

    def pow(self, exponent):
        return api.pow(self, exponent)

    def matmul(self, other):
        return api.matmul(self, other)

    def sum(self, dim=None, keepdim=False, **kwargs):
        return api.sum(self, dim, keepdim, **kwargs)

    def mean(self, dim=None, keepdim=False, **kwargs):
        return api.mean(self, dim, keepdim, **kwargs)

    def var(self, dim=None, unbiased=None, keepdim=False, **kwargs):
        return api.var(self, dim, unbiased, keepdim, **kwargs)

    def std(self, dim=None, unbiased=None, keepdim=False, **kwargs):
        return api.std(self, dim, unbiased, keepdim, **kwargs)

    def max(self, dim=None, keepdim=False, **kwargs):
        return api.max(self, dim, keepdim, **kwargs)

    def min(self, dim=None, keepdim=False, **kwargs):
        return api.min(self, dim, keepdim, **kwargs)

    def amax(self, dim=None, keepdim=False, **kwargs):
        return api.amax(self, dim, keepdim, **kwargs)

    def amin(self, dim=None, keepdim=False, **kwargs):
        return api.amin(self, dim, keepdim, **kwargs)

    def argmax(self, dim=None, keepdim=False, **kwargs):
        return api.argmax(self, dim, keepdim, **kwargs)

    def argmin(self, dim=None, keepdim=False, **kwargs):
        return api.argmin(self, dim, keepdim, **kwargs)

    def prod(self, dim=None, keepdim=False, **kwargs):
        return api.prod(self, dim, keepdim, **kwargs)

    def logsumexp(self, dim=None, keepdim=False, **kwargs):
        return api.logsumexp(self, dim, keepdim, **kwargs)

    def softmax(self, dim=-1):
        return api.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return api.log_softmax(self, dim)

    def reshape(self, *shape):
        return api.reshape(self, *shape)

    def view(self, *shape):
        return api.reshape(self, *shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return api.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return api.squeeze(self, dim)

    def unsqueeze(self, dim):
        return api.unsqueeze(self, dim)

    def permute(self, *dims):
        return api.permute(self, *dims)

    def transpose(self, dim0=-2, dim1=-1):
        return api.transpose(self, dim0, dim1)

    @property
    def T(self):  # noqa: N802 - PyTorch's name
        return api.permute(self, tuple(reversed(range(len(self.shape)))))

    @property
    def mT(self):  # noqa: N802 - PyTorch's name
        return api.transpose(self, -2, -1)

    def expand(self, *sizes):
        return api.expand(self, *sizes)

    def expand_as(self, other):
        return api.broadcast_to(self, tuple(other.shape))

    def broadcast_to(self, *shape):
        return api.broadcast_to(self, *shape)

    def repeat(self, *repeats):
        return api.repeat(self, *repeats)

    def split(self, split_size, dim=0):
        return api.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return api.chunk(self, chunks, dim)

    def gather(self, dim, index):
        return api.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return api.scatter_add(self, dim, index, src)

    def where(self, condition, other):
        return api.where(condition, self, other)

    def to(self, dtype):
        return api.to(self, dtype)

    def float(self):
        from hybridgrad import dtypes

        return api.to(self, dtypes.float32)

    def double(self):
        from hybridgrad import dtypes

        return api.to(self, dtypes.float64)

    def long(self):
        from hybridgrad import dtypes

        return api.to(self, dtypes.int64)

    def bool(self):
        from hybridgrad import dtypes

        return api.to(self, dtypes.bool_)

    def type_as(self, other):
        return api.to(self, other.dtype)
