"""The fully connected layer.

Example:
    >>> import hybridgrad as hg
    >>> hg.nn.Linear(3, 2)(hg.ones(4, 3)).shape
    (4, 2)
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.ops.registry import apply
from hybridgrad.tensor import default_generator


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` (PyTorch's ``F.linear``; weight is (out, in)).

    Example:
        >>> import hybridgrad as hg
        >>> linear(hg.ones(1, 2), hg.ones(3, 2)).tolist()
        [[2.0, 2.0, 2.0]]
    """
    # One fused primitive (its weight gradient is computed in the weight's own layout).
    out = apply("linear", x, weight)
    return out if bias is None else out + bias


class Linear(Module):
    """``y = x W^T + b``; weight (out_features, in_features), PyTorch's default init.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Linear(3, 2).weight.shape
        (2, 3)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        check_device(device)
        self.in_features, self.out_features = in_features, out_features
        # PyTorch: kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(in), 1/sqrt(in)); same for the bias.
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        rng = default_generator()
        dtype = np.dtype(dtype or np.float32)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features))
                                .astype(dtype))
        if bias:
            self.bias = Parameter(rng.uniform(-bound, bound, (out_features,)).astype(dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
