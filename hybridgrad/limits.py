"""Size limits applied to untrusted files before anything is allocated.

Every reader of outside data (MNIST IDX files, safetensors checkpoints, ONNX models and the
operators they run) compares the bytes a header *declares* with the file's real size and with
:func:`max_alloc_bytes` before it allocates, so a crafted 100-byte file cannot ask for
terabytes. The limit is ``$HYBRIDGRAD_MAX_ALLOC`` (bytes; suffixes K, M, G, T accepted), else
:data:`DEFAULT_MAX_ALLOC` (4 GiB). ONNX ``Loop`` operators are capped at
``$HYBRIDGRAD_MAX_LOOP_ITERATIONS`` (default :data:`DEFAULT_MAX_LOOP_ITERATIONS`).

Example:
    >>> import os
    >>> max_alloc_bytes() == DEFAULT_MAX_ALLOC or "HYBRIDGRAD_MAX_ALLOC" in os.environ
    True
    >>> parse_size("64M")
    67108864
    >>> exceeds((2000, 1000, 1000), 4)  # 8 GB of float32 is over the 4 GiB default
    True
"""

from __future__ import annotations

import math
import os

DEFAULT_MAX_ALLOC = 4 * 1024 ** 3
DEFAULT_MAX_LOOP_ITERATIONS = 100_000
_SUFFIXES = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def parse_size(text: str) -> int:
    """``"123"``, ``"64K"``, ``"2G"`` (powers of 1024; a trailing ``B``/``iB`` is ignored).

    Example:
        >>> parse_size("2GiB"), parse_size("10")
        (2147483648, 10)
    """
    value = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    suffix = value[-1] if value and value[-1] in _SUFFIXES else ""
    number = value[:-1] if suffix else value
    try:
        size = float(number) * _SUFFIXES[suffix]
    except ValueError:
        raise ValueError(f"HYBRIDGRAD_MAX_ALLOC must be a number of bytes such as 4G or "
                         f"1048576, got {text!r}") from None
    return int(size)


def max_alloc_bytes() -> int:
    """The largest single allocation a file may ask for, in bytes.

    Example:
        >>> max_alloc_bytes() > 0
        True
    """
    text = os.environ.get("HYBRIDGRAD_MAX_ALLOC")
    return parse_size(text) if text else DEFAULT_MAX_ALLOC


def max_loop_iterations() -> int:
    """The most iterations an imported ONNX ``Loop`` may run.

    Example:
        >>> max_loop_iterations() >= 1
        True
    """
    text = os.environ.get("HYBRIDGRAD_MAX_LOOP_ITERATIONS")
    return int(text) if text else DEFAULT_MAX_LOOP_ITERATIONS


def exceeds(shape, itemsize: int) -> bool:
    """Whether an array of ``shape`` and ``itemsize`` bytes per element is over the limit
    (negative dimensions count as over: they are invalid anyway).

    Example:
        >>> exceeds((2, 3), 4), exceeds((2 ** 40,), 8), exceeds((-1,), 4)
        (False, True, True)
    """
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        return True
    return math.prod(dims) * int(itemsize) > max_alloc_bytes()


def describe(shape, itemsize: int) -> str:
    """Human text for an over-limit request, with how to raise the limit.

    Example:
        >>> describe((2 ** 40,), 4).split(";")[0]
        'shape (1099511627776,) needs 4398046511104 bytes, over the limit of 4294967296 bytes'
    """
    dims = tuple(int(d) for d in shape)
    return (f"shape {dims} needs {math.prod(dims) * int(itemsize)} bytes, over the limit of "
            f"{max_alloc_bytes()} bytes; set HYBRIDGRAD_MAX_ALLOC (e.g. 16G) if this is "
            "intended")
