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
from hybridgrad.ops import api
from hybridgrad.ops.kernels import matmul_out, sum_out
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
    return api.reshape(grad, _reduced_shape(shape, axis, True))


def _sum_vjp(g, inputs, out, needs, axis, keepdims):
    shape = tuple(inputs[0].shape)
    # The reduced gradient broadcasts straight back when the summed axes lead (or were kept).
    if not keepdims and axis is not None and axis != tuple(range(len(axis))):
        g = api.reshape(g, _reduced_shape(shape, axis, True))
    return (api.broadcast_to(g, shape),)


def _keeps_axis_0(batched, shapes, rows, axis, keepdims):
    """Row rule of the reductions: row-wise unless they reduce over the batch axis."""
    return axis is not None and 0 not in axis


def _arg_keeps_rows(batched, shapes, rows, axis, keepdims):
    """Row rule of argmax/argmin: an index along another axis, one per row."""
    return axis is not None and axis != 0 and (keepdims or len(shapes[0]) > 1)


@register("sum", shape=_reduction_rule(), formula="sum({a})", derivatives=("1",),
          arg_names=("a",), vjp=_sum_vjp, aliasing="fresh", out_kernel=sum_out,
          rows=_keeps_axis_0)
def _sum(xp, a, axis, keepdims):
    """Sum over axes (integers and bools sum as int64, as in PyTorch)."""
    # The ufunc method skips np.sum's Python-level dispatch (about 1.5 microseconds).
    return xp.add.reduce(a, axis=axis, keepdims=keepdims,
                         dtype=xp.int64 if a.dtype.kind in "biu" else None)


def _amax_vjp(g, inputs, out, needs, axis, keepdims):
    a = inputs[0]
    shape = tuple(a.shape)
    out_keep = _keep_shape(out, shape, axis, keepdims)
    mask = api.to(api.eq(a, out_keep), a.dtype)
    count = api.sum(mask, axis, keepdim=True)
    return (mask * (_keep_shape(g, shape, axis, keepdims) / count),)


@register("amax", shape=_reduction_rule(), formula="max({a})",
          derivatives=("1 at the maximum (shared by ties), else 0",), arg_names=("a",),
          vjp=_amax_vjp, aliasing="fresh", rows=_keeps_axis_0,
          why_not={"out_kernel": "not written yet (np.maximum.reduce takes out=)"})
def _amax(xp, a, axis, keepdims):
    """Maximum over axes."""
    if a.size == 0:
        raise ValueError("max of an empty tensor is undefined")
    return xp.max(a, axis=axis, keepdims=keepdims)


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
    safe = api.where(is_zero, 1, a)
    zeros = api.sum(api.to(is_zero, a.dtype), axis, keepdim=True)
    prod_nonzero = api.prod(safe, axis, keepdim=True)
    other_zero = api.sum(api.where(is_zero, a, 0), axis, keepdim=True) - a
    at_zero = api.where(zeros == 1, prod_nonzero,
                      api.where(zeros == 2, other_zero * prod_nonzero, 0))
    others = api.where(is_zero, at_zero, _keep_shape(out, shape, axis, keepdims) / safe)
    return (others * _keep_shape(g, shape, axis, keepdims),)


@register("prod", shape=_reduction_rule(), formula="prod({a})",
          derivatives=("product of the other elements",), arg_names=("a",), vjp=_prod_vjp,
          aliasing="fresh", rows=_keeps_axis_0,
          why_not={"out_kernel": "not written yet (np.multiply.reduce takes out=)"})
def _prod(xp, a, axis, keepdims):
    """Product over axes (integers and bools multiply as int64)."""
    return xp.multiply.reduce(a, axis=axis, keepdims=keepdims,
                              dtype=xp.int64 if a.dtype.kind in "biu" else None)


def _arg_rule(a, axis, keepdims):
    axes = None if axis is None else (axis,)
    return Spec(_reduced_shape(tuple(a.shape), axes, keepdims), dtypes.int64)


@register("argmax", shape=_arg_rule, formula="argmax({a})", arg_names=("a",), aliasing="fresh",
          rows=_arg_keeps_rows, why_not={"out_kernel": "not written yet"})
def _argmax(xp, a, axis, keepdims):
    """Index of the maximum."""
    return xp.argmax(a, axis=axis, keepdims=keepdims).astype(xp.int64, copy=False)


@register("argmin", shape=_arg_rule, formula="argmin({a})", arg_names=("a",), aliasing="fresh",
          rows=_arg_keeps_rows, why_not={"out_kernel": "not written yet"})
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
    a2 = a if len(a_shape) > 1 else api.reshape(a, (1,) + a_shape)
    b2 = b if len(b_shape) > 1 else api.reshape(b, b_shape + (1,))
    g2 = g
    if len(a_shape) == 1:
        g2 = api.unsqueeze(g2, -2)
    if len(b_shape) == 1:
        g2 = api.unsqueeze(g2, -1)
    grad_a = grad_b = None
    # Batch dimensions that were broadcast are summed back by sum_to.
    if needs[0]:
        grad_a = api.matmul(g2, _swap_last(b2))
        if tuple(grad_a.shape) != tuple(a2.shape):
            grad_a = sum_to(grad_a, tuple(a2.shape))
        grad_a = api.reshape(grad_a, a_shape)
    if needs[1]:
        grad_b = api.matmul(_swap_last(a2), g2)
        if tuple(grad_b.shape) != tuple(b2.shape):
            grad_b = sum_to(grad_b, tuple(b2.shape))
        grad_b = api.reshape(grad_b, b_shape)
    return grad_a, grad_b


