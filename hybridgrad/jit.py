"""Compile eager code: :func:`trace` (a function or module into a compiled callable),
:func:`train_step` (forward, backward and optimizer update as one planned graph), and the
machinery behind :meth:`hybridgrad.nn.Module.hybridize`.

Example:
    >>> import hybridgrad as hg
    >>> hg.manual_seed(0)
    >>> model = hg.nn.Sequential(hg.nn.Linear(4, 8), hg.nn.Linear(8, 2)).eval()
    >>> x = hg.randn(3, 4)
    >>> fast = hg.jit.trace(model, x)
    >>> bool(abs(fast(x) - model(x)).max().item() < 1e-6)
    True
"""

from __future__ import annotations

import numpy as np

from hybridgrad.symbolic import graph as G
from hybridgrad.symbolic.executor import CompiledFunction
from hybridgrad.symbolic.graph import ASSIGN, Symbol, SymbolError, Variable
from hybridgrad.symbolic.trace import as_array, trace_graph


def _signature_of(arrays) -> tuple:
    return tuple((tuple(a.shape), a.dtype.str) for a in arrays)


class TracedFunction:
    """A function or module compiled by tracing, re-traced for each new input signature (shape
    and dtype of each input) and, for modules, each training/evaluation mode.

    Outputs are tensors without autograd history (use :func:`train_step` to train compiled).
    """

    def __init__(self, function, module=None, optimize: bool = True, split_batch: bool = True):
        self.function = function
        self.module = module
        self.optimize = optimize
        self.split_batch = split_batch
        self._cache: dict = {}
        self._last = None

    def compiled_for(self, inputs, arrays=None) -> tuple:
        """``(compiled, input names, output count, buffer snapshot)`` for these inputs
        (``arrays``: the inputs already converted to arrays), tracing on a new signature."""
        if arrays is None:
            arrays = [as_array(v) for v in inputs]
        mode = None if self.module is None else bool(self.module.training)
        key = (_signature_of(arrays), mode)
        entry = self._cache.get(key)
        if entry is not None and not _buffers_unchanged(entry[3]):
            entry = None  # a buffer (running statistics...) changed since tracing
        if entry is None:
            updates: list = []
            snapshot = _snapshot_buffers(self.module)
            outputs, names = trace_graph(self.function, inputs, self.module, updates)
            # Buffers the graph itself updates (running statistics) are not compared.
            written = {id(u.node.inputs[0].value) for u in updates}
            snapshot = [item for item in snapshot if id(item[0]) not in written]
            entry = (CompiledFunction(outputs, effects=updates, optimize=self.optimize,
                                      split_batch=self.split_batch), names, len(outputs),
                     snapshot)
            self._cache[key] = entry
        self._last = entry[0]
        return entry

    def __call__(self, *inputs):
        from hybridgrad.tensor import Tensor

        # Inputs are converted once: the signature and the call read the same arrays (at batch
        # size 1 such per-call costs are a tenth of the run).
        arrays = [as_array(v) for v in inputs]
        compiled, names, count, _ = self.compiled_for(inputs, arrays)
        results = compiled(*arrays)
        if count == 1:
            return Tensor._wrap(results[0])
        return tuple(Tensor._wrap(r) for r in results)

    @property
    def compiled(self) -> CompiledFunction:
        if self._last is None:
            raise SymbolError("nothing traced yet: call the function once")
        return self._last

    @property
    def graph(self):
        """The optimised graph of the last signature."""
        return self.compiled.graph

    def to_dot(self, title: str = "graph") -> str:
        return self.compiled.to_dot(title)

    def memory_report(self) -> dict:
        return self.compiled.memory_report()


def _snapshot_buffers(module) -> list:
    if module is None:
        return []
    return [(buffer, buffer._array, buffer._array.copy()) for _, buffer in module.named_buffers()]


def _buffers_unchanged(snapshot: list) -> bool:
    return all(buffer._array is array and np.array_equal(array, copy)
               for buffer, array, copy in snapshot)


