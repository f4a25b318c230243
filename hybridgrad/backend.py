"""The array module that operators run on: the one place that chooses it.

Operators never call NumPy for their array code: their forwards (``forward(xp, ...)``) and
array-level VJPs (``vjp_array(xp, ...)``) receive ``xp``, the array module of the active
:class:`ArrayBackend`, and create, combine and reduce arrays only through it. NumPy is the
default (arrays pass straight through). Another backend converts arrays at the operator
boundary (``to_device`` on the way in, ``to_host`` on the way out). The ``"cupy"`` backend is
``ArrayBackend("cupy", cupy, cupy.asarray, cupy.asnumpy)``, with no operator-specific code
(not yet run on a GPU; tensors still hold NumPy arrays, so each operator copies to the GPU and
back: a check of the operator layer, not a fast path; issue 15's device API keeps tensors on
the device). The
``"strict"`` backend (:mod:`hybridgrad.strict_backend`) wraps arrays in a type that every NumPy
function refuses, so the test suite run on it proves that no operator calls NumPy on a device
array.

The backend is read from the environment variable ``HYBRIDGRAD_ARRAY_BACKEND`` (``numpy``,
``strict`` or ``cupy``) at import, and set for a block with :func:`use_backend`.

Example:
    >>> from hybridgrad.backend import xp
    >>> xp.add([1], [2]).tolist()
    [3]
    >>> get_backend().name
    'numpy'
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Any, Callable, Iterator

import numpy

# NumPy, the default array module (kept for code that imports ``xp`` from here).
xp = numpy

# Device type -> the array module its tensors live in (see hybridgrad.device). A CuPy backend
# registers ARRAY_MODULES["cuda"] = cupy; until then CUDA requests raise PyTorch's CPU-build error.
ARRAY_MODULES = {"cpu": numpy}


class ArrayBackend:
    """An array module plus the conversions of arrays into it and back to NumPy.

    Example:
        >>> import numpy as np
        >>> twice = ArrayBackend("demo", np, lambda a: a * 2, lambda a: a)
        >>> twice.call(lambda xp, a: xp.add(a, 1), np.ones(2)).tolist()
        [3.0, 3.0]
    """

    def __init__(self, name: str, module: Any, to_device: Callable, to_host: Callable):
        self.name, self.xp = name, module
        self.to_device, self.to_host = to_device, to_host

    def call(self, function: Callable, *args: Any, **attrs: Any) -> Any:
        """``function(xp, *args, **attrs)`` with NumPy arrays in ``args`` (also inside lists and
        tuples) converted to this backend's arrays and the result (an array or nested tuples of
        arrays) converted back to NumPy. Attributes are passed unchanged."""
        converted = [self._in(value) for value in args]
        return self._out(function(self.xp, *converted, **attrs))

    def _in(self, value):
        if isinstance(value, numpy.ndarray):
            return self.to_device(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self._in(item) for item in value)
        return value

    def _out(self, value):
        if isinstance(value, tuple):
            return tuple(self._out(item) for item in value)
        if value is None or isinstance(value, (bool, int, float, complex, numpy.generic)):
            return value
        return self.to_host(value)

    def __repr__(self) -> str:
        return f"ArrayBackend({self.name!r})"


NUMPY = ArrayBackend("numpy", numpy, lambda array: array, lambda array: array)


def _strict() -> ArrayBackend:
    from hybridgrad import strict_backend

    return strict_backend.BACKEND


def _cupy() -> ArrayBackend:
    try:
        import cupy
    except ImportError as error:
        raise ValueError(f"array backend 'cupy' needs CuPy, which cannot be imported here "
                         f"({error})") from None
    return ArrayBackend("cupy", cupy, cupy.asarray, cupy.asnumpy)


# Backends by name: the array module and its conversions; operator code is the same for all.
BACKENDS: dict[str, Callable[[], ArrayBackend]] = {"numpy": lambda: NUMPY, "strict": _strict,
                                                   "cupy": _cupy}


def _backend_named(name: str) -> ArrayBackend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown array backend {name!r} (HYBRIDGRAD_ARRAY_BACKEND or "
                         f"use_backend); known: {sorted(BACKENDS)}") from None


def _from_environment() -> ArrayBackend | None:
    name = os.environ.get("HYBRIDGRAD_ARRAY_BACKEND", "numpy") or "numpy"
    backend = _backend_named(name)
    return None if backend is NUMPY else backend


# None means NumPy: the operator hot path tests for it and skips every conversion. The default
# (read from the environment) is the default of every thread's context, so worker threads see it.
_active: contextvars.ContextVar[ArrayBackend | None] = contextvars.ContextVar(
    "array_backend", default=_from_environment())  # noqa: B039 - backends are never mutated

#: The active backend when it is not NumPy, else None.
converting_backend = _active.get

#: Non-empty while some context may run a non-NumPy backend (the environment chose one, or a
#: use_backend block is open in some thread): the operator hot path reads the context variable
#: only then, a list test being several times cheaper than a context-variable read.
CONVERTING: list = [] if _active.get() is None else ["environment"]


def get_backend() -> ArrayBackend:
    """The active array backend.

    Example:
        >>> get_backend().name
        'numpy'
    """
    return _active.get() or NUMPY


def get_array_module():
    """Return the array module operators run on (NumPy unless another backend is active).

    Example:
        >>> get_array_module().__name__
        'numpy'
    """
    return get_backend().xp


@contextlib.contextmanager
def use_backend(backend: ArrayBackend | str) -> Iterator[ArrayBackend]:
    """Run operators on another array backend inside a ``with`` block.

    Example:
        >>> import hybridgrad as hg
        >>> with use_backend("strict") as strict:
        ...     (hg.ones(2) * 3).tolist(), strict.name
        ([3.0, 3.0], 'strict')
    """
    if isinstance(backend, str):
        backend = _backend_named(backend)
    token = _active.set(None if backend is NUMPY else backend)
    CONVERTING.append(backend.name)
    try:
        yield backend
    finally:
        CONVERTING.remove(backend.name)
        _active.reset(token)
