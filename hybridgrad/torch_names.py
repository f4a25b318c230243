"""PyTorch's top-level names that live in hybridgrad's own modules, gathered for ``hg.NAME``.

``hybridgrad/__init__.py`` star-imports this module, so adding a PyTorch-compatible function
means adding it to its home module and to that module's ``__all__``.

Example:
    >>> import hybridgrad as hg
    >>> hg.device("cpu"), hg.Size([2]).numel(), hg.floor(hg.tensor([1.5])).tolist()
    (device(type='cpu'), 2, [1.0])
"""

from hybridgrad import linalg
from hybridgrad.device import Size, device
from hybridgrad.dtype_info import *  # noqa: F403
from hybridgrad.factories import (
    empty,
    empty_like,
    logspace,
    rand_like,
    randint_like,
    randn_like,
)
from hybridgrad.legacy import *  # noqa: F403
from hybridgrad.ops.api_index import *  # noqa: F403
from hybridgrad.ops.api_linalg import *  # noqa: F403
from hybridgrad.ops.api_math import *  # noqa: F403
from hybridgrad.ops.api_out import *  # noqa: F403
from hybridgrad.ops.api_shape import *  # noqa: F403
from hybridgrad.random import (
    Generator,
    get_rng_state,
    initial_seed,
    seed,
    set_rng_state,
)
from hybridgrad.tensor_methods import allclose, equal, isclose

__all__ = [  # noqa: F405 - the star-imported modules' names are added below
    "Generator", "Size", "allclose", "device", "linalg", "empty", "empty_like", "equal",
    "get_rng_state", "initial_seed", "isclose", "logspace", "rand_like", "randint_like",
    "randn_like", "seed", "set_rng_state",
]


def _gather_all() -> None:
    from hybridgrad import dtype_info, legacy
    from hybridgrad.ops import api_index, api_linalg, api_math, api_out, api_shape

    for module in (dtype_info, legacy, api_index, api_linalg, api_math, api_out, api_shape):
        __all__.extend(module.__all__)


_gather_all()
