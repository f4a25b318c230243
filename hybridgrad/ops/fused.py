"""Fused primitives that exist for speed only (each equals a composite of other primitives).

* ``linear(x, w)`` is ``x @ w^T`` (PyTorch's ``F.linear`` without the bias; w is (out, in)).
  As a composite ``matmul(x, permute(w))`` the weight gradient comes out as the transpose of
  ``x^T @ grad``, a strided view that the engine must copy into a contiguous ``.grad``: for a
  784x512 layer that transposing copy cost more than the matmul itself (about 3 ms against
  0.7 ms). Here the VJP computes ``grad^T @ x`` directly, already in the weight's layout, and
  the forward multiplies a 2-D view of the input (one BLAS call, no batched loop).

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops.registry import apply
    >>> x = hg.ones(2, 3, requires_grad=True)
    >>> w = hg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> y = apply("linear", x, w)
    >>> y.tolist()
    [[6.0], [6.0]]
    >>> y.sum().backward()
    >>> w.grad.tolist(), x.grad.tolist()
    ([[2.0, 2.0, 2.0]], [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
"""

from __future__ import annotations

import math

from hybridgrad.ops import api
from hybridgrad.ops.registry import OpError, Spec, apply, promote, register


def _linear_shape(x, w):
    if len(w.shape) != 2 or len(x.shape) < 1 or x.shape[-1] != w.shape[1]:
        raise OpError(f"linear: expected an input (..., in_features) and a weight "
                      f"(out_features, in_features), got input {tuple(x.shape)} and weight "
                      f"{tuple(w.shape)}")
    return Spec(tuple(x.shape[:-1]) + (w.shape[0],), promote(x.dtype, w.dtype))


def _linear_vjp(g, inputs, out, needs):
    x, w = inputs
    grad_x = grad_w = None
    if needs[0]:
        grad_x = api.matmul(g, w)  # (..., out) @ (out, in)
    if needs[1]:
        out_features, in_features = tuple(w.shape)
        rows = math.prod(tuple(x.shape[:-1]))
        g2 = g if len(g.shape) == 2 else api.reshape(g, (rows, out_features))
        x2 = x if len(x.shape) == 2 else api.reshape(x, (rows, in_features))
        # grad^T @ x lands in the weight's (out, in) layout: no transposing copy afterwards.
        grad_w = api.matmul(apply("permute", g2, dims=(1, 0)), x2)
    return grad_x, grad_w


@register("linear", gradcheck="tests/ops/test_fused.py", shape=_linear_shape, vjp=_linear_vjp,
          promotes=True, formula="{x} @ {w}^T", derivatives=("grad @ {w}", "grad^T @ {x}"),
          arg_names=("x", "w"), aliasing="fresh",
          rows=lambda batched, shapes, rows: list(batched) == [True, False],
          why_not={"out_kernel": "compiled graphs lower it to matmul, which has one"})
def _linear(xp, x, w):
    """``x @ w^T`` for x (..., in) and w (out, in)."""
    _linear_shape(x, w)
    # Zero-stride operands (broadcast gradients) push NumPy off its BLAS path; copy them.
    if 0 in x.strides and x.size > 1:
        x = xp.ascontiguousarray(x)
    if 0 in w.strides and w.size > 1:
        w = xp.ascontiguousarray(w)
    if x.ndim == 2:
        return xp.matmul(x, w.T)
    # One 2-D product instead of NumPy's loop over the leading (batch) dimensions.
    lead = x.shape[:-1]
    return xp.matmul(x.reshape(math.prod(lead), x.shape[-1]), w.T).reshape(lead + (w.shape[0],))


# ----------------------------------------------------------------------------------------------
# Batch normalisation with batch statistics (training mode).
#
# The composite (mean, subtract, square, mean, add, sqrt, divide, multiply, add: nine primitives
# and as many backward steps over the whole activation) took 37 ms forward + backward for a
# (64, 32, 26, 26) input against PyTorch's 5 ms. The fused forward makes six array passes and
# saves the batch mean, variance and 1/std (``forward_saving``: the node keeps them, and
# nn.functional.batch_norm updates the running statistics from them); the first-order backward
# (``vjp_array``) computes the closed-form input gradient from the saved statistics. Gradients
# of gradients (create_graph) and symbolic graphs use the same formulas written in framework
# operators (``vjp``).


def _bn_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def _bn_view(shape: tuple) -> tuple:
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def _batch_norm_train_shape(x, weight, bias, eps):
    shape = tuple(x.shape)
    if len(shape) < 2 or tuple(weight.shape) != (shape[1],) or tuple(bias.shape) != (shape[1],):
        raise OpError(f"batch_norm_train: expected an input (N, C, *) and a weight and bias of "
                      f"shape (C,), got input {shape}, weight {tuple(weight.shape)} and bias "
                      f"{tuple(bias.shape)}")
    return Spec(shape, promote(x.dtype, weight.dtype, bias.dtype))


