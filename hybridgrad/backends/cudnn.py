"""``torch.backends.cudnn``: flags programs set (``benchmark``, ``deterministic``,
``enabled``, ``allow_tf32``); hybridgrad's CPU kernels ignore them (its results are already
deterministic), as PyTorch's CPU build does.

Example:
    >>> is_available(), benchmark, deterministic
    (False, False, False)
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: no cuDNN without CUDA.

    Example:
        >>> is_available()
        False
    """
    return False


def version():
    """None, as PyTorch answers without cuDNN.

    Example:
        >>> version() is None
        True
    """
    return None
