"""The eager tensor: a NumPy array plus what autograd needs, with PyTorch's API.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.tensor(10.0, requires_grad=True)
    >>> loss = (2 - w * 1) ** 2
    >>> loss.backward()
    >>> loss.item(), w.grad.item()
    (64.0, 16.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybridgrad import dtypes
from hybridgrad.autograd import backward as _backward
from hybridgrad.autograd import is_grad_enabled
from hybridgrad.ops.methods import OpsMixin


class Tensor(OpsMixin):
    """An n-dimensional array that records operations for reverse-mode autograd.

    Example:
        >>> import hybridgrad as hg
        >>> hg.Tensor([1.0, 2.0]).shape
        (2,)
    """

    __slots__ = ("_array", "requires_grad", "grad", "_node", "_retains_grad", "__weakref__")

    def __init__(self, data: Any, dtype=None, requires_grad: bool = False):
        self._array = _to_array(data, dtypes.to_dtype(dtype))
        self.grad = None
        self._node = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Wrap an array without copying or checks (the hot path of every operator)."""
        tensor = object.__new__(cls)
        tensor._array = array
        tensor.requires_grad = False
        tensor.grad = None
        tensor._node = None
        tensor._retains_grad = False
        return tensor

    # Attributes.
    @property
    def data(self) -> Tensor:
        """This tensor's values as a new tensor sharing its storage, outside the graph (PyTorch's
        ``.data``): in-place changes through it are seen here and are not recorded by autograd.

        Internal code reads the NumPy array itself as ``._array``.

        Example:
            >>> import hybridgrad as hg
            >>> w = hg.tensor([1.0, 2.0], requires_grad=True)
            >>> w.data.requires_grad, w.data._array is w._array
            (False, True)
        """
        return Tensor._wrap(self._array)

    @data.setter
    def data(self, value) -> None:
        array = value._array if isinstance(value, Tensor) else np.asarray(value)
        self._array = array

    @property
    def shape(self) -> tuple:
        return self._array.shape

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def ndim(self) -> int:
        return self._array.ndim

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation (PyTorch's rule)."""
        return self._node is None

    @property
    def grad_fn(self):
        """The recorded operation that produced this tensor (None for leaves)."""
        return self._node

    def size(self, dim: int | None = None):
        """The shape, or the size of one dimension."""
        return self._array.shape if dim is None else self._array.shape[dim]

    def dim(self) -> int:
        return self._array.ndim

    def numel(self) -> int:
        return int(self._array.size)

    def __len__(self) -> int:
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    # Autograd.
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether gradients are computed for this (leaf) tensor; returns self."""
        if requires_grad and self._array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got dtype {self._array.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for a non-leaf tensor after backward."""
        self._retains_grad = True

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Example:
            >>> import hybridgrad as hg
            >>> x = hg.tensor([1.0, 2.0], requires_grad=True)
            >>> (x * x).backward(hg.ones(2))
            >>> x.grad.tolist()
            [2.0, 4.0]
        """
        _backward(self, gradient, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut off from the graph."""
        return Tensor._wrap(self._array)

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def clone(self) -> Tensor:
        """A copy with its own memory (differentiable)."""
        return _clone(self)

    # Conversions.
    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, as in PyTorch)."""
        if self.requires_grad and is_grad_enabled() and self._node is not None:
            raise RuntimeError("numpy() on a tensor that requires grad: call .detach() first")
        return self._array

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python "
                             f"scalars, this one has shape {tuple(self.shape)}")
        return self._array.item()

    def tolist(self):
        return self._array.tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self._array.dtype:
            return self._array.astype(dtype)
        return self._array

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._array.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self._array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self._array)

    def any(self) -> Tensor:
        return Tensor._wrap(np.asarray(self._array.any()))

    def all(self) -> Tensor:
        return Tensor._wrap(np.asarray(self._array.all()))

    def __repr__(self) -> str:
        body = np.array2string(self._array, separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self._array.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extra += f", dtype={self._array.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # In-place updates (for optimizers and initialisers; never recorded).
    def _check_inplace(self) -> None:
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("an in-place operation on a tensor that requires grad; "
                               "wrap it in hg.no_grad()")

    def copy_(self, source) -> Tensor:
        self._check_inplace()
        np.copyto(self._array, np.asarray(source._array if isinstance(source, Tensor) else source),
                  casting="same_kind")
        return self

    def fill_(self, value) -> Tensor:
        self._check_inplace()
        self._array.fill(value)
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def __setitem__(self, index, value) -> None:
        from hybridgrad.ops.api import _freeze_index

        self._check_inplace()
        self._array[_freeze_index(index)] = value._array if isinstance(value, Tensor) else value


def _clone(tensor: Tensor) -> Tensor:
    from hybridgrad.ops.registry import apply

    return apply("add", tensor, 0) if tensor._array.dtype.kind != "b" else Tensor._wrap(
        tensor._array.copy())


def _to_array(data: Any, dtype: np.dtype | None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._array
    if isinstance(data, np.ndarray):
        array = data
    else:
        array = np.asarray(data)
        # Python floats become the default dtype, unless a dtype is given (converting to
        # float32 first would round float64 values such as 0.7).
        if dtype is None and array.dtype == np.float64 and not _has_numpy_float64(data):
            array = array.astype(dtypes.get_default_dtype())
    if array.dtype.kind not in "biuf":
        raise TypeError(f"unsupported data type {array.dtype} for a tensor")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif array.dtype.kind == "i" and array.dtype != np.int64 and not isinstance(data, np.ndarray):
        array = array.astype(np.int64)
    if not array.flags.writeable:
        array = array.copy()
    return array


def _has_numpy_float64(data: Any) -> bool:
    """True when the data itself carries float64 (a NumPy scalar or array), not Python floats."""
    if isinstance(data, (np.floating, np.ndarray)):
        return np.asarray(data).dtype == np.float64
    if isinstance(data, (list, tuple)) and data:
        return _has_numpy_float64(data[0])
    return False


# ----------------------------------------------------------------------------------------------
# Creation functions.

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand, randn, init functions, dropout and shuffling.

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0); a = hg.rand(2)
        >>> hg.manual_seed(0); b = hg.rand(2)
        >>> a.tolist() == b.tolist()
        True
    """
    global _generator
    _generator = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The generator seeded by :func:`manual_seed`.

    Example:
        >>> isinstance(default_generator(), np.random.Generator)
        True
    """
    return _generator


def tensor(data: Any, dtype=None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from data (Python floats become float32, ints int64).

    Example:
        >>> import hybridgrad as hg
        >>> hg.tensor([1, 2]).dtype, hg.tensor([1.5]).dtype
        (dtype('int64'), dtype('float32'))
    """
    if isinstance(data, Tensor):
        data = data._array.copy()
    elif isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(data: Any, dtype=None) -> Tensor:
    """Like :func:`tensor`, sharing memory with a NumPy array where possible.

    Example:
        >>> import numpy as np, hybridgrad as hg
        >>> a = np.zeros(2); hg.as_tensor(a)._array is a
        True
    """
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    return Tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a NumPy array without copying.

    Example:
        >>> import numpy as np, hybridgrad as hg
        >>> hg.from_numpy(np.ones(2)).dtype
        dtype('float64')
    """
    return Tensor(array)


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _make(array: np.ndarray, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of the given shape (float32 by default).

    Example:
        >>> import hybridgrad as hg
        >>> hg.zeros(2, 3).shape
        (2, 3)
    """
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    return _make(np.zeros(_shape(size), dtype=dtype), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of the given shape.

    Example:
        >>> import hybridgrad as hg
        >>> hg.ones(2).tolist()
        [1.0, 1.0]
    """
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    return _make(np.ones(_shape(size), dtype=dtype), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.full((2,), 7).tolist()
        [7, 7]
    """
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value, None)
    return _make(np.full(_shape((size,)), fill_value, dtype=dtypes.to_dtype(dtype)),
                 requires_grad)


