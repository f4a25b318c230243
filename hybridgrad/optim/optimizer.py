"""The optimizer base class, with PyTorch's ``param_groups``, ``state`` and ``state_dict``.

Each optimizer writes its update once, as :meth:`Optimizer.update` in framework operators (see
:mod:`hybridgrad.optim.rule`): :meth:`Optimizer.step` runs it on tensors, outside autograd, and
:func:`hybridgrad.jit.train_step` runs it on symbols inside a compiled graph. The most used
optimizers also keep a private NumPy fast path for eager steps (in-place array arithmetic, fewer
temporaries), tested equal to their rule. Per-parameter state tensors have the parameter's dtype
(float32 for float32 parameters); step counters are float32 0-d tensors, as in PyTorch.

Example:
    >>> import hybridgrad as hg
    >>> w = hg.nn.Parameter(hg.tensor([10.0]))
    >>> optimizer = hg.optim.SGD([w], lr=0.1)
    >>> loss = ((2.0 - w * 1.0) ** 2).sum()
    >>> loss.backward()
    >>> optimizer.step()
    >>> round(w.item(), 4)                       # 10 - 0.1 * 16
    8.4
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from hybridgrad.autograd import enable_grad, no_grad
from hybridgrad.optim.rule import EagerState
from hybridgrad.tensor import Tensor


class _RequiredParameter:
    """Marks an option that has no default (PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of every optimizer.

    ``params`` is an iterable of tensors, or of dicts (parameter groups) each holding
    ``'params'`` and any per-group options that override ``defaults``.

    Example:
        >>> import hybridgrad as hg
        >>> a, b = hg.nn.Parameter(hg.zeros(2)), hg.nn.Parameter(hg.zeros(3))
        >>> optimizer = hg.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [group["lr"] for group in optimizer.param_groups]
        [0.1, 0.5]
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to optimize.

        Example:
            >>> import hybridgrad as hg
            >>> optimizer = hg.optim.SGD([hg.nn.Parameter(hg.zeros(1))], lr=0.1)
            >>> optimizer.add_param_group({"params": [hg.nn.Parameter(hg.zeros(1))], "lr": 1.0})
            >>> len(optimizer.param_groups)
            2
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; use a list")
        params = list(params)
        if params and all(isinstance(item, tuple) and len(item) == 2 for item in params):
            # Named parameters (``model.named_parameters()``), as PyTorch 2 accepts them.
            group["param_names"] = [name for name, _ in params]
            params = [param for _, param in params]
        named = [("param_names" in g) for g in self.param_groups]
        if named and named[0] != ("param_names" in group):
            raise ValueError("all optimizer param groups should be with/without names; cannot "
                             f"add a param group {'with' if 'param_names' in group else 'without'}"
                             f" names to this optimizer")
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got "
                                f"{type(param).__name__}")
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to None by default, as PyTorch).

        Example:
            >>> import hybridgrad as hg
            >>> w = hg.nn.Parameter(hg.ones(1)); (w * 2).sum().backward()
            >>> optimizer = hg.optim.SGD([w]); optimizer.zero_grad()
            >>> w.grad is None
            True
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad = Tensor._wrap(np.zeros_like(param.grad._array))

    # A NumPy fast path for eager steps (subclasses that have one override _fast_update);
    # tests switch it off on an instance to check it against the rule.
    _fast_path = True
    # Whether jit.train_step can compile the rule (False: eager only, such as LBFGS).
    _compilable = True

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient by :meth:`update`; returns the closure's
        loss if a closure (re-evaluating the model) is given.

        Example:
            >>> import hybridgrad as hg
            >>> w = hg.nn.Parameter(hg.tensor([1.0]))
            >>> optimizer = hg.optim.Adagrad([w], lr=0.5)
            >>> (3 * w).sum().backward(); optimizer.step()
            >>> round(w.item(), 4)                      # 1 - 0.5 * 3 / sqrt(9)
            0.5
        """
        loss = self._evaluate(closure)
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    grad = self._gradient(param, False)
                    if grad is None:
                        continue
                    state = self.state[param]
                    if not state:
                        state.update(self._init_state(param, group))
                    if self._fast_path and self._fast_update(param, grad, state, group):
                        continue
                    self.update(param, Tensor._wrap(grad), EagerState(state), group)
        return loss

    def update(self, param, grad, state, group) -> None:
        """The update rule of one parameter, in framework operators: read ``group[...]`` for
        hyper-parameters, ``state[...]`` for state, write with
        :func:`~hybridgrad.optim.rule.assign` (see :mod:`hybridgrad.optim.rule`). Runs eagerly
        on tensors and, inside :func:`hybridgrad.jit.train_step`, on symbols."""
        raise NotImplementedError(
            f"{type(self).__name__} defines no update rule (update(param, grad, state, group)); "
            f"it cannot step or be compiled")

    def _loaded_value(self, key: str, value, param: Tensor):
        """A state value read by :meth:`load_state_dict`, copied and checked against ``param``."""
        return _cast_value(key, value, param)

    def _init_state(self, param: Tensor, group: dict) -> dict:
        """The state entries a parameter starts with (before its first update)."""
        return {}

    def _fast_update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> bool:
        """The eager NumPy fast path: True when it did the update (``grad`` not negated)."""
        return False

    def _evaluate(self, closure: Callable | None):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    @staticmethod
    def _gradient(param: Tensor, maximize: bool) -> np.ndarray | None:
        """The gradient as an array of the parameter's dtype (negated when maximizing)."""
        if param.grad is None:
            return None
        grad = param.grad._array
        if grad.shape != param._array.shape:
            raise ValueError(f"gradient of shape {grad.shape} for a parameter of shape "
                             f"{param._array.shape}")
        if grad.dtype != param._array.dtype:
            grad = grad.astype(param._array.dtype)
        return -grad if maximize else grad

    # State dicts (PyTorch's layout: parameters replaced by their index across groups).
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        State tensors are copies, so the dict is a snapshot.

        Example:
            >>> import hybridgrad as hg
            >>> w = hg.nn.Parameter(hg.ones(2)); optimizer = hg.optim.Adam([w], lr=0.1)
            >>> (w * w).sum().backward(); optimizer.step()
            >>> state = optimizer.state_dict()
            >>> sorted(state["state"][0]), state["param_groups"][0]["params"]
            (['exp_avg', 'exp_avg_sq', 'step'], [0])
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items()
                      if key != "params"}
            indices = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                indices.append(index_of[id(param)])
            packed["params"] = indices
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for param in group["params"]:
                if param in self.state and self.state[param]:
                    state[index_of[id(param)]] = {key: _copy_value(value)
                                                  for key, value in self.state[param].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and per-parameter state saved by :meth:`state_dict`.

        Example:
            >>> import hybridgrad as hg
            >>> w = hg.nn.Parameter(hg.ones(2)); optimizer = hg.optim.SGD([w], lr=0.1)
            >>> saved = optimizer.state_dict(); saved["param_groups"][0]["lr"] = 0.5
            >>> optimizer.load_state_dict(saved); optimizer.param_groups[0]["lr"]
            0.5
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, the "
                             f"optimizer has {len(self.param_groups)}")
        for number, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict contains a parameter group {number} of "
                                 f"size {len(saved['params'])} that doesn't match the size of "
                                 f"the optimizer's group ({len(group['params'])})")
        param_of = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for index, param in zip(saved["params"], group["params"]):
                param_of[index] = param
        state: defaultdict = defaultdict(dict)
        for index, values in state_dict["state"].items():
            index = int(index)
            if index not in param_of:
                raise KeyError(f"loaded state dict has state for parameter index {index}, which "
                               f"is in no parameter group")
            param = param_of[index]
            state[param] = {key: self._loaded_value(key, value, param)
                            for key, value in values.items()}
        self.state = state
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            restored = {key: copy.deepcopy(value) for key, value in saved.items()
                        if key != "params"}
            restored["params"] = group["params"]
            new_groups.append(restored)
        self.param_groups = new_groups


def _copy_value(value):
    if isinstance(value, Tensor):
        return Tensor._wrap(value._array.copy())
    return copy.deepcopy(value)


def _cast_value(key: str, value, param: Tensor):
    """Copy a loaded state value. Floating tensors shaped like the parameter take its dtype;
    0-d ones (``step``, NAdam's ``mu_product``) keep theirs (float32, as PyTorch keeps them)."""
    if isinstance(value, np.ndarray):
        value = Tensor._wrap(value)
    if isinstance(value, Tensor):
        data = value._array
        if data.ndim > 0 and data.dtype.kind == "f":
            if data.shape != param._array.shape:
                raise ValueError(f"loaded state {key!r} of shape {data.shape} for a parameter of "
                                 f"shape {param._array.shape}")
            data = data.astype(param._array.dtype)
        return Tensor._wrap(np.array(data, copy=True))
    return copy.deepcopy(value)


def _step_count(state: dict) -> float:
    """Increment the per-parameter 'step' (a float32 0-d tensor, as PyTorch) and return it."""
    step = state["step"]
    step._array[...] = step._array + 1
    return float(step._array)


def _new_step() -> Tensor:
    return Tensor._wrap(np.zeros((), dtype=np.float32))


def _zeros(param: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros_like(param._array))
