"""Operator methods shared by eager tensors and symbols (``x + y``, ``x.sum()``, ``x.T``, ...).

Both :class:`hybridgrad.Tensor` and :class:`hybridgrad.symbolic.Symbol` inherit this mixin, so
every operator a tensor has, a symbol has, with the same names and broadcasting.

Example:
    >>> import hybridgrad as hg
    >>> (hg.ones(2, 3).T @ hg.ones(2)).tolist()
    [2.0, 2.0, 2.0]
"""

from __future__ import annotations

from hybridgrad.ops import api as F
from hybridgrad.ops.methods_torch import ComposedMethodsMixin


class OpsMixin(ComposedMethodsMixin):
    """Python operators and methods, each one call into :mod:`hybridgrad.ops.api`."""

    __slots__ = ()
    # NumPy must defer to our reflected operators (ndarray + Tensor -> Tensor.__radd__).
    __array_priority__ = 1000

    # Arithmetic.
    def __add__(self, other):
        return F.add(self, other)

    def __radd__(self, other):
        return F.add(other, self)

    def __sub__(self, other):
        return F.sub(self, other)

    def __rsub__(self, other):
        return F.sub(other, self)

    def __mul__(self, other):
        return F.mul(self, other)

    def __rmul__(self, other):
        return F.mul(other, self)

    def __truediv__(self, other):
        return F.div(self, other)

    def __rtruediv__(self, other):
        return F.div(other, self)

    def __pow__(self, other):
        return F.pow(self, other)

    def __rpow__(self, other):
        return F.pow(other, self)

    def __matmul__(self, other):
        return F.matmul(self, other)

    def __rmatmul__(self, other):
        return F.matmul(other, self)

    def __neg__(self):
        return F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return F.abs(self)

    # Comparisons (no gradient). __eq__ is elementwise, as in PyTorch and NumPy.
    def __eq__(self, other):  # type: ignore[override]
        return F.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return F.ne(self, other)

    def __lt__(self, other):
        return F.lt(self, other)

    def __le__(self, other):
        return F.le(self, other)

    def __gt__(self, other):
        return F.gt(self, other)

    def __ge__(self, other):
        return F.ge(self, other)

    def __and__(self, other):
        return F.logical_and(self, other)

    def __or__(self, other):
        return F.logical_or(self, other)

    def __invert__(self):
        return F.logical_not(self)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return F.getitem(self, index)

    # Methods with PyTorch's names.
    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def sign(self):
        return F.sign(self)

    def sin(self):
        return F.sin(self)

    def cos(self):
        return F.cos(self)

    def tanh(self):
        return F.tanh(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def relu(self):
        return F.relu(self)

    def softplus(self):
        return F.softplus(self)

    def clamp(self, min=None, max=None):  # noqa: A002
        return F.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return F.maximum(self, other)

    def minimum(self, other):
        return F.minimum(self, other)

    def pow(self, exponent):
        return F.pow(self, exponent)

    def matmul(self, other):
        return F.matmul(self, other)

    def sum(self, dim=None, keepdim=False, **kwargs):
        return F.sum(self, dim, keepdim, **kwargs)

    def mean(self, dim=None, keepdim=False, **kwargs):
        return F.mean(self, dim, keepdim, **kwargs)

    def var(self, dim=None, unbiased=None, keepdim=False, **kwargs):
        return F.var(self, dim, unbiased, keepdim, **kwargs)

    def std(self, dim=None, unbiased=None, keepdim=False, **kwargs):
        return F.std(self, dim, unbiased, keepdim, **kwargs)

    def max(self, dim=None, keepdim=False, **kwargs):
        return F.max(self, dim, keepdim, **kwargs)

    def min(self, dim=None, keepdim=False, **kwargs):
        return F.min(self, dim, keepdim, **kwargs)

    def amax(self, dim=None, keepdim=False, **kwargs):
        return F.amax(self, dim, keepdim, **kwargs)

    def amin(self, dim=None, keepdim=False, **kwargs):
        return F.amin(self, dim, keepdim, **kwargs)

    def argmax(self, dim=None, keepdim=False, **kwargs):
        return F.argmax(self, dim, keepdim, **kwargs)

    def argmin(self, dim=None, keepdim=False, **kwargs):
        return F.argmin(self, dim, keepdim, **kwargs)

    def prod(self, dim=None, keepdim=False, **kwargs):
        return F.prod(self, dim, keepdim, **kwargs)

    def logsumexp(self, dim=None, keepdim=False, **kwargs):
        return F.logsumexp(self, dim, keepdim, **kwargs)

    def softmax(self, dim=-1):
        return F.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return F.log_softmax(self, dim)

    def reshape(self, *shape):
        return F.reshape(self, *shape)

    def view(self, *shape):
        return F.reshape(self, *shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return F.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return F.squeeze(self, dim)

    def unsqueeze(self, dim):
        return F.unsqueeze(self, dim)

    def permute(self, *dims):
        return F.permute(self, *dims)

    def transpose(self, dim0=-2, dim1=-1):
        return F.transpose(self, dim0, dim1)

    @property
    def T(self):  # noqa: N802 - PyTorch's name
        return F.permute(self, tuple(reversed(range(len(self.shape)))))

    @property
    def mT(self):  # noqa: N802 - PyTorch's name
        return F.transpose(self, -2, -1)

    def expand(self, *sizes):
        return F.expand(self, *sizes)

    def expand_as(self, other):
        return F.broadcast_to(self, tuple(other.shape))

    def broadcast_to(self, *shape):
        return F.broadcast_to(self, *shape)

    def repeat(self, *repeats):
        return F.repeat(self, *repeats)

    def split(self, split_size, dim=0):
        return F.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return F.chunk(self, chunks, dim)

    def gather(self, dim, index):
        return F.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return F.scatter_add(self, dim, index, src)

    def where(self, condition, other):
        return F.where(condition, self, other)

    def to(self, dtype):
        return F.to(self, dtype)

    def float(self):
        from hybridgrad import dtypes

        return F.to(self, dtypes.float32)

    def double(self):
        from hybridgrad import dtypes

        return F.to(self, dtypes.float64)

    def long(self):
        from hybridgrad import dtypes

        return F.to(self, dtypes.int64)

    def bool(self):
        from hybridgrad import dtypes

        return F.to(self, dtypes.bool_)

    def type_as(self, other):
        return F.to(self, other.dtype)
