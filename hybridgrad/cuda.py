"""``torch.cuda`` as PyTorch's CPU build answers it: no GPU, the seeding calls are no-ops.

PyTorch programs ask ``torch.cuda.is_available()`` to pick their device and seed the GPU's
generators beside the CPU's; on hybridgrad (NumPy on the CPU) the answers are PyTorch's on a
machine without CUDA.

Example:
    >>> is_available(), device_count()
    (False, 0)
    >>> manual_seed_all(0); synchronize()
"""

from __future__ import annotations


def is_available() -> bool:
    """False: hybridgrad computes on the CPU (PyTorch's answer on a machine without CUDA).

    Example:
        >>> is_available()
        False
    """
    return False


def device_count() -> int:
    """0 GPUs.

    Example:
        >>> device_count()
        0
    """
    return 0


def manual_seed(seed: int) -> None:
    """A no-op without a GPU, as in PyTorch's CPU build (seed with ``hg.manual_seed``).

    Example:
        >>> manual_seed(1)
    """
    int(seed)  # PyTorch rejects a non-integer seed here too


def manual_seed_all(seed: int) -> None:
    """A no-op without a GPU, as in PyTorch's CPU build.

    Example:
        >>> manual_seed_all(1)
    """
    int(seed)


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU work is synchronous.

    Example:
        >>> synchronize()
    """


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False without a GPU (PyTorch's answer without CUDA).

    Example:
        >>> is_bf16_supported()
        False
    """
    return False


def empty_cache() -> None:
    """Nothing cached without a GPU.

    Example:
        >>> empty_cache()
    """


def current_device() -> int:
    """PyTorch raises when CUDA is missing; so does this, with the reason.

    Example:
        >>> current_device()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        RuntimeError: torch.cuda.current_device(): no CUDA GPU: hybridgrad computes on the CPU ...
    """
    raise RuntimeError("torch.cuda.current_device(): no CUDA GPU: hybridgrad computes on the "
                       "CPU (check torch.cuda.is_available() first)")


def __getattr__(name: str):
    # torch.cuda.amp (GradScaler, autocast) is the device-independent hybridgrad.amp, loaded on
    # first use.
    if name == "amp":
        import importlib

        return importlib.import_module("hybridgrad.amp")
    raise AttributeError(f"module 'hybridgrad.cuda' has no attribute {name!r}")
