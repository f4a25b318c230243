"""``torch.backends`` as PyTorch's CPU build has it: settable ``cudnn`` and ``cuda.matmul``
flags (which change nothing on the CPU) and an ``mps`` that is not available.

Example:
    >>> from hybridgrad import backends
    >>> backends.cudnn.benchmark = True; backends.cudnn.deterministic = True
    >>> backends.cudnn.is_available(), backends.mps.is_available(), backends.cuda.is_built()
    (False, False, False)
"""

from hybridgrad.backends import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
