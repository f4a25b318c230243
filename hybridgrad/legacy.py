"""PyTorch's legacy API that published tutorials still use: ``hg.FloatTensor(...)``,
``hg.LongTensor``, ``x.type(hg.FloatTensor)``, ``isinstance(x, hg.FloatTensor)`` and
``hg.autograd.Variable(x, requires_grad=True)``.

Example:
    >>> import hybridgrad as hg
    >>> x = hg.FloatTensor([1, 2])
    >>> x.dtype, isinstance(x, hg.FloatTensor), isinstance(x, hg.LongTensor)
    (dtype('float32'), True, False)
    >>> hg.FloatTensor(2, 3).shape, x.type(hg.LongTensor).tolist()
    ((2, 3), [1, 2])
"""

from __future__ import annotations

import warnings

import numpy as np


class _LegacyTypeMeta(type):
    """``isinstance(x, hg.FloatTensor)``: a tensor of that dtype."""

    def __instancecheck__(cls, instance) -> bool:
        from hybridgrad.tensor import Tensor

        return isinstance(instance, Tensor) and instance.dtype == cls._legacy_dtype

    def __call__(cls, *args, device=None):
        from hybridgrad.factories import tensor, zeros
        from hybridgrad.tensor import Tensor

        if device is not None:
            from hybridgrad.device import check_device

            check_device(device)
        if not args:
            return zeros(0, dtype=cls._legacy_dtype)
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            # FloatTensor(2, 3): an uninitialised tensor of that size (zeros here).
            return zeros(*args, dtype=cls._legacy_dtype)
        if len(args) == 1 and type(args[0]).__name__ in ("Size",):
            return zeros(*args[0], dtype=cls._legacy_dtype)
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}(): expected sizes or one sequence of data, got "
                            f"{args!r}")
        data = args[0]
        if isinstance(data, Tensor):
            return data if data.dtype == cls._legacy_dtype else Tensor._wrap(
                data._array.astype(cls._legacy_dtype))
        return tensor(data, dtype=cls._legacy_dtype)

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def _legacy(name: str, dtype: str) -> type:
    return _LegacyTypeMeta(name, (), {"_legacy_dtype": np.dtype(dtype), "__doc__":
                                      f"Legacy constructor of {dtype} tensors "
                                      f"(``hg.{name}([1, 2])`` or ``hg.{name}(2, 3)``)."})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
ShortTensor = _legacy("ShortTensor", "int16")
CharTensor = _legacy("CharTensor", "int8")
ByteTensor = _legacy("ByteTensor", "uint8")
BoolTensor = _legacy("BoolTensor", "bool")


def Variable(data, requires_grad: bool = False, volatile: bool = False):  # noqa: N802
    """PyTorch's pre-0.4 ``Variable``: today a new leaf tensor sharing ``data``'s storage, with
    ``requires_grad`` as asked.

    Example:
        >>> import hybridgrad as hg
        >>> v = hg.autograd.Variable(hg.ones(2), requires_grad=True)
        >>> v.requires_grad, v.is_leaf
        (True, True)
    """
    from hybridgrad.tensor import Tensor

    if volatile:
        warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.", UserWarning, stacklevel=2)
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    # PyTorch returns a new leaf sharing the storage, whatever the input's history.
    result = Tensor._wrap(data._array)
    return result.requires_grad_(True) if requires_grad else result


__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor",
           "HalfTensor", "IntTensor", "LongTensor", "ShortTensor", "Variable"]
