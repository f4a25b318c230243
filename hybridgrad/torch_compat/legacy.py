"""PyTorch names older programs still use, offered beside hybridgrad's on the ``torch`` alias:
the legacy tensor types (``torch.FloatTensor(2, 3)``, ``torch.LongTensor([1, 2])``,
``isinstance(x, torch.FloatTensor)``) and ``torch.__version__``.

Example:
    >>> FloatTensor(2, 3).shape, LongTensor([1, 2]).tolist()
    ((2, 3), [1, 2])
    >>> import hybridgrad as hg
    >>> isinstance(hg.ones(2), FloatTensor), isinstance(hg.ones(2), LongTensor)
    (True, False)
"""

from __future__ import annotations

import numpy as np

import hybridgrad
from hybridgrad.tensor import Tensor

#: The PyTorch release whose API the alias follows, tagged so programs can tell them apart.
__version__ = f"2.5.0+hybridgrad.{hybridgrad.__version__}"


class _LegacyTensorType(type):
    """``isinstance(x, torch.FloatTensor)`` is a dtype test on a hybridgrad tensor."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor) and np.dtype(instance.dtype) == cls.dtype


def _legacy_type(name: str, dtype) -> type:
    def construct(cls, *args):
        # PyTorch: sizes as ints make an uninitialised tensor (zeros here), else data.
        if not args or all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                           for a in args):
            return hybridgrad.zeros(*args, dtype=dtype) if args else hybridgrad.tensor(
                np.zeros(0, dtype=dtype))
        data = args[0]
        if isinstance(data, Tensor):
            data = data._array
        return hybridgrad.tensor(np.asarray(data, dtype=dtype))

    return _LegacyTensorType(name, (), {"__new__": construct, "dtype": np.dtype(dtype),
                                        "__doc__": f"PyTorch's legacy {name} ({dtype})."})


FloatTensor = _legacy_type("FloatTensor", np.float32)
DoubleTensor = _legacy_type("DoubleTensor", np.float64)
HalfTensor = _legacy_type("HalfTensor", np.float16)
LongTensor = _legacy_type("LongTensor", np.int64)
IntTensor = _legacy_type("IntTensor", np.int32)
ShortTensor = _legacy_type("ShortTensor", np.int16)
CharTensor = _legacy_type("CharTensor", np.int8)
ByteTensor = _legacy_type("ByteTensor", np.uint8)
BoolTensor = _legacy_type("BoolTensor", np.bool_)