@register("matmul", shape=_matmul_shape, vjp=_matmul_vjp, formula="{a} @ {b}",
          derivatives=("grad @ {b}^T", "{a}^T @ grad"), promotes=True, arg_names=("a", "b"),
          aliasing="fresh", out_kernel=matmul_out,
          # (a batch of rows times an unbatched matrix)
          rows=lambda batched, shapes, rows: (list(batched) == [True, False]
                                              and len(shapes[0]) >= 2 and len(shapes[1]) == 2))
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


# ----------------------------------------------------------------------------------------------
# Cumulative sums and the discrete Fourier transform (first needed by ONNX import). Their
# gradient checks:
_CHECKS = "tests/ops/test_math_primitives.py"


def _cumsum_forward(xp, a, axis, exclusive, reverse):
    if reverse:
        a = xp.flip(a, axis)
    out = xp.cumsum(a, axis=axis, dtype=a.dtype)
    if exclusive:
        out = out - a
    if reverse:
        out = xp.flip(out, axis)
    return out


def _cumsum_vjp(g, inputs, out, needs, axis, exclusive, reverse):
    # The adjoint of a running sum is the running sum in the other direction.
    return (apply("cumsum", g, axis=axis, exclusive=exclusive, reverse=not reverse),)


register("cumsum", shape=lambda a, axis, exclusive, reverse: Spec(a.shape, a.dtype),
         vjp=_cumsum_vjp, gradcheck=_CHECKS, formula="cumsum({a})", derivatives=("1",),
         arg_names=("a",),
         aliasing="fresh", rows=lambda batched, shapes, rows, axis, **_: axis != 0,
         why_not={"out_kernel": "flips and an exclusive shift around NumPy's cumsum"},
         )(_cumsum_forward)


def cumsum(a, dim: int, *, exclusive: bool = False, reverse: bool = False):
    """Cumulative sum along ``dim`` (optionally exclusive and/or from the end).

    Example:
        >>> import hybridgrad as hg
        >>> cumsum(hg.tensor([1.0, 2.0, 3.0]), 0, exclusive=True, reverse=True).tolist()
        [5.0, 3.0, 0.0]
    """
    ndim = len(a.shape)
    return apply("cumsum", a, axis=int(dim) % max(ndim, 1), exclusive=bool(exclusive),
                 reverse=bool(reverse))


def _fft_forward(xp, a, length, inverse, onesided):
    signal = a[..., 0] + 1j * a[..., 1]
    if inverse:
        out = xp.fft.ifft(signal, n=length, axis=-1)
    else:
        out = xp.fft.fft(signal, n=length, axis=-1)
    if onesided:
        out = out[..., :length // 2 + 1]
    real_dtype = a.dtype if a.dtype.kind == "f" else xp.float64
    return xp.stack([out.real, out.imag], -1).astype(real_dtype, copy=False)


def _fft_vjp(g, inputs, out, needs, length, inverse, onesided):
    # The DFT is complex-linear; its adjoint is the conjugate transform: L * ifft for the
    # forward DFT, fft / L for the inverse (zero-padding the one-sided gradient first).
    size = inputs[0].shape[-2]
    if onesided:
        g = api.pad(g, (0, 0, 0, length - g.shape[-2]))
    grad = apply("fft", g, length=length, inverse=not inverse, onesided=False)
    grad = grad * (length if not inverse else 1.0 / length)
    if size < length:
        grad = grad[..., :size, :]
    elif size > length:
        grad = api.pad(grad, (0, 0, 0, size - length))
    return (grad,)


def _fft_shape(a, length, inverse, onesided):
    bins = length // 2 + 1 if onesided else length
    return Spec(tuple(a.shape[:-2]) + (bins, 2), a.dtype)


register("fft", shape=_fft_shape, vjp=_fft_vjp, gradcheck=_CHECKS, formula="fft({a})",
         derivatives=("conjugate transform",), arg_names=("a",), aliasing="fresh",
         # (the transform runs along axis -2 of (..., n, 2): leading axes are independent)
         rows=lambda batched, shapes, rows, **_: len(shapes[0]) >= 3,
         why_not={"out_kernel": "NumPy's complex FFT allocates; the result is repacked"},
         )(_fft_forward)


def fft(a, length: int | None = None, *, inverse: bool = False, onesided: bool = False):
    """Discrete Fourier transform along axis -2 of a complex signal stored as (..., n, 2)
    (real, imaginary); ``inverse`` divides by ``length``; ``onesided`` keeps length // 2 + 1
    bins. Differentiable (the adjoint of a DFT is the conjugate DFT).

    Example:
        >>> import hybridgrad as hg
        >>> fft(hg.tensor([[1.0, 0.0], [0.0, 0.0]])).tolist()
        [[1.0, 0.0], [1.0, 0.0]]
    """
    length = a.shape[-2] if length is None else int(length)
    return apply("fft", a, length=length, inverse=bool(inverse), onesided=bool(onesided))
