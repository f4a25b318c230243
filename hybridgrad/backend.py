"""The array module that operator forwards run on.

Operators never import NumPy directly for their array code: they receive ``xp``.
Today ``xp`` is NumPy; a CuPy backend only has to provide the same namespace.

Example:
    >>> from hybridgrad.backend import xp
    >>> xp.add([1], [2]).tolist()
    [3]
"""

from __future__ import annotations

import numpy

xp = numpy

# Device type -> the array module its tensors live in (see hybridgrad.device). A CuPy backend
# registers ARRAY_MODULES["cuda"] = cupy; until then CUDA requests raise PyTorch's CPU-build error.
ARRAY_MODULES = {"cpu": numpy}


def get_array_module():
    """Return the array module operators run on (NumPy today).

    Example:
        >>> get_array_module().__name__
        'numpy'
    """
    return xp
