"""Reduction primitives (sum, amax, prod, argmax, argmin) and matrix multiplication.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> x.sum(dim=0).sum().backward()
    >>> x.grad.tolist()
    [[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

from hybridgrad import dtypes
from hybridgrad.ops import api as F
from hybridgrad.ops.registry import OpError, Spec, apply, broadcast_shape, promote, register


def _reduced_shape(shape: tuple, axis, keepdims: bool) -> tuple:
    if axis is None:
        return (1,) * len(shape) if keepdims else ()
    if keepdims:
        return tuple(1 if i in axis else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axis)


def _reduction_rule(result_dtype=None):
    def rule(a, axis, keepdims):
        dtype = result_dtype or (dtypes.int64 if a.dtype.kind in "biu" else a.dtype)
        return Spec(_reduced_shape(tuple(a.shape), axis, keepdims), dtype)

    return rule


def _keep_shape(grad, shape: tuple, axis, keepdims: bool):
    """Reshape a reduced gradient so that it broadcasts against the input shape."""
    if keepdims:
        return grad
    return F.reshape(grad, _reduced_shape(shape, axis, True))


def _sum_vjp(g, inputs, out, needs, axis, keepdims):
    shape = tuple(inputs[0].shape)
    # The reduced gradient broadcasts straight back when the summed axes lead (or were kept).
    if not keepdims and axis is not None and axis != tuple(range(len(axis))):
        g = F.reshape(g, _reduced_shape(shape, axis, True))
    return (F.broadcast_to(g, shape),)


@register("sum", shape=_reduction_rule(), formula="sum({a})", derivatives=("1",),
          arg_names=("a",), vjp=_sum_vjp)
def _sum(xp, a, axis, keepdims):
    """Sum over axes (integers and bools sum as int64, as in PyTorch)."""
    # The ufunc method skips np.sum's Python-level dispatch (about 1.5 microseconds).
    return xp.add.reduce(a, axis=axis, keepdims=keepdims,
                         dtype=xp.int64 if a.dtype.kind in "biu" else None)


def _amax_vjp(g, inputs, out, needs, axis, keepdims):
    a = inputs[0]
    shape = tuple(a.shape)
    out_keep = _keep_shape(out, shape, axis, keepdims)
    mask = F.to(F.eq(a, out_keep), a.dtype)
    count = F.sum(mask, axis, keepdim=True)
    return (mask * (_keep_shape(g, shape, axis, keepdims) / count),)


@register("amax", shape=_reduction_rule(), formula="max({a})",
          derivatives=("1 at the maximum (shared by ties), else 0",), arg_names=("a",),
          vjp=_amax_vjp)
def _amax(xp, a, axis, keepdims):
    """Maximum over axes."""
    if a.size == 0:
        raise ValueError("max of an empty tensor is undefined")
    return xp.maximum.reduce(a, axis=axis, keepdims=keepdims)


def _prod_vjp(g, inputs, out, needs, axis, keepdims):
    a = inputs[0]
    shape = tuple(a.shape)
    # d(prod)/da_i is the product of the other elements, written so that zeros are exact and the
    # expression itself differentiates correctly (second derivatives):
    # * a_i != 0: prod / a_i (prod keeps the zeros, so its own gradient is right);
    # * a_i == 0, the only zero of its slice: the product of the non-zero elements;
    # * a_i == 0, one other zero a_m: a_m * (product of the non-zero elements), where a_m is
    #   written as (sum of the zero elements) - a_i: value 0, derivative 1 w.r.t. a_m;
    # * three or more zeros: 0 (and so are all its first derivatives).
    is_zero = a == 0
    safe = F.where(is_zero, 1, a)
    zeros = F.sum(F.to(is_zero, a.dtype), axis, keepdim=True)
    prod_nonzero = F.prod(safe, axis, keepdim=True)
    other_zero = F.sum(F.where(is_zero, a, 0), axis, keepdim=True) - a
    at_zero = F.where(zeros == 1, prod_nonzero,
                      F.where(zeros == 2, other_zero * prod_nonzero, 0))
    others = F.where(is_zero, at_zero, _keep_shape(out, shape, axis, keepdims) / safe)
    return (others * _keep_shape(g, shape, axis, keepdims),)


@register("prod", shape=_reduction_rule(), formula="prod({a})",
          derivatives=("product of the other elements",), arg_names=("a",), vjp=_prod_vjp)
def _prod(xp, a, axis, keepdims):
    """Product over axes (integers and bools multiply as int64)."""
    return xp.multiply.reduce(a, axis=axis, keepdims=keepdims,
                              dtype=xp.int64 if a.dtype.kind in "biu" else None)


def _arg_rule(a, axis, keepdims):
    axes = None if axis is None else (axis,)
    return Spec(_reduced_shape(tuple(a.shape), axes, keepdims), dtypes.int64)


@register("argmax", shape=_arg_rule, formula="argmax({a})", arg_names=("a",))
def _argmax(xp, a, axis, keepdims):
    """Index of the maximum."""
    return xp.argmax(a, axis=axis, keepdims=keepdims).astype(xp.int64, copy=False)


@register("argmin", shape=_arg_rule, formula="argmin({a})", arg_names=("a",))
def _argmin(xp, a, axis, keepdims):
    """Index of the minimum."""
    return xp.argmin(a, axis=axis, keepdims=keepdims).astype(xp.int64, copy=False)


# ----------------------------------------------------------------------------------------------
# Matrix multiplication.


def _matmul_shape(a, b):
    sa, sb = tuple(a.shape), tuple(b.shape)
    if not sa or not sb:
        raise OpError(f"matmul: both operands need at least 1 dimension, got {sa} and {sb}")
    left = sa if len(sa) > 1 else (1,) + sa
    right = sb if len(sb) > 1 else sb + (1,)
    if left[-1] != right[-2]:
        raise OpError(f"matmul: shapes {sa} and {sb} are not aligned "
                      f"({left[-1]} (dim -1) != {right[-2]} (dim -2))")
    batch = broadcast_shape("matmul", left[:-2], right[:-2])
    shape = batch + (left[-2], right[-1])
    if len(sa) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(sb) == 1:
        shape = shape[:-1]
    return Spec(shape, promote(a.dtype, b.dtype))


def sum_to(grad, shape: tuple):
    """Sum a broadcast gradient back to ``shape`` (the single place where this happens; eager
    autograd and the symbolic compiler's ``grad`` call it as :func:`hybridgrad.autograd.sum_to`).

    Example:
        >>> import hybridgrad as hg
        >>> sum_to(hg.ones(2, 3), (1, 3)).tolist()
        [[2.0, 2.0, 2.0]]
    """
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = len(grad.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(dim=axes, keepdim=True)
    return grad.reshape(shape)



def _swap_last(x):
    """Transpose the last two axes with one primitive call (no public-API checks: hot path)."""
    ndim = len(x.shape)
    return apply("permute", x, dims=tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


def _matmul_vjp(g, inputs, out, needs):
    a, b = inputs
    a_shape, b_shape = tuple(a.shape), tuple(b.shape)
    if len(a_shape) == 1 and len(b_shape) == 1:
        return (g * b if needs[0] else None, g * a if needs[1] else None)
    a2 = a if len(a_shape) > 1 else F.reshape(a, (1,) + a_shape)
    b2 = b if len(b_shape) > 1 else F.reshape(b, b_shape + (1,))
    g2 = g
    if len(a_shape) == 1:
        g2 = F.unsqueeze(g2, -2)
    if len(b_shape) == 1:
        g2 = F.unsqueeze(g2, -1)
    grad_a = grad_b = None
    # Batch dimensions that were broadcast are summed back by sum_to.
    if needs[0]:
        grad_a = F.matmul(g2, _swap_last(b2))
        if tuple(grad_a.shape) != tuple(a2.shape):
            grad_a = sum_to(grad_a, tuple(a2.shape))
        grad_a = F.reshape(grad_a, a_shape)
    if needs[1]:
        grad_b = F.matmul(_swap_last(a2), g2)
        if tuple(grad_b.shape) != tuple(b2.shape):
            grad_b = sum_to(grad_b, tuple(b2.shape))
        grad_b = F.reshape(grad_b, b_shape)
    return grad_a, grad_b


@register("matmul", shape=_matmul_shape, vjp=_matmul_vjp, formula="{a} @ {b}",
          derivatives=("grad @ {b}^T", "{a}^T @ grad"), promotes=True, arg_names=("a", "b"))
def _matmul(xp, a, b):
    """Matrix product (NumPy's matmul rules)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("both operands need at least 1 dimension")
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        where = "first" if b.ndim == 1 else "second-to-last"
        raise ValueError(f"shapes {a.shape} and {b.shape} are not aligned: {inner_a} (last "
                         f"dimension of the first) != {inner_b} ({where} dimension of the second)")
    # Zero-stride operands (broadcast gradients such as sum's) push NumPy off its BLAS path,
    # which is 10x slower or worse; a contiguous copy is cheaper.
    if a.ndim > 1 and 0 in a.strides and a.size > 1:
        a = xp.ascontiguousarray(a)
    if b.ndim > 1 and 0 in b.strides and b.size > 1:
        b = xp.ascontiguousarray(b)
    return xp.matmul(a, b)
