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

from hybridgrad.ops import api as F
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
        grad_x = F.matmul(g, w)  # (..., out) @ (out, in)
    if needs[1]:
        out_features, in_features = tuple(w.shape)
        rows = math.prod(tuple(x.shape[:-1]))
        g2 = g if len(g.shape) == 2 else F.reshape(g, (rows, out_features))
        x2 = x if len(x.shape) == 2 else F.reshape(x, (rows, in_features))
        # grad^T @ x lands in the weight's (out, in) layout: no transposing copy afterwards.
        grad_w = F.matmul(apply("permute", g2, dims=(1, 0)), x2)
    return grad_x, grad_w


@register("linear", gradcheck="tests/ops/test_fused.py", shape=_linear_shape, vjp=_linear_vjp,
          promotes=True, formula="{x} @ {w}^T", derivatives=("grad @ {w}", "grad^T @ {x}"),
          arg_names=("x", "w"))
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
