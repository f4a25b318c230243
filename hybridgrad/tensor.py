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
from hybridgrad.device import CPU, Size, array_module, as_device, print_prefix
from hybridgrad.inplace import InPlaceMixin
from hybridgrad.ops.methods import OpsMixin
from hybridgrad.tensor_extras import TensorExtrasMixin
from hybridgrad.tensor_methods import TorchMethodsMixin
from hybridgrad.versions import version

# Digits printed by repr (hg.set_printoptions(precision=...) changes it).
PRINT_PRECISION = 4


class Tensor(InPlaceMixin, TorchMethodsMixin, TensorExtrasMixin, OpsMixin):
    """An n-dimensional array that records operations for reverse-mode autograd.

    As PyTorch's legacy constructor, ``hg.Tensor(2, 3)`` (sizes) makes a float tensor of that
    shape and ``hg.Tensor([1, 2])`` (Python numbers) a float one; NumPy arrays keep their dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.Tensor([1.0, 2.0]).shape, hg.Tensor(2, 3).shape, hg.Tensor([1, 2]).dtype
        ((2,), (2, 3), dtype('float32'))
    """

    __slots__ = ("_array", "requires_grad", "_grad", "_node", "_retains_grad", "_hooks",
                 "__weakref__")

    def __init__(self, data: Any = None, *sizes, dtype=None, requires_grad: bool = False):
        if data is None or sizes or (isinstance(data, (int, np.integer))
                                     and not isinstance(data, bool)):
            # torch.Tensor(), torch.Tensor(5), torch.Tensor(2, 3): uninitialised (zeros here).
            shape = () if data is None else (data,) + sizes
            if not all(isinstance(size, (int, np.integer)) for size in shape):
                raise TypeError(f"Tensor(): expected data, or sizes as ints, got {shape!r} "
                                "(pass dtype= and requires_grad= as keywords)")
            if data is None:
                shape = (0,)
            data = np.zeros(tuple(int(s) for s in shape),
                            dtype=dtypes.to_dtype(dtype) or dtypes.get_default_dtype())
        elif dtype is None and isinstance(data, (list, tuple)) and type(self) is Tensor:
            dtype = _legacy_float(data)
        self._array = _to_array(data, dtypes.to_dtype(dtype))
        self._grad = None
        self._node = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_data(cls, data: Any, dtype=None, requires_grad: bool = False) -> Tensor:
        """Convert data (``hg.tensor``'s rules: Python ints stay int64), without the legacy
        constructor's readings of ``hg.Tensor(2, 3)`` and ``hg.Tensor([1, 2])``."""
        tensor = cls._wrap(_to_array(data, dtypes.to_dtype(dtype)))
        if requires_grad:
            tensor.requires_grad_(True)
        return tensor

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """Wrap an array without copying or checks (the hot path of every operator)."""
        tensor = object.__new__(cls)
        tensor._array = array
        tensor.requires_grad = False
        tensor._grad = None
        tensor._node = None
        tensor._retains_grad = False
        return tensor

    # Attributes.
    @property
    def grad(self):
        """The gradient accumulated by ``backward`` (None until then), as in PyTorch.

        Example:
            >>> import hybridgrad as hg
            >>> w = hg.tensor([1.0, 2.0], requires_grad=True)
            >>> (w * w).sum().backward(); w.grad.tolist()
            [2.0, 4.0]
        """
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        # PyTorch's checks: a float or a wrongly shaped array here would break the next backward
        # far from the line that assigned it.
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._array.shape != self._array.shape:
                raise RuntimeError(f"assigned grad has data of a different size: "
                                   f"{list(value._array.shape)} for a tensor of size "
                                   f"{list(self._array.shape)}")
        self._grad = value

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
    def shape(self) -> Size:
        """The shape, a :class:`hybridgrad.Size` (a tuple).

        Example:
            >>> import hybridgrad as hg
            >>> hg.zeros(2, 3).shape == (2, 3)
            True
        """
        return tuple.__new__(Size, self._array.shape)

    @property
    def _version(self) -> int:
        """How many in-place operations modified this tensor's storage (PyTorch's ``_version``).

        Example:
            >>> import hybridgrad as hg
            >>> x = hg.zeros(2); x.add_(1)._version
            1
        """
        return version(self._array)

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def ndim(self) -> int:
        return self._array.ndim

    @property
    def device(self):
        """Where the array lives: ``device(type='cpu')`` (the only backend installed today).

        Example:
            >>> import hybridgrad as hg
            >>> hg.zeros(1).device
            device(type='cpu')
        """
        return CPU

    @property
    def is_cuda(self) -> bool:
        """False: no CUDA backend is installed."""
        return False

    @property
    def is_cpu(self) -> bool:
        """True: the array lives in host memory."""
        return True

    def to(self, *args, **kwargs) -> Tensor:
        """PyTorch's ``to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(other_tensor)``, with ``non_blocking``, ``copy`` and ``memory_format`` accepted.
        Returns this very tensor when nothing changes (unless ``copy=True``); a dtype change
        is differentiable.

        Example:
            >>> import hybridgrad as hg
            >>> x = hg.zeros(2)
            >>> x.to("cpu") is x, x.to("cpu", hg.float64).dtype
            (True, dtype('float64'))
            >>> x.to(hg.ones(1, dtype=hg.int64)).dtype
            dtype('int64')
        """
        device, dtype, copy = _parse_to(args, kwargs)
        if device is not None:
            array_module(device)
        result = self
        if dtype is not None and dtype != self._array.dtype:
            from hybridgrad.ops.api import to as cast

            result = cast(self, dtype)
        if copy and result is self:
            result = self.clone()
        return result

    def cpu(self, memory_format=None) -> Tensor:
        """This tensor (already in host memory)."""
        return self

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
        """Move to a CUDA device: raises PyTorch's CPU-build error while no CUDA backend exists.

        Example:
            >>> import hybridgrad as hg
            >>> hg.zeros(1).cuda()
            Traceback (most recent call last):
            ...
            AssertionError: Torch not compiled with CUDA enabled
        """
        array_module(as_device("cuda" if device is None or isinstance(device, int) else device))
        return self

    def get_device(self) -> int:
        """-1 for CPU tensors, as PyTorch."""
        return -1

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation (PyTorch's rule)."""
        return self._node is None

    @property
    def grad_fn(self):
        """The recorded operation that produced this tensor (None for leaves)."""
        return self._node

    def size(self, dim: int | None = None):
        """The shape (a :class:`hybridgrad.Size`), or the size of one dimension."""
        return tuple.__new__(Size, self._array.shape) if dim is None else self._array.shape[dim]

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

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed in backward; a non-None
        return replaces the gradient (for the graph below and for ``.grad``). Returns a handle
        whose ``remove()`` unregisters it.

        Example:
            >>> import hybridgrad as hg
            >>> x = hg.tensor([1.0, 2.0], requires_grad=True)
            >>> handle = x.register_hook(lambda grad: grad * 10)
            >>> (x * x).sum().backward()
            >>> x.grad.tolist()
            [20.0, 40.0]
        """
        from hybridgrad.hooks import RemovableHandle

        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = {}
        return RemovableHandle(hooks, hook)

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
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array (shared memory, as in PyTorch; ``force=True`` copies and
        detaches)."""
        if force:
            return self._array.copy()
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

    def __repr__(self) -> str:
        body = _format_array(self._array, "tensor(")
        extra = ""
        if self._array.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            prefix = print_prefix()
            extra += f", dtype={prefix + '.' if prefix else ''}{self._array.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"


def _format_array(array: np.ndarray, prefix: str) -> str:
    """The array's values as PyTorch prints them: floats with PRINT_PRECISION decimals (or
    ``1.`` when all are integral, scientific notation for wide ranges), aligned in columns."""
    if array.dtype.kind != "f" or array.size == 0:
        return np.array2string(array, separator=", ", prefix=prefix)
    finite = np.abs(array[np.isfinite(array)]).astype(np.float64)
    nonzero = finite[finite != 0]
    integral = bool(np.all(finite == np.round(finite)))
    largest = float(nonzero.max()) if nonzero.size else 0.0
    smallest = float(nonzero.min()) if nonzero.size else 0.0
    digits = PRINT_PRECISION
    if integral and largest <= 1e8:
        def render(value):
            return f"{value:.0f}." if np.isfinite(value) else str(value)
    elif (not integral and nonzero.size and (largest / smallest > 1000 or largest > 1e8
                                             or smallest < 1e-4)) or largest > 1e8:
        def render(value):
            return f"{value:.{digits}e}" if np.isfinite(value) else str(value)
    else:
        def render(value):
            return f"{value:.{digits}f}" if np.isfinite(value) else str(value)
    width = max(len(render(float(v))) for v in array.reshape(-1)[:2000]) if array.size else 0
    return np.array2string(array, separator=", ", prefix=prefix,
                           formatter={"float_kind": lambda v: render(float(v)).rjust(width)})


def _parse_to(args, kwargs) -> tuple:
    """(device, dtype, copy) from the many forms of ``Tensor.to``/``Module.to``."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    positional = list(args)
    if positional and isinstance(positional[0], Tensor):
        other = positional.pop(0)
        dtype, device = other.dtype, CPU
    for value in positional:
        if isinstance(value, bool):  # to(dtype, non_blocking, copy) legacy positional flags
            continue
        if _is_dtype(value):
            dtype = value
        elif value is not None:
            device = value
    if device is not None:
        device = as_device(device)
    return device, dtypes.to_dtype(dtype), copy


def _is_dtype(value) -> bool:
    if isinstance(value, np.dtype) or value is bool or value is float or value is int:
        return True
    if type(value).__name__ == "_UnsupportedDtype":  # hg.bfloat16: refused by to_dtype
        return True
    if isinstance(value, type) and issubclass(value, np.generic):
        return True
    return False


def _legacy_float(data) -> np.dtype | None:
    """``torch.Tensor([1, 2])`` is a float tensor: the default float dtype for Python numbers."""
    first = data
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, (bool, np.bool_)):
        return None
    if isinstance(first, (int, float, np.integer)) and not isinstance(first, np.floating):
        return dtypes.get_default_dtype()
    return None


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
# Creation functions and the random generator live in their own modules; these names stay
# importable from here (``from hybridgrad.tensor import zeros, default_generator``).

from hybridgrad.factories import (  # noqa: E402 - they need Tensor, defined above
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from hybridgrad.ops import values as _values  # noqa: E402
from hybridgrad.random import default_generator, manual_seed  # noqa: E402

# The operator layer's value-level functions (sort's indices, nonzero...) wrap arrays through
# this, without importing this module.
_values.set_tensor_wrapper(Tensor._wrap)

__all__ = [
    "Tensor", "arange", "as_tensor", "default_generator", "empty", "empty_like", "eye",
    "from_numpy", "full", "full_like", "linspace", "logspace", "manual_seed", "ones", "ones_like",
    "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm", "tensor",
    "zeros", "zeros_like",
]
