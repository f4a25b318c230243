"""``torch.accelerator`` as PyTorch's CPU build answers it: no accelerator.

PyTorch 2.6+ programs (the current pytorch/examples) pick their device with
``torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``.

Example:
    >>> is_available(), current_accelerator(), device_count()
    (False, None, 0)
"""

from __future__ import annotations


def is_available() -> bool:
    """False: hybridgrad has no accelerator.

    Example:
        >>> is_available()
        False
    """
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator (PyTorch's answer on a CPU-only machine).

    Example:
        >>> current_accelerator() is None
        True
    """
    return None


def device_count() -> int:
    """0 accelerators.

    Example:
        >>> device_count()
        0
    """
    return 0


def synchronize(device=None) -> None:
    """Nothing to wait for.

    Example:
        >>> synchronize()
    """
