"""Devices and sizes with PyTorch's names: ``hg.device("cpu")``, ``hg.Size([2, 3])``.

A device names where a tensor's array lives. Each device type maps to an array module through
:mod:`hybridgrad.backend` (``"cpu"`` -> NumPy); a CUDA device backed by CuPy plugs in there by
registering ``"cuda"``, without touching operator code. Until one is registered, asking for a
CUDA tensor raises what PyTorch's CPU build raises (``AssertionError: Torch not compiled with
CUDA enabled``), while ``hg.device("cuda")`` itself is just a name, as in PyTorch.

Example:
    >>> import hybridgrad as hg
    >>> hg.device("cuda:1"), hg.zeros(2).device
    (device(type='cuda', index=1), device(type='cpu'))
"""

from __future__ import annotations

import numpy as np

# PyTorch's list of device types, so a misspelt one gets PyTorch's message.
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                "privateuseone")


class device:  # noqa: N801 - PyTorch's name
    """A device type and optional index, as ``torch.device``.

    Accepts ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``("cuda", 0)``, another device or (as PyTorch)
    a bare integer meaning an accelerator index. Equal devices compare equal and hash alike;
    like PyTorch, a device is never equal to a string (compare ``device.type`` instead).

    Example:
        >>> d = device("cuda:0")
        >>> d.type, d.index, str(d), d == device("cuda", 0)
        ('cuda', 0, 'cuda:0', True)
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type_or_name, index: int | None = None):  # noqa: D107
        if isinstance(type_or_name, device):
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device")
            self._type, self._index = type_or_name._type, type_or_name._index
            return
        if isinstance(type_or_name, (int, np.integer)) and not isinstance(type_or_name, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if not isinstance(type_or_name, str):
            raise TypeError(f"device(): expected a string, a device or an int, got "
                            f"{type(type_or_name).__name__}")
        name = type_or_name.strip()
        kind, _, number = name.partition(":")
        if kind not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start "
                               f"of device string: {type_or_name}")
        if number:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type_or_name}")
            if not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_name}'")
            index = int(number)
        if index is not None and int(index) < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self._type = kind
        self._index = None if index is None else int(index)

    @property
    def type(self) -> str:
        """The device type, ``"cpu"`` or ``"cuda"``..."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device index, or None when none was given."""
        return self._index

    def __eq__(self, other) -> bool:
        return (isinstance(other, device) and other._type == self._type
                and other._index == self._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __reduce__(self):
        return (device, (self._type, self._index))

    # ``with torch.device("cpu"): ...`` sets PyTorch's default device; only the CPU exists here.
    def __enter__(self):
        array_module(self)
        return self

    def __exit__(self, *exc_info):
        return False


CPU = device("cpu")


def as_device(value) -> device:
    """Normalise a device argument (a string, a device, an int or None -> cpu).

    Example:
        >>> as_device("cpu"), as_device(None)
        (device(type='cpu'), device(type='cpu'))
    """
    if value is None:
        return CPU
    if isinstance(value, device):
        return value
    return device(value)


def array_module(value):
    """The array module behind a device, raising PyTorch's error for one this build lacks.

    Example:
        >>> array_module("cpu").__name__
        'numpy'
        >>> array_module("cuda")
        Traceback (most recent call last):
        ...
        AssertionError: Torch not compiled with CUDA enabled
    """
    from hybridgrad.backend import ARRAY_MODULES

    kind = as_device(value).type
    module = ARRAY_MODULES.get(kind)
    if module is not None:
        return module
    if kind == "cuda":
        # PyTorch's CPU build raises exactly this (an AssertionError), and programs that test for
        # a GPU with try/except sometimes catch that type.
        raise AssertionError("Torch not compiled with CUDA enabled")
    raise RuntimeError(f"hybridgrad has no '{kind}' backend: only "
                       f"{', '.join(sorted(ARRAY_MODULES))} tensors exist in this installation")


def check_device(value) -> device:
    """:func:`as_device`, then refuse devices without a backend (what factories call).

    Example:
        >>> check_device("cpu:0")
        device(type='cpu', index=0)
    """
    result = as_device(value)
    array_module(result)
    return result


class Size(tuple):
    """A shape: a tuple of ints with PyTorch's ``torch.Size`` extras (``numel``).

    ``Tensor.shape`` and ``Tensor.size()`` return one; it compares equal to the plain tuple and
    prints like one, unless :func:`set_print_prefix` names a module (``hybridgrad run`` may set
    ``"torch"`` so a PyTorch program prints ``torch.Size([2, 3])`` as it does under PyTorch).

    Example:
        >>> s = Size([2, 3])
        >>> s, s.numel(), s == (2, 3), isinstance(s, tuple)
        ((2, 3), 6, True, True)
    """

    __slots__ = ()

    def __new__(cls, sizes=()):  # noqa: D102
        return super().__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        count = 1
        for size in self:
            count *= size
        return count

    def __repr__(self) -> str:
        if _SIZE_PREFIX is None:
            return tuple.__repr__(self)
        return f"{_SIZE_PREFIX}.Size({list(self)})"

    __str__ = __repr__

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))


_SIZE_PREFIX = None


def set_print_prefix(prefix: str | None) -> None:
    """Print sizes as ``PREFIX.Size([2, 3])`` and tensors' dtypes as ``dtype=PREFIX.float64``
    (None, the default: plain tuples and NumPy's dtype names). ``hybridgrad run`` may set
    ``"torch"`` so a PyTorch program prints what it prints under PyTorch.

    Example:
        >>> import hybridgrad as hg
        >>> set_print_prefix("torch"); print(Size([2, 3]), hg.zeros(1, dtype=hg.float64))
        torch.Size([2, 3]) tensor([0.], dtype=torch.float64)
        >>> set_print_prefix(None); print(Size([2, 3]))
        (2, 3)
    """
    global _SIZE_PREFIX
    _SIZE_PREFIX = prefix


def print_prefix() -> str | None:
    """The prefix set by :func:`set_print_prefix` (None by default)."""
    return _SIZE_PREFIX