def trace(module_or_function, example_inputs, optimize: bool = True,
          split_batch: bool = True) -> TracedFunction:
    """Trace eager code once on symbolic inputs shaped like ``example_inputs`` and compile it.

    Parameters are read when the compiled graph runs, so later training updates are seen. New
    input shapes (or a module switched between train/eval) trace again. Data-dependent Python
    control flow and direct random draws are refused with an error naming the line (dropout
    in training mode traces: its mask is drawn each call, as in eager mode).
    ``split_batch=False`` keeps whole-batch execution for row-independent graphs (faster matrix
    products, more memory: see :func:`hybridgrad.symbolic.compile`).

    Example:
        >>> import hybridgrad as hg
        >>> f = hg.jit.trace(lambda x: (x * 2).exp().sum(dim=1), hg.zeros(2, 3))
        >>> f(hg.zeros(2, 3)).tolist()
        [3.0, 3.0]
    """
    from hybridgrad.nn.module import Module

    if isinstance(module_or_function, Module):
        module = module_or_function
        traced = TracedFunction(module.forward, module, optimize, split_batch)
    else:
        traced = TracedFunction(module_or_function, None, optimize, split_batch)
    inputs = example_inputs if isinstance(example_inputs, (list, tuple)) else [example_inputs]
    traced.compiled_for(list(inputs))
    return traced


# ----------------------------------------------------------------------------------------------
# Module.hybridize().


class _Hybrid:
    """What ``Module.__call__`` consults once ``hybridize()`` was called."""

    def __init__(self, module):
        self.traced = TracedFunction(module.forward, module)

    def __call__(self, module, args, kwargs):
        from hybridgrad.autograd import is_grad_enabled
        from hybridgrad.tensor import Tensor

        if kwargs or not args or any(isinstance(a, Symbol) for a in args):
            return module.forward(*args, **kwargs)
        if not all(isinstance(a, (Tensor, np.ndarray)) for a in args):
            return module.forward(*args, **kwargs)
        # The compiled graph has no autograd history: when gradients are wanted, run eagerly.
        if is_grad_enabled() and (any(isinstance(a, Tensor) and a.requires_grad for a in args)
                                  or any(p.requires_grad for p in module.parameters())):
            return module.forward(*args, **kwargs)
        return self.traced(*args)


def hybridize(module, active: bool = True):
    """Turn compiled execution on (or off) for ``module``: see :meth:`Module.hybridize`."""
    object.__setattr__(module, "_hybrid", _Hybrid(module) if active else None)
    return module


# ----------------------------------------------------------------------------------------------
# Compiled training steps.


class _SymbolicGroup:
    """A parameter group as a compiled update rule sees it: numeric hyper-parameters are float64
    0-d variables fed from ``param_groups`` at every call (so a scheduler's new learning rate is
    used without recompiling); flags and other values are the group's own."""

    def __init__(self, group: dict, index: int, variables: dict) -> None:
        self.concrete = group
        self.index = index
        self.variables = variables   # name -> (Variable, group index, key, position or None)

    def _variable(self, key: str, position: int | None):
        name = f"{key}{'' if position is None else position}_g{self.index}"
        entry = self.variables.get(name)
        if entry is None:
            entry = (Variable(name, shape=(), dtype=np.float64), self.index, key, position)
            self.variables[name] = entry
        return entry[0]

    def __getitem__(self, key: str):
        value = self.concrete[key]
        if _numeric(value):
            return self._variable(key, None)
        if isinstance(value, (tuple, list)) and value and all(_numeric(v) for v in value):
            return tuple(self._variable(key, position) for position in range(len(value)))
        return value

    def get(self, key: str, default=None):
        return self[key] if key in self.concrete else default

    def __contains__(self, key: str) -> bool:
        return key in self.concrete


def _numeric(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


class _SymbolicState:
    """One parameter's ``optimizer.state`` entry as a compiled update rule sees it: entries read
    as symbols of the state tensors; ``create`` adds a zero tensor that the graph fills.

    ``shared`` maps a one-element entry (a step counter) that holds the same value for every
    parameter of the group to one representative tensor, read instead of this parameter's own:
    the rule's arithmetic on it is then the same expression for every parameter, which common
    subexpression elimination computes once per group instead of once per parameter. Writes
    still go to each parameter's own tensor."""

    def __init__(self, entries: dict, shared: dict | None = None) -> None:
        self.entries = entries
        self.shared = shared or {}

    def __getitem__(self, key: str):
        own = G.as_node(self.entries[key])
        if key not in self.shared:
            return Symbol(own)
        read = _SharedRead(G.as_node(self.shared[key]))
        read.own = own
        return read

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str, default=None):
        return self[key] if key in self.entries else default

    def create(self, key: str, value):
        from hybridgrad.optim.rule import assign
        from hybridgrad.tensor import Tensor

        if isinstance(value, Tensor):
            self.entries[key] = Tensor._wrap(np.array(value._array, copy=True))
            return self[key]
        self.entries[key] = Tensor._wrap(np.zeros(value.shape, dtype=value.dtype))
        return assign(self[key], value)


