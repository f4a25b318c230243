"""PyTorch's keyword forms of the core functions as ``hg.`` functions: ``alpha=`` on
``add``/``sub`` and ``out=`` (write the result into an existing tensor) on the common ones.

The operator methods (``x + y``) call :mod:`hybridgrad.ops.api` directly; these wrappers are
only what ``hg.add(...)``, ``hg.matmul(..., out=buffer)`` and friends resolve to.

Example:
    >>> import hybridgrad as hg
    >>> buffer = hg.zeros(2)
    >>> hg.add(hg.ones(2), hg.ones(2), alpha=2, out=buffer) is buffer, buffer.tolist()
    (True, [3.0, 3.0])
"""

# ruff: noqa: A001, A002 - PyTorch's argument names
from __future__ import annotations

from hybridgrad.ops import api
from hybridgrad.ops import api_math as M


def _out(result, out):
    """PyTorch's ``out=``: the result written into ``out`` (resized if needed), returned."""
    if out is None:
        return result
    import numpy as np

    from hybridgrad.versions import bump

    array = result._array
    if out._array.shape != array.shape:
        out._array = np.empty(array.shape, dtype=out._array.dtype)
    np.copyto(out._array, array, casting="unsafe")
    bump(out._array)
    return out


def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other``. Example: ``hg.add(x, y, alpha=2)``."""
    return _out(api.add(input, other if alpha == 1 else other * alpha), out)


def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other``. Example: ``hg.sub(x, y, alpha=2)``."""
    return _out(api.sub(input, other if alpha == 1 else other * alpha), out)


subtract = sub


def mul(input, other, *, out=None):
    """``input * other``. Example: ``hg.mul(x, 2)``."""
    return _out(api.mul(input, other), out)


multiply = mul


def div(input, other, *, rounding_mode=None, out=None):
    """``input / other`` (``rounding_mode`` as :func:`hybridgrad.ops.api_math.div`)."""
    return _out(M.div(input, other, rounding_mode=rounding_mode), out)


divide = div


def matmul(input, other, *, out=None):
    """Matrix product. Example: ``hg.matmul(a, b, out=c)``."""
    return _out(api.matmul(input, other), out)


def cat(tensors, dim: int = 0, *, out=None, axis=None):
    """Concatenate along ``dim``. Example: ``hg.cat([a, b], 1)``."""
    return _out(api.cat(tensors, dim, axis=axis), out)


def stack(tensors, dim: int = 0, *, out=None, axis=None):
    """Stack along a new ``dim``. Example: ``hg.stack([a, b])``."""
    return _out(api.stack(tensors, dim, axis=axis), out)


def exp(input, *, out=None):
    """Elementwise exp."""
    return _out(api.exp(input), out)


def log(input, *, out=None):
    """Elementwise natural log."""
    return _out(api.log(input), out)


def sqrt(input, *, out=None):
    """Elementwise square root."""
    return _out(api.sqrt(input), out)


def abs(input, *, out=None):
    """Elementwise absolute value."""
    return _out(api.abs(input), out)


def clamp(input, min=None, max=None, *, out=None):
    """Clamp into [min, max]."""
    return _out(api.clamp(input, min, max), out)


clip = clamp


def pow(input, exponent, *, out=None):
    """``input ** exponent``."""
    return _out(api.pow(input, exponent), out)


def sum(input, dim=None, keepdim: bool = False, *, dtype=None, out=None, **kwargs):
    """Sum over ``dim``."""
    return _out(api.sum(input, dim, keepdim, dtype=dtype, **kwargs), out)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None, out=None, **kwargs):
    """Mean over ``dim``."""
    return _out(api.mean(input, dim, keepdim, dtype=dtype, **kwargs), out)


__all__ = ["abs", "add", "cat", "clamp", "clip", "div", "divide", "exp", "log", "matmul",
           "mean", "mul", "multiply", "pow", "sqrt", "stack", "sub", "subtract", "sum"]
