"""A test backend standing in for a device: arrays that every NumPy function refuses.

Operators get :class:`StrictArray` values and the array module :data:`xp` (a proxy of NumPy that
takes and returns StrictArrays). ``np.exp(a)``, ``np.where(...)``, ``np.asarray(a)`` or mixing
``a`` with an array made by ``np.zeros`` raise ``TypeError``, as they would (or would silently
copy to the host) with a GPU array, so running the operator tests on this backend
(``HYBRIDGRAD_ARRAY_BACKEND=strict``) proves that every operator computes through ``xp``.
Python scalars and NumPy scalars (``x.dtype.type(2)``) combine with StrictArrays through the
arithmetic operators, as they do with CuPy arrays.

Example:
    >>> import numpy as np
    >>> a = xp.arange(3.0)
    >>> (xp.exp(a) * 2).shape
    (3,)
    >>> try:
    ...     np.exp(a)
    ... except TypeError:
    ...     print("refused")
    refused
"""

from __future__ import annotations

import operator
import types
from typing import Any

import numpy


class HostConversionError(RuntimeError):
    """A device array was handed to NumPy's array conversion (np.asarray and friends).

    Example:
        >>> import numpy as np
        >>> try:
        ...     np.asarray(xp.ones(2))
        ... except HostConversionError as error:
        ...     print(str(error).split(":")[0])
        a device array (StrictArray) was converted to a NumPy array (np.asarray, np.array...)
    """


class StrictArray:
    """A NumPy array behind a wall: NumPy functions refuse it, ``xp`` functions take it.

    Example:
        >>> a = StrictArray(__import__("numpy").arange(4.0))
        >>> (a[1:] * 2 + 1).tolist(), float(xp.sum(a))
        ([3.0, 5.0, 7.0], 6.0)
    """

    __slots__ = ("_host",)
    # NumPy ufuncs (np.exp(a), np.add(a, b)) refuse operands that set this to None; the Python
    # operators defer to this class's reflected methods instead.
    __array_ufunc__ = None

    def __init__(self, host: numpy.ndarray):
        self._host = host

    def __array_function__(self, function, types_, args, kwargs):
        raise TypeError(f"np.{function.__name__} was called on a device array (StrictArray): "
                        f"operator code must call xp.{function.__name__}")

    def __array__(self, *args, **kwargs):
        # Not a TypeError: NumPy takes that as "try the sequence protocol" and would copy.
        raise HostConversionError("a device array (StrictArray) was converted to a NumPy array "
                                  "(np.asarray, np.array...): operator code must stay on xp "
                                  "arrays")

    def __getattr__(self, name: str):
        if name.startswith("__"):
            # __array_interface__, __array_struct__, __dlpack__...: the host array's memory
            # protocols would let NumPy read the device array directly.
            raise AttributeError(name)
        value = getattr(self._host, name)
        if callable(value):
            return _wrapped(value)
        return _wrap(value)

    def __repr__(self) -> str:
        return f"StrictArray({self._host!r})"

    def __len__(self) -> int:
        return len(self._host)

    def __iter__(self):
        return (_wrap(item) for item in self._host)

    def __bool__(self) -> bool:
        return bool(self._host)

    def __float__(self) -> float:
        return float(self._host)

    def __int__(self) -> int:
        return int(self._host)

    def __index__(self) -> int:
        return operator.index(self._host)

    def __complex__(self) -> complex:
        return complex(self._host)

    def __getitem__(self, index):
        return _wrap(self._host[_unwrap(index)])

    def __setitem__(self, index, value) -> None:
        self._host[_unwrap(index)] = _unwrap(value)

    # The arithmetic operators are installed below (_install_operators).


def _unwrap(value: Any) -> Any:
    """The NumPy value behind a StrictArray; refuses NumPy arrays (host arrays on a device)."""
    if type(value) is StrictArray:
        return value._host
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"a NumPy array (shape {value.shape}, {value.dtype}) met a device array "
                        f"(StrictArray): create arrays with xp, not np")
    if isinstance(value, tuple):
        return tuple(_unwrap(item) for item in value)
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    if isinstance(value, dict):
        return {key: _unwrap(item) for key, item in value.items()}
    return value


