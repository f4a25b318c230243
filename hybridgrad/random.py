"""Random number generation: the seeded default generator and PyTorch's ``Generator`` class.

``hg.manual_seed(n)`` reseeds the default generator, a NumPy ``Generator`` behind ``rand``,
``randn``, layer initialisation, dropout and shuffling. ``hg.Generator`` is PyTorch's
``torch.Generator``: an independent stream (``hg.Generator().manual_seed(0)``) that any
``generator=`` argument accepts; it also answers NumPy's generator methods, so code that draws
from a NumPy generator can be handed one.

Example:
    >>> import hybridgrad as hg
    >>> g = hg.Generator().manual_seed(0)
    >>> a = hg.rand(2, generator=g)
    >>> b = hg.rand(2, generator=hg.Generator().manual_seed(0))
    >>> a.tolist() == b.tolist()
    True
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)
_initial_seed = 0


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand, randn, init functions, dropout and shuffling.

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0); a = hg.rand(2)
        >>> hg.manual_seed(0); b = hg.rand(2)
        >>> a.tolist() == b.tolist()
        True
    """
    global _generator, _initial_seed
    _initial_seed = int(seed)
    _generator = np.random.default_rng(_initial_seed)


def seed() -> int:
    """Seed the default generator from the operating system's entropy; return the seed.

    Example:
        >>> isinstance(seed(), int)
        True
    """
    manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
    return _initial_seed


def initial_seed() -> int:
    """The seed last given to :func:`manual_seed` (0 at start-up).

    Example:
        >>> manual_seed(5); initial_seed()
        5
    """
    return _initial_seed


def default_generator() -> np.random.Generator:
    """The generator seeded by :func:`manual_seed`.

    Example:
        >>> isinstance(default_generator(), np.random.Generator)
        True
    """
    return _generator


def get_rng_state() -> dict:
    """A snapshot of the default generator's state, for :func:`set_rng_state`.

    Example:
        >>> state = get_rng_state(); a = default_generator().random()
        >>> set_rng_state(state); a == default_generator().random()
        True
    """
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state


class Generator:
    """An independent random stream, as ``torch.Generator``.

    Example:
        >>> g = Generator().manual_seed(3)
        >>> g.initial_seed(), g.device
        (3, device(type='cpu'))
    """

    def __init__(self, device="cpu"):  # noqa: D107
        from hybridgrad.device import check_device

        self._device = check_device(device)
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._rng = np.random.default_rng(self._seed)

    @property
    def device(self):
        """The device the generator draws for (always the CPU here)."""
        return self._device

    def manual_seed(self, seed: int) -> Generator:
        """Reseed this stream; returns the generator, as PyTorch does."""
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))
        return self._seed

    def initial_seed(self) -> int:
        """The seed this stream was last seeded with."""
        return self._seed

    def get_state(self) -> dict:
        """The stream's state, for :meth:`set_state`."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        """Restore a state returned by :meth:`get_state`."""
        self._rng.bit_generator.state = state
        return self

    def __getattr__(self, name: str):
        # NumPy's Generator methods (random, integers, permutation...) for code that draws
        # from a NumPy generator; only reached for names this class lacks.
        if name.startswith("__") or name == "_rng":
            raise AttributeError(name)
        return getattr(self._rng, name)

    def __repr__(self) -> str:
        return f"<hybridgrad.Generator seed={self._seed}>"


def numpy_generator(generator=None) -> np.random.Generator:
    """The NumPy generator to draw from: the default one, a Generator's stream, or ``generator``.

    Example:
        >>> numpy_generator() is default_generator()
        True
    """
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator._rng
    return generator
