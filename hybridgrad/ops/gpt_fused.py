"""Fused primitives first written for the GPT, now behind the library's own layers: ``gelu``
(``x * Phi(x)`` with the exact Gaussian CDF; ``nn.functional.gelu`` / ``nn.GELU``),
``layer_norm_last`` (layer normalisation over the channels with a gain;
``nn.functional.layer_norm`` / ``nn.LayerNorm``) and ``softmax_last`` (softmax over the last
axis, the GPT's attention weights).

Each is one forward of a few array passes with a closed-form first-order backward on arrays
(``forward_saving`` / ``vjp_array``: the forward keeps what the backward needs, as PyTorch's
``ctx.save_for_backward``); gradients of gradients and symbolic graphs use the same formulas in
framework operators (``vjp``). Measured on nanoGPT's laptop configuration (batch 12, context 64,
128 channels; ``benchmarks/gpt_attention.py``): the composite exact GELU took 22 ms forward +
backward on a (12, 64, 512) activation, 88 ms of a 184 ms step, against 3 ms fused; the
composite softmax and layer norm (five and nine primitives, about ten and fifteen backward
steps) cost 2.5 and 1 ms per call.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops.gpt_fused import gelu
    >>> [round(v, 4) for v in gelu(hg.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
"""

from __future__ import annotations

import math

from hybridgrad.ops import api as F
from hybridgrad.ops.registry import ELEMENTWISE, OpError, Spec, apply, register

__all__ = ["gelu", "layer_norm_last", "softmax_last"]

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# ----------------------------------------------------------------------------------------------
# GELU.