def batch_norm_statistics(xp, x, eps: float) -> tuple:
    """(mean, biased variance, 1/sqrt(var + eps)) per channel of (N, C, *), kept as (1, C, 1..).

    Example:
        >>> import numpy as np
        >>> m, v, inv = batch_norm_statistics(np, np.array([[1.0], [3.0]]), 0.0)
        >>> m.tolist(), v.tolist(), inv.tolist()
        ([[2.0]], [[1.0]], [[1.0]])
    """
    axes = _bn_axes(x.ndim)
    count = x.size // x.shape[1] if x.shape[1] else 0
    mean = xp.add.reduce(x, axis=axes, keepdims=True) / x.dtype.type(count)
    centered = x - mean
    var = xp.add.reduce(xp.square(centered, out=centered), axis=axes, keepdims=True)
    var /= x.dtype.type(count)
    inv_std = 1.0 / xp.sqrt(var + x.dtype.type(eps))
    return mean, var.astype(x.dtype, copy=False), inv_std.astype(x.dtype, copy=False)


def _batch_norm_train_vjp_array(xp, g, inputs, out, saved, needs, eps):
    """First order: the closed form on arrays, from the statistics the forward saved."""
    x, weight, _ = inputs
    shape = tuple(x.shape)
    axes, view = _bn_axes(len(shape)), _bn_view(shape)
    # The forward's dtype (after promotion and the cast of integer inputs).
    dtype = out.dtype
    xd = x.astype(dtype, copy=False)
    gd = g.astype(dtype, copy=False)
    wd = weight.astype(dtype, copy=False).reshape(view)
    count = dtype.type(xd.size // shape[1])
    mean, _, inv_std = saved
    x_hat = xd - mean
    x_hat *= inv_std
    grad_bias = xp.add.reduce(gd, axis=axes, keepdims=True)
    grad_weight = xp.add.reduce(gd * x_hat, axis=axes, keepdims=True)
    grad_x = None
    if needs[0]:
        scale = inv_std * wd
        grad_x = gd * scale
        x_hat *= scale * grad_weight / count
        grad_x -= x_hat
        grad_x -= scale * grad_bias / count
    return (grad_x, grad_weight.reshape(shape[1]) if needs[1] else None,
            grad_bias.reshape(shape[1]) if needs[2] else None)


def _batch_norm_train_vjp(g, inputs, out, needs, eps):
    """Gradients of gradients and symbolic graphs: the closed form in framework operators."""
    x, weight, bias = inputs
    shape = tuple(x.shape)
    axes, view = _bn_axes(len(shape)), _bn_view(shape)
    mean = api.mean(x, axes, keepdim=True)
    centered = x - mean
    inv_std = 1.0 / api.sqrt(api.mean(centered * centered, axes, keepdim=True) + eps)
    x_hat = centered * inv_std
    grad_x = grad_weight = grad_bias = None
    if needs[0]:
        gw = g * api.reshape(weight, view)
        grad_x = inv_std * (gw - api.mean(gw, axes, keepdim=True)
                            - x_hat * api.mean(gw * x_hat, axes, keepdim=True))
    if needs[1]:
        grad_weight = api.sum(g * x_hat, axes)
    if needs[2]:
        grad_bias = api.sum(g, axes)
    return grad_x, grad_weight, grad_bias


def _batch_norm_train_saving(xp, x, weight, bias, eps):
    """The forward, also returning (mean, biased var, 1/std), each (1, C, 1...), for the
    backward and the running statistics."""
    _batch_norm_train_shape(x, weight, bias, eps)
    # float_only casts integer inputs but skips promotion: promote here (the shape rule's dtype).
    dtype = xp.result_type(x, weight, bias)
    x, weight, bias = (a.astype(dtype, copy=False) for a in (x, weight, bias))
    mean, var, inv_std = batch_norm_statistics(xp, x, eps)
    view = _bn_view(x.shape)
    out = x - mean
    out *= inv_std * weight.reshape(view)
    out += bias.reshape(view)
    return out, (mean, var, inv_std)


@register("batch_norm_train", gradcheck="tests/ops/test_fused.py",
          shape=_batch_norm_train_shape, vjp=_batch_norm_train_vjp, promotes=True,
          float_only=True, formula="batchnorm({x}, {w}, {b})", aliasing="fresh",
          why_not={"rows": "batch statistics mix every row",
                   "out_kernel": "eager training mode only (not in compiled graphs)"},
          derivatives=("({w} / sigma) * (grad - mean(grad) - xhat * mean(grad * xhat))",
                       "sum(grad * xhat)", "sum(grad)"),
          arg_names=("x", "w", "b"),
          forward_saving=_batch_norm_train_saving, vjp_array=_batch_norm_train_vjp_array)
def _batch_norm_train(xp, x, weight, bias, eps):
    """Normalise (N, C, *) with its own per-channel mean and biased variance, then scale and
    shift: ``(x - mean) / sqrt(var + eps) * weight + bias`` (weight, bias of shape (C,))."""
    return _batch_norm_train_saving(xp, x, weight, bias, eps)[0]
