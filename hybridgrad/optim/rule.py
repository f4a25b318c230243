"""The vocabulary of optimizer update rules, shared by eager steps and compiled training steps.

An optimizer writes its update once, as :meth:`~hybridgrad.optim.Optimizer.update` ``(param,
grad, state, group)``, in framework operators. :meth:`Optimizer.step` runs it on tensors;
:func:`hybridgrad.jit.train_step` runs the same method on symbols, so the update becomes part of
the compiled graph. The rule writes results with :func:`assign` (in place, like tinygrad's
``Tensor.assign``) and keeps hyper-parameters arithmetic exact with :func:`factor`:

* ``group[key]`` is a Python number when stepping eagerly and a float64 0-d symbol, fed from
  ``param_groups`` at every call, when compiled; ``is_set(group, key)`` asks whether a
  hyper-parameter is non-zero (which decides the graph's structure);
* ``state[key]`` is a tensor (eager) or a symbol reading the state tensor (compiled);
  ``state.create(key, value)`` makes a new state entry holding a copy of ``value``;
* each target (the parameter, each state entry) is assigned at most once per step, and later
  arithmetic uses the value :func:`assign` returns.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([1.0, 2.0]))
    >>> assign(w, w * factor(0.5, w)).tolist(), w.tolist()
    ([0.5, 1.0], [0.5, 1.0])
"""

from __future__ import annotations

import contextvars
from typing import Any, Callable

import numpy as np

from hybridgrad.tensor import Tensor

# Set by the compiler while it builds a training step: (target symbol, value symbol) -> the
# value, recording the write as a side effect of the graph.
SYMBOLIC_ASSIGN: contextvars.ContextVar[Callable | None] = contextvars.ContextVar(
    "hybridgrad_symbolic_assign", default=None)


def assign(target, value):
    """Write ``value`` into ``target`` in place and return the new value.

    Eagerly, ``target`` is a tensor whose array is overwritten (outside autograd); while a
    training step is compiled, the write becomes a side effect of the graph, run after every
    other read of ``target``. Use the returned value afterwards, not ``target``.

    Example:
        >>> import hybridgrad as hg
        >>> buffer = hg.zeros(2)
        >>> assign(buffer, buffer + 3).tolist()
        [3.0, 3.0]
    """
    if isinstance(target, Tensor) and isinstance(value, Tensor):
        if value.shape != target.shape:
            raise ValueError(f"assign: value of shape {value.shape} for a target of shape "
                             f"{target.shape}")
        np.copyto(target._array, value._array, casting="same_kind")
        return target
    record = SYMBOLIC_ASSIGN.get()
    if record is None:
        raise TypeError(f"assign: expected tensors, got {type(target).__name__} and "
                        f"{type(value).__name__} outside a compiled training step")
    return record(target, value)


def factor(value, like):
    """``value`` as a coefficient for arrays like ``like``: Python numbers stay Python numbers
    (weak scalars take the array's dtype), 0-d tensors or symbols computed in float64 from the
    hyper-parameters are rounded once to ``like``'s dtype (float64 scalars would otherwise
    promote float32 parameters to float64).

    Example:
        >>> import hybridgrad as hg
        >>> factor(0.1, hg.zeros(1)), factor(hg.tensor(0.5, dtype=hg.float64), hg.zeros(1)).dtype
        (0.1, dtype('float32'))
    """
    if isinstance(value, (int, float)):
        return value
    return value if value.dtype == like.dtype else value.to(like.dtype)


def is_set(group, key: str) -> bool:
    """Whether the hyper-parameter ``key`` of ``group`` is non-zero (a structural choice: the
    compiled step is rebuilt when it changes).

    Example:
        >>> is_set({"weight_decay": 0.0}, "weight_decay"), is_set({"momentum": 0.9}, "momentum")
        (False, True)
    """
    values = getattr(group, "concrete", group)
    return bool(values[key] != 0)


class EagerState:
    """The view of one parameter's ``optimizer.state`` entry that an eager rule receives.

    Example:
        >>> import hybridgrad as hg
        >>> entries = {}
        >>> state = EagerState(entries)
        >>> grad = hg.ones(2)
        >>> state.create("momentum_buffer", grad) is not grad, "momentum_buffer" in state
        (True, True)
    """

    __slots__ = ("entries",)

    def __init__(self, entries: dict) -> None:
        self.entries = entries

    def __getitem__(self, key: str):
        return self.entries[key]

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str, default: Any = None):
        return self.entries.get(key, default)

    def create(self, key: str, value: Tensor) -> Tensor:
        """A new state entry holding a copy of ``value``; returns it."""
        copied = Tensor._wrap(np.array(value._array, copy=True))
        self.entries[key] = copied
        return copied


__all__ = ["EagerState", "assign", "factor", "is_set"]
