"""Group and instance normalization (PyTorch's ``nn.GroupNorm``, ``nn.InstanceNorm1d/2d``) and
``api.normalize``, composed from mean/var so gradients come from the primitives.

Example:
    >>> import hybridgrad as hg
    >>> out = hg.nn.GroupNorm(2, 4)(hg.arange(16.0).reshape(2, 4, 2))
    >>> out.shape, round(float(out[0, :2].mean()), 6)
    ((2, 4, 2), 0.0)
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

import numpy as np

from hybridgrad.device import check_device
from hybridgrad.nn.batchnorm import init_normalization_state
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.ops import api

__all__ = ["GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "group_norm", "instance_norm",
           "normalize"]


def _affine(out, weight, bias):
    shape = (1, -1) + (1,) * (len(out.shape) - 2)
    if weight is not None:
        out = out * api.reshape(weight, shape)
    if bias is not None:
        out = out + api.reshape(bias, shape)
    return out


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Normalise each sample over groups of channels (biased variance), then scale and shift
    per channel.

    Example:
        >>> import hybridgrad as hg
        >>> group_norm(hg.tensor([[1.0, 3.0]], dtype=hg.float64), 1).tolist()
        [[-0.9999950000374997, 0.9999950000374997]]
    """
    batch, channels = input.shape[0], input.shape[1]
    if channels % num_groups:
        raise ValueError(f"group_norm: num_groups ({num_groups}) must divide the number of "
                         f"channels ({channels})")
    grouped = api.reshape(input, (batch, num_groups, -1))
    mean = api.mean(grouped, -1, keepdim=True)
    centered = grouped - mean
    variance = api.mean(centered * centered, -1, keepdim=True)
    out = api.reshape(centered / api.sqrt(variance + eps), tuple(input.shape))
    return _affine(out, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel of each sample over its spatial positions.

    Example:
        >>> import hybridgrad as hg
        >>> instance_norm(hg.tensor([[[1.0, 3.0]]], dtype=hg.float64)).tolist()
        [[[-0.9999950000374997, 0.9999950000374997]]]
    """
    if not use_input_stats:
        shape = (1, -1) + (1,) * (len(input.shape) - 2)
        out = (input - api.reshape(running_mean, shape)) / api.sqrt(
            api.reshape(running_var, shape) + eps)
        return _affine(out, weight, bias)
    axes = tuple(range(2, len(input.shape)))
    mean = api.mean(input, axes, keepdim=True)
    centered = input - mean
    variance = api.mean(centered * centered, axes, keepdim=True)
    if running_mean is not None and running_var is not None:
        count = int(np.prod(input.shape[2:]))
        batch_mean = mean._array.mean(axis=(0,) + axes)
        batch_var = variance._array.mean(axis=(0,) + axes) * count / max(count - 1, 1)
        running_mean._array[...] = (1 - momentum) * running_mean._array + momentum * batch_mean
        running_var._array[...] = (1 - momentum) * running_var._array + momentum * batch_var
    return _affine(centered / api.sqrt(variance + eps), weight, bias)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """Divide by the p-norm along ``dim`` (at least ``eps``).

    Example:
        >>> import hybridgrad as hg
        >>> normalize(hg.tensor([[3.0, 4.0]], dtype=hg.float64)).tolist()
        [[0.6, 0.8]]
    """
    from hybridgrad.ops.api_linalg import norm

    return input / api.clamp(norm(input, p, dim, keepdim=True), eps, None)


class GroupNorm(Module):
    """Group normalization over ``num_groups`` groups of ``num_channels`` channels.

    Example:
        >>> import hybridgrad as hg
        >>> sorted(hg.nn.GroupNorm(2, 4).state_dict())
        ['bias', 'weight']
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        dtype = np.dtype(dtype or np.float32)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dtype))
            self.bias = Parameter(np.zeros(num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    _dims = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None):
        super().__init__()
        check_device(device)
        init_normalization_state(self, num_features, eps, momentum, affine, track_running_stats,
                                 dtype)

    def forward(self, input):
        # _dims spatial dimensions: (C, *spatial) is one unbatched sample.
        unbatched = len(input.shape) == self._dims + 1
        if unbatched:
            input = api.unsqueeze(input, 0)
        use_input_stats = self.training or not self.track_running_stats
        out = instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum, self.eps)
        return api.squeeze(out, 0) if unbatched else out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) inputs.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.InstanceNorm1d(3)(hg.randn(2, 3, 5)).shape
        (2, 3, 5)
    """

    _dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) inputs.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.InstanceNorm2d(3, affine=True)(hg.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _dims = 2


def rms_norm(input, normalized_shape, weight=None, eps: float | None = None):
    """Divide by the root mean square over the trailing ``normalized_shape`` dimensions (eps
    defaults to the dtype's machine epsilon, as PyTorch), then scale by ``weight``.

    Example:
        >>> import hybridgrad as hg
        >>> rms_norm(hg.tensor([[3.0, 4.0]], dtype=hg.float64), (2,)).tolist()[0][0] > 0.84
        True
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    axes = tuple(range(len(input.shape) - len(shape), len(input.shape)))
    if eps is None:
        eps = float(np.finfo(input.dtype if input.dtype.kind == "f" else np.float32).eps)
    out = input / api.sqrt(api.mean(input * input, axes, keepdim=True) + eps)
    return out * weight if weight is not None else out


class RMSNorm(Module):
    """Root-mean-square normalization with a learnable elementwise scale (ones).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.RMSNorm(4)(hg.ones(2, 4)).tolist()[0][0] > 0.99
        True
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        self.normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                                 else tuple(normalized_shape))
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape,
                                            dtype=np.dtype(dtype or np.float32)))
        else:
            self.register_parameter("weight", None)

    def forward(self, input):
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Normalise each channel by its neighbours' squared sum (AlexNet's LRN).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.LocalResponseNorm(2)(hg.ones(1, 3, 2, 2)).shape
        (1, 3, 2, 2)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    """``input / (k + alpha/size * sum of squares over size neighbouring channels)^beta``.

    Example:
        >>> import hybridgrad as hg
        >>> local_response_norm(hg.ones(1, 1, 1), 1, alpha=1.0, beta=1.0).item()
        0.5
    """
    squares = input * input
    channels = input.shape[1]
    padded = api.pad(squares, (0, 0) * (len(input.shape) - 2) + (size // 2, (size - 1) // 2))
    total = None
    for offset in range(size):
        window = api.getitem(padded, (slice(None), slice(offset, offset + channels)))
        total = window if total is None else total + window
    return input / (k + alpha / size * total) ** beta


__all__ += ["LocalResponseNorm", "RMSNorm", "local_response_norm", "rms_norm"]