def _phi_and_density(xp, x):
    """``(Phi(x), phi(x))``: the standard normal CDF and density, in x's dtype."""
    if x.dtype == xp.float64 and hasattr(xp, "frompyfunc"):  # exact libm erf on the host
        erf = xp.asarray(xp.frompyfunc(math.erf, 1, 1)(x * _SQRT_HALF), dtype=xp.float64)
        return 0.5 * (1.0 + erf), xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
    # Abramowitz & Stegun 7.1.26 in the input's precision (error below 2e-7), in place.
    kind = x.dtype.type
    scaled = xp.abs(x) * kind(_SQRT_HALF)
    t = scaled * kind(0.3275911)
    t += kind(1.0)
    xp.reciprocal(t, out=t)
    poly = t * kind(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += kind(coefficient)
        poly *= t
    xp.square(scaled, out=scaled)
    xp.negative(scaled, out=scaled)
    gaussian = xp.exp(scaled, out=scaled)  # exp(-x^2 / 2)
    poly *= gaussian
    poly *= kind(-0.5)  # = -Phi(-|x|)
    # Phi(x) = 0.5 + sign(x) * (0.5 - Phi(-|x|)); copysign rather than where: where with a
    # random mask took 3.7 ms of a 4.5 ms forward on a (12, 64, 512) activation.
    poly += kind(0.5)
    cdf = xp.copysign(poly, x, out=poly)
    cdf += kind(0.5)
    gaussian *= kind(_INV_SQRT_2PI)
    return cdf, gaussian


def _gelu_shape(x):
    if x.dtype.kind != "f":
        raise OpError(f"gelu: expected a floating-point input, got {x.dtype}")
    return Spec(x.shape, x.dtype)


def _gelu_saving(xp, x):
    """The forward, also returning the derivative ``Phi(x) + x * phi(x)`` for the backward."""
    _gelu_shape(x)
    cdf, density = _phi_and_density(xp, x)
    output = cdf * x
    density *= x
    cdf += density
    return output, (cdf,)


def _gelu_vjp_array(xp, g, inputs, out, saved, needs):
    return ((g * saved[0]).astype(inputs[0].dtype, copy=False),)


def _gelu_vjp(g, inputs, out, needs):
    (x,) = inputs
    cdf = (F.erf(x * _SQRT_HALF) + 1.0) * 0.5
    return (g * (cdf + x * F.exp(x * x * -0.5) * _INV_SQRT_2PI),)


def _gelu_onnx(b, node):
    # x * 0.5 * (1 + Erf(x / sqrt 2)): opset 13 operators (Gelu itself needs opset 20).
    import numpy

    x = b.name(node.inputs[0])
    dtype = b.dtype(node)
    scaled = b.add("Mul", [x, b.constant(numpy.asarray(_SQRT_HALF, dtype=dtype))])
    plus_one = b.add("Add", [b.add("Erf", [scaled]),
                             b.constant(numpy.asarray(1.0, dtype=dtype))])
    half_x = b.add("Mul", [x, b.constant(numpy.asarray(0.5, dtype=dtype))])
    return b.add("Mul", [half_x, plus_one])


_NO_OUT_KERNEL = {"out_kernel": "not written yet: in a compiled graph the forward allocates its "
                                 "result"}


def _last_axis_rows(batched, shapes, rows, **attrs) -> bool:
    # Row i of the result reads row i of the first input alone, when that input has more than
    # the normalised axis (the weights and biases are whole).
    return bool(batched[0]) and not any(batched[1:]) and len(shapes[0]) >= 2


@register("gelu", shape=_gelu_shape, vjp=_gelu_vjp, onnx=_gelu_onnx, aliasing="fresh",
          rows=ELEMENTWISE,
          why_not={**_NO_OUT_KERNEL, "ufunc": "a polynomial in several in-place passes, not one "
                   "ufunc call; it stays a node of its own in fused elementwise chains"},
          forward_saving=_gelu_saving, vjp_array=_gelu_vjp_array,
          gradcheck="tests/models/test_gpt_ops.py", formula="gelu({x})",
          derivatives=("Phi({x}) + {x} * phi({x})",), arg_names=("x",))
def _gelu(xp, x):
    """``x * Phi(x)``, Phi the standard normal CDF."""
    _gelu_shape(x)
    cdf, _ = _phi_and_density(xp, x)
    cdf *= x
    return cdf


def gelu(x):
    """The exact GELU ``x * Phi(x)`` as one primitive (same values as
    ``hybridgrad.nn.functional.gelu``, several times faster forward and backward).

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.tensor([0.5], requires_grad=True)
        >>> gelu(x).backward()
        >>> round(x.grad.item(), 4)
        0.8675
    """
    return apply("gelu", x)


# ----------------------------------------------------------------------------------------------
# Softmax over the last axis: y * (g - sum(g * y)) backward; rows holding -inf (masked scores)
# give exact zeros.


def _softmax_shape(x):
    if x.dtype.kind != "f" or len(x.shape) < 1:
        raise OpError(f"softmax_last: expected a floating-point input with at least one "
                      f"dimension, got {x.dtype} of shape {tuple(x.shape)}")
    return Spec(x.shape, x.dtype)


def _softmax_vjp_array(xp, g, inputs, out, saved, needs):
    product = g * out
    total = xp.add.reduce(product, axis=-1, keepdims=True)
    product -= out * total
    return (product,)


def _softmax_vjp(g, inputs, out, needs):
    return (out * (g - F.sum(g * out, -1, keepdim=True)),)


def _softmax_onnx(b, node):
    return b.add("Softmax", [b.name(node.inputs[0])], axis=-1)


@register("softmax_last", shape=_softmax_shape, vjp=_softmax_vjp, onnx=_softmax_onnx,
          aliasing="fresh", rows=_last_axis_rows, why_not=_NO_OUT_KERNEL,
          vjp_array=_softmax_vjp_array, gradcheck="tests/models/test_gpt_ops.py",
          formula="softmax({x})",
          derivatives=("softmax({x}) * (grad - sum(grad * softmax({x})))",), arg_names=("x",))
def _softmax_last(xp, x):
    """Softmax over the last axis (max-shifted, so large inputs do not overflow)."""
    _softmax_shape(x)
    shifted = x - xp.maximum.reduce(x, axis=-1, keepdims=True)
    xp.exp(shifted, out=shifted)
    shifted /= xp.add.reduce(shifted, axis=-1, keepdims=True)
    return shifted


def softmax_last(x):
    """Softmax over the last axis as one primitive (the values of ``hg.softmax(x, -1)``).

    Example:
        >>> import hybridgrad as hg
        >>> softmax_last(hg.tensor([[0.0, float("-inf")], [1000.0, 1000.0]])).tolist()
        [[1.0, 0.0], [0.5, 0.5]]
    """
    return apply("softmax_last", x)


# ----------------------------------------------------------------------------------------------
# Layer normalisation over the last axis with a gain and a bias.


def _layer_norm_shape(x, weight, bias, eps):
    shape = tuple(x.shape)
    if (x.dtype.kind != "f" or len(shape) < 1 or tuple(weight.shape) != shape[-1:]
            or tuple(bias.shape) != shape[-1:]):
        raise OpError(f"layer_norm_last: expected a floating-point input (..., C) and a weight "
                      f"and bias of shape (C,), got input {shape} ({x.dtype}), weight "
                      f"{tuple(weight.shape)}, bias {tuple(bias.shape)}")
    return Spec(shape, x.dtype)


def _layer_norm_saving(xp, x, weight, bias, eps):
    """The forward, also returning ``(x_hat, 1/std)`` (biased variance, as PyTorch)."""
    _layer_norm_shape(x, weight, bias, eps)
    count = x.dtype.type(x.shape[-1])
    x_hat = x - xp.add.reduce(x, axis=-1, keepdims=True) / count
    variance = xp.add.reduce(x_hat * x_hat, axis=-1, keepdims=True) / count
    inv_std = 1.0 / xp.sqrt(variance + x.dtype.type(eps))
    x_hat *= inv_std
    out = x_hat * weight
    out += bias
    return out, (x_hat, inv_std)


def _layer_norm_vjp_array(xp, g, inputs, out, saved, needs, eps):
    x, weight, _ = inputs
    x_hat, inv_std = saved
    leading = tuple(range(x.ndim - 1))
    grad_x = grad_weight = grad_bias = None
    if needs[0]:
        gw = g * weight
        count = gw.dtype.type(gw.shape[-1])
        projection = xp.add.reduce(gw * x_hat, axis=-1, keepdims=True) / count
        grad_x = gw - xp.add.reduce(gw, axis=-1, keepdims=True) / count
        grad_x -= x_hat * projection
        grad_x *= inv_std
    if needs[1]:
        grad_weight = xp.add.reduce(g * x_hat, axis=leading)
    if needs[2]:
        grad_bias = xp.add.reduce(g, axis=leading)
    return grad_x, grad_weight, grad_bias


def _layer_norm_vjp(g, inputs, out, needs, eps):
    x, weight, bias = inputs
    leading = tuple(range(len(x.shape) - 1))
    centered = x - F.mean(x, -1, keepdim=True)
    inv_std = 1.0 / F.sqrt(F.mean(centered * centered, -1, keepdim=True) + eps)
    x_hat = centered * inv_std
    grad_x = grad_weight = grad_bias = None
    if needs[0]:
        gw = g * weight
        grad_x = inv_std * (gw - F.mean(gw, -1, keepdim=True)
                            - x_hat * F.mean(gw * x_hat, -1, keepdim=True))
    if needs[1]:
        grad_weight = F.sum(g * x_hat, leading) if leading else g * x_hat
    if needs[2]:
        grad_bias = F.sum(g, leading) if leading else g
    return grad_x, grad_weight, grad_bias


def _layer_norm_onnx(b, node):
    if getattr(b, "opset", 17) < 17:
        raise ValueError("layer_norm_last exports as LayerNormalization, which needs opset 17 "
                         "or later")
    names = [b.name(child) for child in node.inputs]
    return b.add("LayerNormalization", names, axis=-1, epsilon=float(node.attrs["eps"]))


@register("layer_norm_last", shape=_layer_norm_shape, vjp=_layer_norm_vjp,
          aliasing="fresh", rows=_last_axis_rows, why_not=_NO_OUT_KERNEL,
          onnx=_layer_norm_onnx, forward_saving=_layer_norm_saving,
          vjp_array=_layer_norm_vjp_array, gradcheck="tests/models/test_gpt_ops.py",
          formula="layernorm({x}, {w}, {b})",
          derivatives=("({w} / sigma) * (grad - mean(grad) - xhat * mean(grad * xhat))",
                       "sum(grad * xhat)", "sum(grad)"), arg_names=("x", "w", "b"))
def _layer_norm_last(xp, x, weight, bias, eps):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis."""
    return _layer_norm_saving(xp, x, weight, bias, eps)[0]


def layer_norm_last(x, weight, bias, eps: float = 1e-5):
    """Layer normalisation over the last axis as one primitive (the values of
    ``hybridgrad.nn.functional.layer_norm(x, (C,), weight, bias, eps)``).

    Example:
        >>> import hybridgrad as hg
        >>> out = layer_norm_last(hg.tensor([[0.0, 2.0]]), hg.ones(2), hg.zeros(2))
        >>> [round(v, 4) for v in out[0].tolist()]
        [-1.0, 1.0]
    """
    return apply("layer_norm_last", x, weight, bias, eps=float(eps))