def zeros_like(other, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with another tensor's shape and dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.zeros_like(hg.ones(2, dtype=hg.int64)).tolist()
        [0, 0]
    """
    return _make(np.zeros(tuple(other.shape), dtype=dtypes.to_dtype(dtype) or other.dtype),
                 requires_grad)


def ones_like(other, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with another tensor's shape and dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.ones_like(hg.zeros(2)).tolist()
        [1.0, 1.0]
    """
    return _make(np.ones(tuple(other.shape), dtype=dtypes.to_dtype(dtype) or other.dtype),
                 requires_grad)


def full_like(other, fill_value, dtype=None) -> Tensor:
    """A tensor like ``other`` filled with ``fill_value``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.full_like(hg.zeros(2), 3.0).tolist()
        [3.0, 3.0]
    """
    return Tensor._wrap(np.full(tuple(other.shape), fill_value,
                                dtype=dtypes.to_dtype(dtype) or other.dtype))


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in ``[start, end)`` (int64 for integer arguments).

    Example:
        >>> import hybridgrad as hg
        >>> hg.arange(3).tolist(), hg.arange(0, 1, 0.5).tolist()
        ([0, 1, 2], [0.0, 0.5])
    """
    if end is None:
        start, end = 0, start
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dtype = dtypes.to_dtype(dtype) or (dtypes.int64 if integral else dtypes.get_default_dtype())
    return _make(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start, end, steps: int, dtype=None) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive.

    Example:
        >>> import hybridgrad as hg
        >>> hg.linspace(0, 1, 3).tolist()
        [0.0, 0.5, 1.0]
    """
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    return Tensor._wrap(np.linspace(start, end, steps).astype(dtype))


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Identity matrix.

    Example:
        >>> import hybridgrad as hg
        >>> hg.eye(2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    return _make(np.eye(n, m, dtype=dtype), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator.

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(1); bool((hg.rand(100) < 1).all())
        True
    """
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    rng = generator or _generator
    return _make(rng.random(_shape(size)).astype(dtype), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal samples from the seeded generator.

    Example:
        >>> import hybridgrad as hg
        >>> hg.randn(2, 3).shape
        (2, 3)
    """
    dtype = dtypes.to_dtype(dtype) or dtypes.get_default_dtype()
    rng = generator or _generator
    return _make(rng.standard_normal(_shape(size)).astype(dtype), requires_grad)


def randint(low: int, high: int | None = None, size=(), dtype=None, generator=None) -> Tensor:
    """Random integers in ``[low, high)``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.randint(0, 10, (3,)).shape
        (3,)
    """
    if high is None:
        low, high = 0, low
    rng = generator or _generator
    return Tensor._wrap(rng.integers(low, high, size=_shape((size,)) if size != () else ()).astype(
        dtypes.to_dtype(dtype) or dtypes.int64))


def randperm(n: int, generator=None) -> Tensor:
    """A random permutation of ``0..n-1``.

    Example:
        >>> import hybridgrad as hg
        >>> sorted(hg.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    rng = generator or _generator
    return Tensor._wrap(rng.permutation(n).astype(np.int64))