def _wrap(value: Any) -> Any:
    if isinstance(value, numpy.ndarray):
        return StrictArray(value)
    if isinstance(value, numpy.ufunc):  # xp.frompyfunc(...) makes one
        return _StrictUfunc(value)
    if isinstance(value, numpy.generic):
        # Reductions give 0-d device arrays (as CuPy does), not host scalars.
        return StrictArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(item) for item in value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def _wrapped(function):
    def call(*args, **kwargs):
        return _wrap(function(*_unwrap(args), **_unwrap(kwargs)))

    call.__name__ = getattr(function, "__name__", "function")
    return call


def _install_operators() -> None:
    binary = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"]
    for name in binary:
        forward = getattr(operator, name + "_" if name in ("and", "or") else name)

        def method(self, other, forward=forward):
            return _wrap(forward(self._host, _unwrap(other)))

        def reflected(self, other, forward=forward):
            return _wrap(forward(_unwrap(other), self._host))

        def in_place(self, other, name=name):
            getattr(self._host, f"__i{name}__")(_unwrap(other))
            return self

        setattr(StrictArray, f"__{name}__", method)
        setattr(StrictArray, f"__r{name}__", reflected)
        setattr(StrictArray, f"__i{name}__", in_place)
    for name in ["eq", "ne", "lt", "le", "gt", "ge"]:
        compare = getattr(operator, name)
        setattr(StrictArray, f"__{name}__",
                lambda self, other, compare=compare: _wrap(compare(self._host, _unwrap(other))))
    for name in ["neg", "pos", "abs", "invert"]:
        unary = getattr(operator, name)
        setattr(StrictArray, f"__{name}__", lambda self, unary=unary: _wrap(unary(self._host)))
    StrictArray.__hash__ = None


_install_operators()


class _StrictUfunc:
    """A NumPy ufunc taking StrictArrays, with its methods (reduce, accumulate, at, outer)."""

    def __init__(self, ufunc: numpy.ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _wrap(self._ufunc(*_unwrap(args), **_unwrap(kwargs)))

    def __getattr__(self, name: str):
        value = getattr(self._ufunc, name)
        return _wrapped(value) if callable(value) else value


# Functions that turn host data into device arrays (CuPy's asarray accepts NumPy arrays too).
_TRANSFERS = {"asarray", "array", "ascontiguousarray"}


class StrictModule:
    """NumPy's namespace for StrictArrays: functions unwrap their arguments and wrap results;
    dtypes, constants and classes pass through; submodules are wrapped too.

    Example:
        >>> spectrum = xp.fft.fft(xp.ones(4))
        >>> type(spectrum).__name__, spectrum.real.tolist()
        ('StrictArray', [4.0, 0.0, 0.0, 0.0])
    """

    def __init__(self, module: types.ModuleType):
        self._module = module
        self.__name__ = "strict:" + module.__name__

    def __getattr__(self, name: str):
        value = getattr(self._module, name)
        if isinstance(value, types.ModuleType):
            wrapped = StrictModule(value)
        elif isinstance(value, numpy.ufunc):
            wrapped = _StrictUfunc(value)
        elif isinstance(value, type) or not callable(value):
            wrapped = value  # dtypes (xp.float32), classes (xp.errstate, xp.iinfo), constants
        elif name in _TRANSFERS:
            def wrapped(data, *args, function=value, **kwargs):
                if type(data) is not StrictArray and isinstance(data, numpy.ndarray):
                    return StrictArray(function(data, *args, **_unwrap(kwargs)))
                return _wrap(function(_unwrap(data), *_unwrap(args), **_unwrap(kwargs)))
        else:
            wrapped = _wrapped(value)
        setattr(self, name, wrapped)  # cached: later lookups skip __getattr__
        return wrapped


#: The strict array module.
xp = StrictModule(numpy)


def _to_device(array: numpy.ndarray) -> StrictArray:
    return StrictArray(array)


def _to_host(value) -> numpy.ndarray:
    if type(value) is StrictArray:
        return value._host
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"an operator returned a NumPy array (shape {value.shape}, "
                        f"{value.dtype}) instead of a device array: create it with xp, not np")
    raise TypeError(f"an operator returned {type(value).__name__}, not a device array")


def _backend():
    from hybridgrad.backend import ArrayBackend

    return ArrayBackend("strict", xp, _to_device, _to_host)


BACKEND = _backend()
