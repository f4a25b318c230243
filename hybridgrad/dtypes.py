"""Data types: NumPy dtypes under PyTorch's names, and the promotion rules.

Example:
    >>> import hybridgrad as hg
    >>> hg.tensor([1.0]).dtype == hg.float32
    True
"""

from __future__ import annotations

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int64 = np.dtype("int64")
int32 = np.dtype("int32")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")
# PyTorch spells these as aliases too.
double = float64
long = int64

_default_float = float32


def get_default_dtype() -> np.dtype:
    """The dtype given to tensors made from Python floats (float32).

    Example:
        >>> get_default_dtype()
        dtype('float32')
    """
    return _default_float


def to_dtype(dtype) -> np.dtype | None:
    """Normalise anything NumPy accepts (or None) to a ``np.dtype``.

    Example:
        >>> to_dtype("float64")
        dtype('float64')
    """
    if dtype is None:
        return None
    if dtype is bool:
        return bool_
    return np.dtype(dtype)


def scalar_dtype(value, partner: np.dtype | None) -> np.dtype:
    """The dtype a Python scalar takes next to a tensor of dtype ``partner``.

    Python scalars are "weak", as in PyTorch: ``float32_tensor * 2.5`` stays float32, and an
    integer tensor times a float gives the default float dtype (not float64 as NumPy would).

    Example:
        >>> scalar_dtype(2.5, int64)
        dtype('float32')
    """
    if isinstance(value, (bool, np.bool_)):
        return partner if partner is not None else bool_
    if isinstance(value, (int, np.integer)):
        if partner is None or partner == bool_:
            return int64
        return partner
    if isinstance(value, (float, np.floating)):
        if partner is None or partner.kind != "f":
            return _default_float
        return partner
    raise TypeError(f"unsupported scalar of type {type(value).__name__}: {value!r}")