class _SharedRead(Symbol):
    """A state entry read from the group's representative tensor; ``own`` is the node that an
    :func:`~hybridgrad.optim.rule.assign` to it writes (this parameter's own tensor)."""

    own = None


def _structure(optimizer) -> tuple:
    """What decides the update graph's structure: each group's flags and which numeric
    hyper-parameters are zero, and each parameter's state entries (by identity: a loaded state
    dict brings new tensors)."""
    key = [type(optimizer)]
    for group in optimizer.param_groups:
        for name, value in sorted(group.items(), key=lambda item: item[0]):
            if name == "params":
                key.append(tuple(id(p) for p in value))
            elif _numeric(value):
                key.append((name, value != 0))
            elif isinstance(value, (tuple, list)):
                key.append((name, tuple(v != 0 if _numeric(v) else v for v in value)))
            else:
                key.append((name, value if isinstance(value, (bool, str, type(None)))
                            else id(value)))
        for param in group["params"]:
            entry = optimizer.state.get(param) if hasattr(optimizer.state, "get") else None
            if entry:
                key.append(tuple((name, id(value)) for name, value in entry.items()))
        key.append(tuple(sorted(_lockstep(optimizer, group))))
    return tuple(key)


def _lockstep(optimizer, group: dict) -> dict:
    """The one-element floating state entries (step counters, NAdam's ``mu_product``) that hold
    the same value for every trained parameter of ``group``: key -> the first one's tensor."""
    entries = [optimizer.state.get(p) for p in group["params"] if p.requires_grad]
    if len(entries) < 2 or not all(entries):
        return {}
    shared = {}
    for key, first in entries[0].items():
        array = getattr(first, "_array", None)
        if array is None or array.size != 1 or array.dtype.kind != "f":
            continue
        others = [entry.get(key) for entry in entries[1:]]
        if all(getattr(other, "_array", None) is not None and other._array.shape == array.shape
               and other._array.dtype == array.dtype and other._array == array
               for other in others):
            shared[key] = first
    return shared


