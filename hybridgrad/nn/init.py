"""Parameter initialisation with PyTorch's names, formulas and defaults (``torch.nn.init``).

Every function fills a tensor in place (no gradient is recorded) and returns it. Random draws come
from ``hg.default_generator()`` (seeded by ``hg.manual_seed``) or from ``generator=``.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.zeros(3, 4)
    >>> _ = hg.nn.init.constant_(w, 0.5)
    >>> float(w.sum())
    6.0
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.random import numpy_generator
from hybridgrad.tensor import Tensor
from hybridgrad.versions import bump

__all__ = [
    "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_",
    "ones_", "orthogonal_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_",
    "zeros_",
]


def _fill(tensor: Tensor, values) -> Tensor:
    """Write values into the tensor's array in place, keeping its dtype."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a hybridgrad Tensor, got {type(tensor).__name__}")
    tensor._array[...] = np.asarray(values).astype(tensor._array.dtype, copy=False)
    bump(tensor._array)  # an in-place write, as PyTorch's init functions (version counter)
    return tensor


def _rng(generator) -> np.random.Generator:
    return numpy_generator(generator)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a non-linearity (PyTorch's table).

    Example:
        >>> round(calculate_gain("relu"), 4), calculate_gain("tanh")
        (1.4142, 1.6666666666666667)
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: dim 1 and dim 0 times the receptive field size.

    Example:
        >>> import hybridgrad as hg
        >>> _calculate_fan_in_and_fan_out(hg.zeros(8, 3, 5, 5))
        (75, 200)
    """
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {shape})")
    receptive_field = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b).

    Example:
        >>> import hybridgrad as hg
        >>> t = uniform_(hg.zeros(1000), -2.0, 3.0)
        >>> bool(t._array.min() >= -2.0 and t._array.max() <= 3.0)
        True
    """
    return _fill(tensor, _rng(generator).uniform(a, b, tuple(tensor.shape)))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2).

    Example:
        >>> import hybridgrad as hg
        >>> t = normal_(hg.zeros(10000), 3.0, 0.5)
        >>> round(float(t._array.mean()), 1)
        3.0
    """
    return _fill(tensor, _rng(generator).normal(mean, std, tuple(tensor.shape)))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b] (rejection sampling).

    Example:
        >>> import hybridgrad as hg
        >>> t = trunc_normal_(hg.zeros(1000), a=-0.5, b=0.5)
        >>> bool(abs(t._array).max() <= 0.5)
        True
    """
    rng = _rng(generator)
    size = int(np.prod(tuple(tensor.shape), dtype=np.int64))
    values = np.empty(size)
    filled = 0
    while filled < size:
        draw = rng.normal(mean, std, max(2 * (size - filled), 16))
        draw = draw[(draw >= a) & (draw <= b)][:size - filled]
        values[filled:filled + draw.size] = draw
        filled += draw.size
    return _fill(tensor, values.reshape(tuple(tensor.shape)))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with a constant.

    Example:
        >>> import hybridgrad as hg
        >>> constant_(hg.zeros(2), 7.0).tolist()
        [7.0, 7.0]
    """
    return _fill(tensor, np.full(tuple(tensor.shape), val))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros.

    Example:
        >>> import hybridgrad as hg
        >>> zeros_(hg.ones(2)).tolist()
        [0.0, 0.0]
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    Example:
        >>> import hybridgrad as hg
        >>> ones_(hg.zeros(2)).tolist()
        [1.0, 1.0]
    """
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix.

    Example:
        >>> import hybridgrad as hg
        >>> eye_(hg.zeros(2, 3)).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if len(tensor.shape) != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Example:
        >>> import hybridgrad as hg
        >>> t = xavier_uniform_(hg.zeros(30, 20))
        >>> bool(abs(t._array).max() <= (6 / 50) ** 0.5)
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Example:
        >>> import hybridgrad as hg
        >>> t = xavier_normal_(hg.zeros(200, 200))
        >>> round(float(t._array.std()), 2)
        0.07
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan) (PyTorch's defaults).

    Example:
        >>> import hybridgrad as hg
        >>> t = kaiming_uniform_(hg.zeros(10, 50), a=5 ** 0.5)
        >>> bool(abs(t._array).max() <= 1 / 50 ** 0.5)
        True
    """
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan).

    Example:
        >>> import hybridgrad as hg
        >>> t = kaiming_normal_(hg.zeros(400, 200), nonlinearity="relu")
        >>> round(float(t._array.std()), 2)
        0.1
    """
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix, times gain.

    Example:
        >>> import hybridgrad as hg
        >>> import numpy as np
        >>> q = orthogonal_(hg.zeros(3, 5, dtype=hg.float64))._array
        >>> bool(np.allclose(q @ q.T, np.eye(3)))
        True
    """
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {shape}")
    if 0 in shape:
        return tensor
    rows = shape[0]
    cols = int(np.prod(shape[1:], dtype=np.int64))
    flattened = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened)
    # Make the decomposition unique (and the distribution uniform): signs of R's diagonal.
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The identity convolution kernel (3-, 4- or 5-D weights), for ``groups`` groups.

    Example:
        >>> import hybridgrad as hg
        >>> w = dirac_(hg.zeros(2, 2, 3))
        >>> w[:, :, 1].tolist(), float(w.sum())
        ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    shape = tuple(tensor.shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if shape[0] % groups:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(size // 2 for size in shape[2:])
    for group in range(groups):
        for channel in range(min(per_group, shape[1])):
            values[(group * per_group + channel, channel) + centre] = 1.0
    return _fill(tensor, values)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """A 2-D tensor with N(0, std^2) entries and a ``sparsity`` fraction of each column zero.

    Example:
        >>> import hybridgrad as hg
        >>> int((sparse_(hg.zeros(10, 3), 0.3) == 0).sum())
        9
    """
    shape = tuple(tensor.shape)
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rng = _rng(generator)
    rows, cols = shape
    values = rng.normal(0.0, std, shape)
    zeros_per_column = int(math.ceil(sparsity * rows))
    for column in range(cols):
        values[rng.permutation(rows)[:zeros_per_column], column] = 0.0
    return _fill(tensor, values)


def _deprecated(function):
    """PyTorch's old names without the trailing underscore, with its deprecation warning."""
    import functools
    import warnings

    old_name = function.__name__[:-1]

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{function.__name__}`.", FutureWarning, stacklevel=2)
        return function(*args, **kwargs)

    wrapper.__name__ = old_name
    wrapper.__doc__ = (f"Deprecated alias of :func:`{function.__name__}` (warns).\n\n"
                       f"    Example:\n        >>> import warnings, hybridgrad as hg\n"
                       f"        >>> callable(hg.nn.init.{old_name})\n        True\n")
    return wrapper


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
__all__ += ["constant", "dirac_", "kaiming_normal", "kaiming_uniform", "normal", "orthogonal",
            "sparse", "sparse_", "uniform", "xavier_normal", "xavier_uniform"]
