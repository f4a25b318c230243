"""Out-kernels: operators' forwards written into a given array (the ``out_kernel`` fact).

The compiled executor (:mod:`hybridgrad.symbolic.executor`) runs an operator with an out-kernel
into a buffer the memory planner chose, instead of letting the forward allocate. An operator's
``out_kernel`` is bound once per compiled node: called with the node's attributes, it returns
``fn(out, *arrays)`` (so nothing is looked up per call). Ufunc-backed operators get theirs from
their ``ufunc`` fact (:func:`hybridgrad.ops.registry.ufunc_kernel`); the ones here need more
than one NumPy call or an attribute. Each must equal the operator's forward bit for bit.

Example:
    >>> import numpy as np
    >>> kernel = clamp_out(low=-1.0, high=1.0)
    >>> kernel(np.empty(3), np.array([-2.0, 0.5, 3.0]))
    array([-1. ,  0.5,  1. ])
"""

from __future__ import annotations

from typing import Callable

import numpy as np

_SELECT_BITS = {np.dtype(np.float32): np.dtype(np.int32),
                np.dtype(np.float64): np.dtype(np.int64)}
_SELECT_BLOCK_ELEMENTS = 1 << 16


def _row_block(array: np.ndarray, out: np.ndarray, rows: slice) -> np.ndarray:
    """Rows ``rows`` of an operand that spans all of ``out``'s rows; a broadcast one whole."""
    spans = array.ndim == out.ndim and array.shape[0] == out.shape[0] and out.shape[0] > 1
    return array[rows] if spans else array


def where_kernel(out, condition, a, b):
    """``where(condition, a, b)`` into ``out`` (exact, NaN and infinities included).

    Example:
        >>> where_kernel(np.empty(2), np.array([True, False]), np.ones(2), np.zeros(2))
        array([1., 0.])
    """
    if condition.dtype != np.bool_:
        condition = condition.astype(bool)
    bits = _SELECT_BITS.get(out.dtype)
    # (a weak Python scalar, relu's gradient ``where(x > 0, g, 0)``, arrives as an int64 0-d
    # array: cast as the general path's copyto would)
    if bits is not None and b.size == 1 and b.dtype != out.dtype:
        b = b.astype(out.dtype)
    if bits is not None and a.size == 1 and a.dtype != out.dtype:
        a = a.astype(out.dtype)
    if bits is None or a.dtype != out.dtype or b.dtype != out.dtype or out.ndim == 0:
        np.copyto(out, b, casting="unsafe")
        np.copyto(out, a, casting="unsafe", where=condition)
        return out
    # A branch-free select on the bit patterns, ``(a & mask) | (b & ~mask)`` with mask all ones
    # where the condition holds: np.where and masked copies branch per element and were ~10x
    # slower (0.53-0.72 ms against 0.06 ms for 256x512 floats) on an unpredictable mask such as
    # relu's gradient mask. Exact, NaN and infinities included. Rows in blocks, so that the
    # integer mask, which the memory planner does not see, stays small.
    rows = out.shape[0]
    step = max(1, _SELECT_BLOCK_ELEMENTS // max(1, out.size // max(rows, 1)))
    zero_b = b.size == 1 and not b.reshape(-1).view(bits)[0]
    whole = out.view(bits)
    for start in range(0, rows, step):
        rows_of = slice(start, min(start + step, rows))
        mask = np.subtract(0, _row_block(condition, out, rows_of), dtype=bits)
        target = whole[rows_of]
        if zero_b:
            np.bitwise_and(_row_block(a, out, rows_of).view(bits), mask, out=target)
            continue
        # (b is read before ``out`` is written: ``out`` may be b's own memory)
        other = np.bitwise_and(_row_block(b, out, rows_of).view(bits), np.invert(mask))
        np.bitwise_and(_row_block(a, out, rows_of).view(bits), mask, out=target)
        np.bitwise_or(target, other, out=target)
    return out


def clamp_kernel(out, a, low, high):
    """``clamp(a, low, high)`` into ``out`` (a bound may be None).

    Example:
        >>> clamp_kernel(np.empty(2), np.array([-3.0, 3.0]), None, 1.0)
        array([-3.,  1.])
    """
    source = a
    if low is not None:
        np.maximum(source, np.asarray(low, dtype=a.dtype), out=out)
        source = out
    if high is not None:
        np.minimum(source, np.asarray(high, dtype=a.dtype), out=out)
    return out


def where_out() -> Callable:
    """The out-kernel of ``where``: :func:`where_kernel`. Example: ``where_out()(out, c, a, b)``."""
    return where_kernel


def clamp_out(low, high) -> Callable:
    """The out-kernel of ``clamp`` with these bounds."""
    return lambda out, a: clamp_kernel(out, a, low, high)


def matmul_out() -> Callable:
    """The out-kernel of ``matmul``.

    Example:
        >>> matmul_out()(np.empty((1, 1)), np.ones((1, 2)), np.ones((2, 1)))
        array([[2.]])
    """
    return lambda out, a, b: np.matmul(a, b, out=out)


def sum_out(axis, keepdims) -> Callable:
    """The out-kernel of ``sum`` over ``axis``.

    Example:
        >>> sum_out(axis=(1,), keepdims=False)(np.empty(2), np.ones((2, 3)))
        array([3., 3.])
    """
    return lambda out, a: np.sum(a, axis=axis, keepdims=keepdims, out=out)


def cast_out(dtype) -> Callable:
    """The out-kernel of ``cast``: the input converted to ``out``'s dtype.

    Example:
        >>> cast_out(np.int64)(np.empty(2, np.int64), np.array([1.7, -1.7]))
        array([ 1, -1])
    """
    return lambda out, a: (np.copyto(out, a, casting="unsafe"), out)[1]


def ones_out() -> Callable:
    """The out-kernel of ``ones_like``.

    Example:
        >>> ones_out()(np.empty(2), np.zeros(2))
        array([1., 1.])
    """
    return lambda out, a: (out.fill(1), out)[1]


# The value of OpDef.out_kernel for operators that the executor runs on blocks of samples into
# its buffer (the convolutions: their im2col workspace, which the planner cannot see, then
# holds a block, not the batch). A sample-wise operator's blocks are stacked, a reduction's
# (the weight gradient) summed.
SAMPLE_BLOCKS = "sample_blocks"
