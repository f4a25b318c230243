"""Layer normalization (Ba et al. 2016) with PyTorch's ``nn.LayerNorm`` API.

Statistics are taken over the trailing ``normalized_shape`` dimensions of each sample. The
variance is computed in two passes (mean first, then the mean of squared deviations), which stays
accurate when the features share a large offset, where ``E[x^2] - E[x]^2`` cancels badly.

Example:
    >>> import hybridgrad as hg
    >>> out = hg.nn.LayerNorm(4)(hg.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> [round(v, 3) for v in out[0].tolist()]
    [-1.342, -0.447, 0.447, 1.342]
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

import functools
import numbers

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.ops import api
from hybridgrad.ops.gpt_fused import layer_norm_last
from hybridgrad.tensor import Tensor

__all__ = ["LayerNorm", "layer_norm"]


def _as_shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, (numbers.Integral, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


@functools.lru_cache(maxsize=16)
def _zeros(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A read-only zero shift, made once per (shape, dtype) rather than on every call."""
    zeros = np.zeros(shape, dtype=dtype)
    zeros.flags.writeable = False
    return zeros


def layer_norm(input, normalized_shape, weight=None, bias=None,
               eps: float = 1e-5):
    """Normalize over the last ``len(normalized_shape)`` dims, then scale by ``weight`` and shift
    by ``bias`` (both of shape ``normalized_shape``, optional). Uses the biased variance, as
    PyTorch does.

    Example:
        >>> import hybridgrad as hg
        >>> out = layer_norm(hg.tensor([[0.0, 2.0]]), (2,))
        >>> [round(v, 4) for v in out[0].tolist()]
        [-1.0, 1.0]
    """
    shape = _as_shape(normalized_shape)
    input_shape = tuple(input.shape)
    if len(shape) == 0 or len(shape) > len(input_shape) or input_shape[-len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the trailing "
                         f"dimensions of the input of shape {input_shape}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != shape:
            raise ValueError(f"layer_norm: {name} has shape {tuple(value.shape)}, expected "
                             f"normalized_shape {shape}")
    if len(shape) == 1 and weight is not None:
        # Over the channels with a gain (the transformer case): one fused primitive with a
        # closed-form backward instead of nine primitives; a missing bias is a zero shift.
        if bias is None:
            bias = Tensor._wrap(_zeros(tuple(weight.shape), np.dtype(weight.dtype)))
        return layer_norm_last(input, weight, bias, eps)
    dims = tuple(range(len(input_shape) - len(shape), len(input_shape)))
    centered = input - api.mean(input, dims, keepdim=True)
    variance = api.mean(centered * centered, dims, keepdim=True)
    out = centered / api.sqrt(variance + float(eps))
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` dims with a learnable
    elementwise ``weight`` (ones) and ``bias`` (zeros) when ``elementwise_affine``.

    Example:
        >>> import hybridgrad as hg
        >>> sorted(hg.nn.LayerNorm((2, 3)).state_dict())
        ['bias', 'weight']
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = np.dtype(dtype or np.float32)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
