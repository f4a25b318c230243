"""``torch.backends`` as PyTorch's CPU build has it: settable ``cudnn`` flags (which change
nothing on the CPU) and an ``mps`` that is not available.

Example:
    >>> from hybridgrad import backends
    >>> backends.cudnn.benchmark = True; backends.cudnn.deterministic = True
    >>> backends.cudnn.is_available(), backends.mps.is_available()
    (False, False)
"""

from hybridgrad.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