class TrainStep:
    """``step(inputs, targets) -> loss``: forward, backward and the optimizer update compiled as
    one planned graph (see :func:`train_step`)."""

    def __init__(self, model, loss_fn, optimizer, optimize: bool = True,
                 remat: str | None = None):
        from hybridgrad.optim.optimizer import Optimizer

        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"train_step: the optimizer must be a hybridgrad.optim.Optimizer "
                            f"(its update rule is compiled), got {type(optimizer).__name__}")
        if not getattr(optimizer, "_compilable", True) \
                or type(optimizer).update is Optimizer.update:
            try:
                optimizer.update(None, None, None, None)
            except NotImplementedError as error:
                raise NotImplementedError(f"train_step: {error}") from None
        self.remat = remat
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.optimize = optimize
        self._cache: dict = {}
        self._last = None

    def _ensure_state(self) -> None:
        """Every trained parameter's starting state (PyTorch's layout), before its first step."""
        optimizer = self.optimizer
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.requires_grad and not optimizer.state[param]:
                    optimizer.state[param].update(optimizer._init_state(param, group))

    def _build(self, inputs, targets) -> tuple:
        from hybridgrad.optim.rule import SYMBOLIC_ASSIGN
        from hybridgrad.symbolic.grad import grad

        state_updates: list = []   # (running statistics of batch norm in training mode)
        outputs, names = trace_graph(lambda x, t: self.loss_fn(self.model(x), t),
                                     [inputs, targets], self.model, state_updates)
        loss = outputs[0]
        if int(np.prod(loss.shape, dtype=np.int64)) != 1:
            raise SymbolError(f"train_step: the loss must have one element, got shape "
                              f"{loss.shape}")
        optimizer = self.optimizer
        groups = optimizer.param_groups
        params = [p for group in groups for p in group["params"] if p.requires_grad]
        grads = dict(zip((id(p) for p in params), grad(loss, params, allow_unused=True)))
        effects, variables = list(state_updates), {}
        written: set[int] = set()

        def record(target, value):
            node = target.own if isinstance(target, _SharedRead) else G.as_node(target)
            if node.id in written:
                raise SymbolError(f"train_step: {type(optimizer).__name__}.update assigns "
                                  f"{node.name or 'a tensor'} twice in one step; assign each "
                                  f"target once and use the value assign returns")
            written.add(node.id)
            effects.append(Symbol(G.build_internal(ASSIGN, [node, G.as_node(value)])))
            value = value if isinstance(value, Symbol) else Symbol(G.as_node(value))
            # (what the target holds afterwards, as eagerly: the value in the target's dtype)
            return value if value.dtype == node.spec.dtype else value.to(node.spec.dtype)

        token = SYMBOLIC_ASSIGN.set(record)
        try:
            for index, group in enumerate(groups):
                view = _SymbolicGroup(group, index, variables)
                shared = _lockstep(optimizer, group)
                for param in group["params"]:
                    g = grads.get(id(param))
                    if g is None:
                        continue
                    try:
                        optimizer.update(Symbol(G.as_node(param)), g,
                                         _SymbolicState(optimizer.state[param], shared), view)
                    except NotImplementedError as error:
                        raise NotImplementedError(f"train_step: {error}") from error
        finally:
            SYMBOLIC_ASSIGN.reset(token)
        compiled = CompiledFunction([loss], effects=effects, optimize=self.optimize,
                                    remat=self.remat)
        # (a hyper-parameter the rule read but the graph does not use is not an input)
        feeds = tuple((name, index, key, position)
                      for name, (_, index, key, position) in variables.items()
                      if name in compiled.input_names)
        return compiled, feeds

    def _scalars(self, feeds: tuple) -> dict:
        """The hyper-parameters of this call, read from ``param_groups`` now."""
        groups = self.optimizer.param_groups
        values = {}
        for name, index, key, position in feeds:
            value = groups[index][key]
            values[name] = np.asarray(value if position is None else value[position],
                                      dtype=np.float64)
        return values

    def __call__(self, inputs, targets):
        from hybridgrad.tensor import Tensor

        self._ensure_state()
        arrays = [as_array(inputs), as_array(targets)]
        key = (_signature_of(arrays), bool(getattr(self.model, "training", True)),
               _structure(self.optimizer))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._build(inputs, targets)
            # A build that created state (SGD's momentum buffer, filled from the first
            # gradient as in PyTorch) is a one-off first step: later calls find the new state
            # and build the steady-state graph.
            if _structure(self.optimizer) == key[2]:
                self._cache[key] = entry
        compiled, feeds = entry
        self._last = compiled
        all_feeds = {"input0": arrays[0], "input1": arrays[1]}
        all_feeds.update(self._scalars(feeds))
        (loss,) = compiled(**all_feeds)
        return Tensor._wrap(loss)

    @property
    def compiled(self) -> CompiledFunction:
        if self._last is None:
            raise SymbolError("train_step: nothing compiled yet; call it once")
        return self._last

    @property
    def graph(self):
        return self.compiled.graph

    def memory_report(self) -> dict:
        return self.compiled.memory_report()


def train_step(model, loss_fn, optimizer, optimize: bool = True,
               remat: str | None = None) -> TrainStep:
    """Compile one training step: ``step(inputs, targets)`` runs ``loss_fn(model(inputs),
    targets)``, its gradients and the optimizer update as one graph with planned memory;
    returns the loss (a tensor). The update is the optimizer's own rule
    (:meth:`hybridgrad.optim.Optimizer.update`, the one eager ``step()`` runs), so every
    optimizer with a rule compiles; hyper-parameters are read from ``optimizer.param_groups``
    at every call (schedulers work), state is kept in ``optimizer.state[param]`` in PyTorch's
    layout.
    ``remat='sqrt'`` keeps only sqrt(n) forward checkpoints and recomputes the rest during the
    backward pass (less memory for deep models, some extra compute).

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0)
        >>> model = hg.nn.Linear(3, 1)
        >>> opt = hg.optim.SGD(model.parameters(), lr=0.1)
        >>> step = hg.jit.train_step(model, lambda y, t: ((y - t) ** 2).mean(), opt)
        >>> x, t = hg.randn(8, 3), hg.randn(8, 1)
        >>> first = step(x, t).item(); later = [step(x, t).item() for _ in range(20)][-1]
        >>> later < first
        True
    """
    return TrainStep(model, loss_fn, optimizer, optimize, remat)


__all__ = ["TracedFunction", "TrainStep", "hybridize", "trace", "train_step"]
