"""Creation functions with PyTorch's signatures: ``zeros``, ``rand``, ``arange``, ``tensor``...

Every one takes PyTorch's keyword arguments (``dtype``, ``device``, ``requires_grad``, and
``layout``/``pin_memory``/``memory_format``, accepted and ignored where they only matter to
PyTorch's memory management); ``device`` is checked against the installed backends, so
``device="cuda"`` raises PyTorch's CPU-build error. Random ones draw from ``generator=`` (an
``hg.Generator`` or a NumPy generator) or the default generator seeded by ``hg.manual_seed``.

Example:
    >>> import hybridgrad as hg
    >>> hg.zeros(2, 3, device="cpu").shape, hg.randint(10, (2,)).shape
    ((2, 3), (2,))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybridgrad import dtypes
from hybridgrad.device import check_device
from hybridgrad.random import numpy_generator
from hybridgrad.tensor import Tensor


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _make(array: np.ndarray, requires_grad: bool, device=None) -> Tensor:
    if device is not None:
        check_device(device)
    out = Tensor._wrap(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _float(dtype) -> np.dtype:
    return dtypes.to_dtype(dtype) or dtypes.get_default_dtype()


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """Make a tensor from data (Python floats become float32, ints int64), always copying.

    Example:
        >>> import hybridgrad as hg
        >>> hg.tensor([1, 2]).dtype, hg.tensor([1.5], device="cpu").dtype
        (dtype('int64'), dtype('float32'))
    """
    if device is not None:
        check_device(device)
    if isinstance(data, Tensor):
        data = data._array.copy()
    elif isinstance(data, np.ndarray):
        data = data.copy()
    elif isinstance(data, (list, tuple)) and data and any(isinstance(v, Tensor) for v in data):
        # A list of tensors (often 0-d ones, as PyTorch allows): their values.
        data = [v._array if isinstance(v, Tensor) else v for v in data]
    return Tensor._from_data(data, dtype, requires_grad)


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, sharing memory with a NumPy array or tensor where possible.

    Example:
        >>> import numpy as np, hybridgrad as hg
        >>> a = np.zeros(2); hg.as_tensor(a)._array is a
        True
    """
    if device is not None:
        check_device(device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.to_dtype(dtype)):
        return data
    return Tensor._from_data(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a NumPy array without copying.

    Example:
        >>> import numpy as np, hybridgrad as hg
        >>> hg.from_numpy(np.ones(2)).dtype
        dtype('float64')
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor._from_data(array)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None) -> Tensor:
    """Zeros of the given shape (float32 by default).

    Example:
        >>> import hybridgrad as hg
        >>> hg.zeros(2, 3).shape, hg.zeros((2,), dtype=hg.int64).tolist()
        ((2, 3), [0, 0])
    """
    return _out(out, _make(np.zeros(_shape(size), dtype=_float(dtype)), requires_grad, device))


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False, memory_format=None) -> Tensor:
    """Ones of the given shape.

    Example:
        >>> import hybridgrad as hg
        >>> hg.ones(2).tolist()
        [1.0, 1.0]
    """
    return _out(out, _make(np.ones(_shape(size), dtype=_float(dtype)), requires_grad, device))


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None) -> Tensor:
    """An uninitialised tensor (zeros here: reading garbage helps nobody).

    Example:
        >>> import hybridgrad as hg
        >>> hg.empty(2, 2).shape
        (2, 2)
    """
    return zeros(*size, out=out, dtype=dtype, device=device, requires_grad=requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.full((2,), 7).tolist(), hg.full((1,), 0.5).dtype
        ([7, 7], dtype('float32'))
    """
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value, None)
    size = (size,) if isinstance(size, (int, np.integer)) else size
    return _out(out, _make(np.full(_shape((size,)), fill_value, dtype=dtypes.to_dtype(dtype)),
                           requires_grad, device))


def _like(other, dtype, fill, requires_grad, device) -> Tensor:
    dtype = dtypes.to_dtype(dtype) or other.dtype
    return _make(fill(tuple(other.shape), dtype), requires_grad, device)


def zeros_like(other, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None) -> Tensor:
    """Zeros with another tensor's shape and dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.zeros_like(hg.ones(2, dtype=hg.int64)).tolist()
        [0, 0]
    """
    return _like(other, dtype, lambda s, d: np.zeros(s, dtype=d), requires_grad, device)


def ones_like(other, dtype=None, layout=None, device=None, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    """Ones with another tensor's shape and dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.ones_like(hg.zeros(2)).tolist()
        [1.0, 1.0]
    """
    return _like(other, dtype, lambda s, d: np.ones(s, dtype=d), requires_grad, device)


empty_like = zeros_like


def full_like(other, fill_value, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """A tensor like ``other`` filled with ``fill_value``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.full_like(hg.zeros(2), 3.0).tolist()
        [3.0, 3.0]
    """
    return _like(other, dtype, lambda s, d: np.full(s, fill_value, dtype=d), requires_grad,
                 device)


def arange(start, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in ``[start, end)`` (int64 for integer arguments).

    Example:
        >>> import hybridgrad as hg
        >>> hg.arange(3).tolist(), hg.arange(0, 1, 0.5).tolist()
        ([0, 1, 2], [0.0, 0.5])
    """
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dtype = dtypes.to_dtype(dtype) or (dtypes.int64 if integral else dtypes.get_default_dtype())
    return _out(out, _make(np.arange(start, end, step).astype(dtype), requires_grad, device))


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive.

    Example:
        >>> import hybridgrad as hg
        >>> hg.linspace(0, 1, 3).tolist()
        [0.0, 0.5, 1.0]
    """
    return _out(out, _make(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad,
                           device))


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``base**start`` to ``base**end``, evenly spaced in the exponent.

    Example:
        >>> import hybridgrad as hg
        >>> hg.logspace(0, 2, 3).tolist()
        [1.0, 10.0, 100.0]
    """
    return _make(np.logspace(start, end, steps, base=base).astype(_float(dtype)), requires_grad,
                 device)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """Identity matrix.

    Example:
        >>> import hybridgrad as hg
        >>> hg.eye(2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """
    return _out(out, _make(np.eye(n, m, dtype=_float(dtype)), requires_grad, device))


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator.

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(1); bool((hg.rand(100) < 1).all())
        True
    """
    rng = numpy_generator(generator)
    return _out(out, _make(rng.random(_shape(size)).astype(_float(dtype)), requires_grad,
                           device))


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Standard normal samples from the seeded generator.

    Example:
        >>> import hybridgrad as hg
        >>> hg.randn(2, 3).shape
        (2, 3)
    """
    rng = numpy_generator(generator)
    return _out(out, _make(rng.standard_normal(_shape(size)).astype(_float(dtype)),
                           requires_grad, device))


def randint(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad: bool = False, low=None, high=None) -> Tensor:
    """Random integers in ``[low, high)``: ``randint(high, size)`` or ``randint(low, high,
    size)``, as PyTorch (``size`` a tuple, positional or keyword).

    Example:
        >>> import hybridgrad as hg
        >>> hg.randint(0, 10, (3,)).shape, hg.randint(5, (2, 2)).shape
        ((3,), (2, 2))
        >>> bool((hg.randint(3, 5, size=(100,)) >= 3).all())
        True
    """
    positional = list(args)
    if positional and isinstance(positional[-1], (tuple, list)):
        if size is not None:
            raise TypeError("randint(): size given twice")
        size = positional.pop()
    if len(positional) == 2:
        low, high = positional
    elif len(positional) == 1:
        if high is None:
            high = positional[0]
        else:
            low = positional[0]
    elif positional:
        raise TypeError(f"randint(): expected (high, size) or (low, high, size), got {args!r}")
    if high is None:
        raise TypeError("randint(): missing the upper bound 'high'")
    if size is None:
        raise TypeError("randint() missing 1 required positional arguments: \"size\"")
    low = 0 if low is None else low
    low, high = (int(v.item()) if isinstance(v, Tensor) else int(v) for v in (low, high))
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    rng = numpy_generator(generator)
    array = rng.integers(low, high, size=_shape((size,)))
    return _out(out, _make(array.astype(dtypes.to_dtype(dtype) or dtypes.int64), requires_grad,
                           device))


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of ``0..n-1``.

    Example:
        >>> import hybridgrad as hg
        >>> sorted(hg.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    rng = numpy_generator(generator)
    array = rng.permutation(int(n)).astype(dtypes.to_dtype(dtype) or np.int64)
    return _out(out, _make(array, requires_grad, device))


def rand_like(other, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
              memory_format=None, generator=None) -> Tensor:
    """Uniform samples in [0, 1) with another tensor's shape (and floating dtype).

    Example:
        >>> import hybridgrad as hg
        >>> hg.rand_like(hg.zeros(2, 3)).shape
        (2, 3)
    """
    return rand(*other.shape, generator=generator, dtype=dtype or other.dtype, device=device,
                requires_grad=requires_grad)


def randn_like(other, *, dtype=None, layout=None, device=None, requires_grad: bool = False,
               memory_format=None, generator=None) -> Tensor:
    """Standard normal samples with another tensor's shape and dtype.

    Example:
        >>> import hybridgrad as hg
        >>> hg.randn_like(hg.zeros(4, dtype=hg.float64)).dtype
        dtype('float64')
    """
    return randn(*other.shape, generator=generator, dtype=dtype or other.dtype, device=device,
                 requires_grad=requires_grad)


def randint_like(other, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad: bool = False, memory_format=None, generator=None) -> Tensor:
    """Random integers in ``[low, high)`` with another tensor's shape and dtype
    (``randint_like(x, high)`` or ``randint_like(x, low, high)``).

    Example:
        >>> import hybridgrad as hg
        >>> hg.randint_like(hg.zeros(3), 5).dtype
        dtype('float32')
    """
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(other.shape), generator=generator,
                   dtype=dtype or other.dtype, device=device, requires_grad=requires_grad)


def _out(out, result: Tensor) -> Tensor:
    """PyTorch's ``out=``: write the result into ``out`` (resized if needed) and return it."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"out= expects a tensor, got {type(out).__name__}")
    from hybridgrad.versions import bump

    array = result._array
    if out._array.shape != array.shape:
        # PyTorch resizes an out= tensor of the wrong shape (with a warning when it was not
        # empty); the storage changes, so earlier views no longer alias it.
        out._array = np.empty(array.shape, dtype=out._array.dtype)
    np.copyto(out._array, array, casting="unsafe")
    bump(out._array)
    return out
