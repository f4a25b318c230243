"""PyTorch's top-level names that live in hybridgrad's own modules, gathered for ``hg.NAME``.

``hybridgrad/__init__.py`` star-imports this module, so adding a PyTorch-compatible function
means adding it to its home module and to the list here.

Example:
    >>> import hybridgrad as hg
    >>> hg.device("cpu"), hg.Size([2]).numel()
    (device(type='cpu'), 2)
"""

from hybridgrad.device import Size, device
from hybridgrad.factories import (
    empty,
    empty_like,
    logspace,
    rand_like,
    randint_like,
    randn_like,
)
from hybridgrad.random import (
    Generator,
    get_rng_state,
    initial_seed,
    seed,
    set_rng_state,
)

__all__ = [
    "Generator", "Size", "device", "empty", "empty_like", "get_rng_state", "initial_seed",
    "logspace", "rand_like", "randint_like", "randn_like", "seed", "set_rng_state",
]
