"""Batch normalisation layers: BatchNorm1d, BatchNorm2d (PyTorch's API, buffers and semantics).

Buffers ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (int64)
are in the state_dict under PyTorch's names. ``momentum=None`` uses a cumulative average.

Example:
    >>> import hybridgrad as hg
    >>> bn = hg.nn.BatchNorm2d(3)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""

# ruff: noqa: A002 - "input" is PyTorch's argument name
from __future__ import annotations

import numpy as np

from hybridgrad.nn import functional as F
from hybridgrad.nn import init
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.ops.registry import TracingError, state_symbol, update_state
from hybridgrad.tensor import Tensor


class _BatchNorm(Module):
    _expected: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None):
        super().__init__()
        init_normalization_state(self, num_features, eps, momentum, affine, track_running_stats,
                                 dtype)
        self.register_buffer("num_batches_tracked",
                             Tensor(np.array(0, dtype=np.int64)) if track_running_stats else None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._array[...] = 0
            self.running_var._array[...] = 1
            self.num_batches_tracked._array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input_dim(self, input) -> None:
        if len(input.shape) not in self._expected:
            wanted = " or ".join(f"{d}-D" for d in self._expected)
            raise ValueError(f"{type(self).__name__}: expected {wanted} input, got shape "
                             f"{tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"(dim 1), got input of shape {tuple(input.shape)}")

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if (self.training and self.track_running_stats and self.num_batches_tracked is not None
                and not isinstance(input, Tensor)):
            # Tracing (hg.jit): the counter's increment is a side effect of the compiled graph.
            if self.momentum is None:
                raise TracingError(f"{type(self).__name__}(momentum=None) averages with "
                                   f"1/num_batches_tracked, a value read at trace time: use a "
                                   f"float momentum to trace it in training mode")
            update_state(self.num_batches_tracked, state_symbol(self.num_batches_tracked) + 1)
        elif self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._array[...] += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._array)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) over N (and L).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.BatchNorm1d(4)(hg.randn(8, 4)).shape
        (8, 4)
    """

    _expected = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) over N, H and W.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.BatchNorm2d(3)(hg.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _expected = (4,)


def init_normalization_state(module: Module, num_features: int, eps: float, momentum,
                             affine: bool, track_running_stats: bool, dtype) -> None:
    """The settings, affine parameters and running statistics that batch and instance norm
    share, with PyTorch's names (absent ones registered as None, as PyTorch does).

    Example:
        >>> m = Module(); init_normalization_state(m, 3, 1e-5, 0.1, True, False, None)
        >>> m.weight.shape, m.running_mean is None
        ((3,), True)
    """
    module.num_features, module.eps, module.momentum = num_features, eps, momentum
    module.affine, module.track_running_stats = affine, track_running_stats
    dtype = np.dtype(dtype or np.float32)
    if affine:
        module.weight = Parameter(np.ones(num_features, dtype=dtype))
        module.bias = Parameter(np.zeros(num_features, dtype=dtype))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    if track_running_stats:
        module.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
        module.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
    else:
        module.register_buffer("running_mean", None)
        module.register_buffer("running_var", None)
