"""The GPT's fused primitives: ``gelu`` (``x * Phi(x)`` with the exact Gaussian CDF) for the MLP
and ``softmax_last`` (softmax over the last axis) for the attention weights.

The composite ``x * 0.5 * (erf(x / sqrt 2) + 1)`` costs about twenty passes over the
activation in float64 (the float32 erf is evaluated in float64) plus the backward of each:
22 ms forward + backward for a (12, 64, 512) float32 activation, 88 ms of a 184 ms step of
nanoGPT's laptop configuration. Fused, the forward evaluates Phi once in the input's precision
(Abramowitz & Stegun 7.1.26 for float32, error below 2e-7; the exact ``math.erf`` in float64)
and the first-order backward computes ``grad * (Phi(x) + x * phi(x))`` in NumPy
(``benchmarks/gpt_attention.py`` times both). Gradients of gradients and symbolic graphs use
the same formula in framework operators.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops.gpt_fused import gelu
    >>> [round(v, 4) for v in gelu(hg.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from hybridgrad.ops import api as F
from hybridgrad.ops.registry import OpError, Spec, apply, register

__all__ = ["gelu", "layer_norm_last", "softmax_last"]

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf_exact = np.frompyfunc(math.erf, 1, 1)
# The derivative Phi(x) + x * phi(x) computed by a forward that records a graph, by id of its
# output array (with a weak reference to tell a reused id apart), so the first-order backward
# is one multiplication. Bounded: an output never differentiated is pushed out.
_SAVED_DERIVATIVES: dict = {}
_SAVED_MAX = 64


def _phi_and_density(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Phi(x), phi(x))``: the standard normal CDF and density, in x's dtype."""
    if x.dtype == np.float64:
        cdf = 0.5 * (1.0 + np.asarray(_erf_exact(x * _SQRT_HALF), dtype=np.float64))
        return cdf, np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    one = x.dtype.type(1.0)
    scaled = np.abs(x) * x.dtype.type(_SQRT_HALF)
    t = scaled * x.dtype.type(0.3275911)
    t += one
    np.reciprocal(t, out=t)
    poly = t * x.dtype.type(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += x.dtype.type(coefficient)
        poly *= t
    np.square(scaled, out=scaled)
    np.negative(scaled, out=scaled)
    gaussian = np.exp(scaled, out=scaled)  # exp(-x^2 / 2)
    poly *= gaussian
    poly *= x.dtype.type(-0.5)  # = -Phi(-|x|)
    # Phi(x) = 0.5 + sign(x) * (0.5 - Phi(-|x|)); copysign rather than where: where with a
    # random mask took 3.7 ms of a 4.5 ms forward on a (12, 64, 512) activation.
    poly += x.dtype.type(0.5)
    cdf = np.copysign(poly, x, out=poly)
    cdf += x.dtype.type(0.5)
    gaussian *= x.dtype.type(_INV_SQRT_2PI)
    return cdf, gaussian


def _gelu_shape(x):
    if x.dtype.kind != "f":
        raise OpError(f"gelu: expected a floating-point input, got {x.dtype}")
    return Spec(x.shape, x.dtype)


def _gelu_vjp(g, inputs, out, needs):
    (x,) = inputs
    from hybridgrad.autograd import is_grad_enabled
    from hybridgrad.tensor import Tensor

    if isinstance(g, Tensor) and not is_grad_enabled():
        xd = x._array
        saved = _SAVED_DERIVATIVES.pop(id(out._array), None)
        if saved is not None and saved[0]() is out._array:
            derivative = saved[1]
        else:
            derivative, density = _phi_and_density(xd)
            density *= xd
            derivative += density
        return (Tensor._wrap((g._array * derivative).astype(xd.dtype, copy=False)),)
    # Gradients of gradients and symbolic graphs: the same formula in framework operators.
    cdf = (F.erf(x * _SQRT_HALF) + 1.0) * 0.5
    return (g * (cdf + x * F.exp(x * x * -0.5) * _INV_SQRT_2PI),)


def _gelu_onnx(b, node):
    # x * 0.5 * (1 + Erf(x / sqrt 2)): opset 13 operators (Gelu itself needs opset 20).
    x = b.name(node.inputs[0])
    dtype = b.dtype(node)
    scaled = b.add("Mul", [x, b.constant(np.asarray(_SQRT_HALF, dtype=dtype))])
    plus_one = b.add("Add", [b.add("Erf", [scaled]), b.constant(np.asarray(1.0, dtype=dtype))])
    half_x = b.add("Mul", [x, b.constant(np.asarray(0.5, dtype=dtype))])
    return b.add("Mul", [half_x, plus_one])


@register("gelu", shape=_gelu_shape, vjp=_gelu_vjp, onnx=_gelu_onnx,
          gradcheck="tests/models/test_gpt_ops.py", formula="gelu({x})",
          derivatives=("Phi({x}) + {x} * phi({x})",), arg_names=("x",))
def _gelu(xp, x):
    """``x * Phi(x)``, Phi the standard normal CDF."""
    from hybridgrad.autograd import is_grad_enabled

    _gelu_shape(x)
    cdf, density = _phi_and_density(x)
    output = cdf * x
    if is_grad_enabled():  # keep the derivative for the backward (as PyTorch saves tensors)
        density *= x
        cdf += density
        if len(_SAVED_DERIVATIVES) >= _SAVED_MAX:
            _SAVED_DERIVATIVES.pop(next(iter(_SAVED_DERIVATIVES)))
        _SAVED_DERIVATIVES[id(output)] = (weakref.ref(output), cdf)
    return output


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
# Softmax over the last axis. The composite (amax, sub, exp, sum, div: five primitives and a
# backward of about ten) is one forward of four NumPy passes and a closed-form backward
# y * (g - sum(g * y)) here; rows holding -inf (masked scores) give exact zeros.


def _softmax_shape(x):
    if x.dtype.kind != "f" or len(x.shape) < 1:
        raise OpError(f"softmax_last: expected a floating-point input with at least one "
                      f"dimension, got {x.dtype} of shape {tuple(x.shape)}")
    return Spec(x.shape, x.dtype)


def _softmax_vjp(g, inputs, out, needs):
    from hybridgrad.autograd import is_grad_enabled
    from hybridgrad.tensor import Tensor

    if isinstance(g, Tensor) and not is_grad_enabled():
        y = out._array
        product = g._array * y
        total = np.add.reduce(product, axis=-1, keepdims=True)
        product -= y * total
        return (Tensor._wrap(product),)
    return (out * (g - F.sum(g * out, -1, keepdim=True)),)


def _softmax_onnx(b, node):
    return b.add("Softmax", [b.name(node.inputs[0])], axis=-1)


@register("softmax_last", shape=_softmax_shape, vjp=_softmax_vjp, onnx=_softmax_onnx,
          gradcheck="tests/models/test_gpt_ops.py", formula="softmax({x})",
          derivatives=("softmax({x}) * (grad - sum(grad * softmax({x})))",), arg_names=("x",))
def _softmax_last(xp, x):
    """Softmax over the last axis (max-shifted, so large inputs do not overflow)."""
    _softmax_shape(x)
    shifted = x - np.maximum.reduce(x, axis=-1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= np.add.reduce(shifted, axis=-1, keepdims=True)
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
# Layer normalisation over the last axis with a gain and a bias. The composite (mean, sub, mul,
# mean, add, sqrt, div, mul, add: nine primitives, about fifteen backward steps) costs a
# millisecond forward + backward on a (12, 64, 128) activation, nine times per GPT step; fused,
# the forward makes a few NumPy passes and keeps x_hat and 1/std for the closed-form backward.
_SAVED_NORMS: dict = {}


def _layer_norm_shape(x, weight, bias, eps):
    shape = tuple(x.shape)
    if (x.dtype.kind != "f" or len(shape) < 1 or tuple(weight.shape) != shape[-1:]
            or tuple(bias.shape) != shape[-1:]):
        raise OpError(f"layer_norm_last: expected a floating-point input (..., C) and a weight "
                      f"and bias of shape (C,), got input {shape} ({x.dtype}), weight "
                      f"{tuple(weight.shape)}, bias {tuple(bias.shape)}")
    return Spec(shape, x.dtype)


def _normalize(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x_hat, 1/std)`` over the last axis (biased variance, as PyTorch)."""
    count = x.dtype.type(x.shape[-1])
    centered = x - np.add.reduce(x, axis=-1, keepdims=True) / count
    variance = np.add.reduce(centered * centered, axis=-1, keepdims=True) / count
    inv_std = 1.0 / np.sqrt(variance + x.dtype.type(eps))
    centered *= inv_std
    return centered, inv_std


def _layer_norm_vjp(g, inputs, out, needs, eps):
    x, weight, bias = inputs
    from hybridgrad.autograd import is_grad_enabled
    from hybridgrad.tensor import Tensor

    leading = tuple(range(len(x.shape) - 1))
    if isinstance(g, Tensor) and not is_grad_enabled():
        saved = _SAVED_NORMS.pop(id(out._array), None)
        if saved is not None and saved[0]() is out._array:
            x_hat, inv_std = saved[1], saved[2]
        else:
            x_hat, inv_std = _normalize(x._array, eps)
        gd = g._array
        grad_x = grad_weight = grad_bias = None
        if needs[0]:
            gw = gd * weight._array
            count = gw.dtype.type(gw.shape[-1])
            projection = np.add.reduce(gw * x_hat, axis=-1, keepdims=True) / count
            grad_x = gw - np.add.reduce(gw, axis=-1, keepdims=True) / count
            grad_x -= x_hat * projection
            grad_x *= inv_std
            grad_x = Tensor._wrap(grad_x)
        if needs[1]:
            grad_weight = Tensor._wrap(np.add.reduce(gd * x_hat, axis=leading))
        if needs[2]:
            grad_bias = Tensor._wrap(np.add.reduce(gd, axis=leading))
        return grad_x, grad_weight, grad_bias
    # Gradients of gradients and symbolic graphs: the same formulas in framework operators.
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
          onnx=_layer_norm_onnx, gradcheck="tests/models/test_gpt_ops.py",
          formula="layernorm({x}, {w}, {b})",
          derivatives=("({w} / sigma) * (grad - mean(grad) - xhat * mean(grad * xhat))",
                       "sum(grad * xhat)", "sum(grad)"), arg_names=("x", "w", "b"))
def _layer_norm_last(xp, x, weight, bias, eps):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis."""
    from hybridgrad.autograd import is_grad_enabled

    _layer_norm_shape(x, weight, bias, eps)
    x_hat, inv_std = _normalize(x, eps)
    out = x_hat * weight
    out += bias
    if is_grad_enabled():
        if len(_SAVED_NORMS) >= _SAVED_MAX:
            _SAVED_NORMS.pop(next(iter(_SAVED_NORMS)))
        _SAVED_NORMS[id(out)] = (weakref.ref(out), x_hat, inv_std)
    return out


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
