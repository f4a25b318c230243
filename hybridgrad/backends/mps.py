"""``torch.backends.mps``: Apple's GPU backend, never available to hybridgrad.

Example:
    >>> is_available(), is_built()
    (False, False)
"""


def is_available() -> bool:
    """False.

    Example:
        >>> is_available()
        False
    """
    return False


def is_built() -> bool:
    """False.

    Example:
        >>> is_built()
        False
    """
    return False
