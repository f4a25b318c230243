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

import math

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


def _group_settings(optimizer, group: dict) -> dict:
    kind = type(optimizer).__name__
    if kind not in ("SGD", "Adam", "AdamW"):
        raise NotImplementedError(f"train_step: optimizer {kind} is not supported (SGD, Adam, "
                                  f"AdamW are)")
    for flag in ("amsgrad", "maximize"):
        if group.get(flag):
            raise NotImplementedError(f"train_step: {kind}({flag}=True) is not supported")
    return {"kind": kind}


class TrainStep:
    """``step(inputs, targets) -> loss``: forward, backward and the optimizer update compiled as
    one planned graph (see :func:`train_step`)."""

    def __init__(self, model, loss_fn, optimizer, optimize: bool = True,
                 remat: str | None = None):
        self.remat = remat
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.optimize = optimize
        self._cache: dict = {}
        self._last = None
        # Parameters whose momentum buffer was just created: PyTorch's first step copies the
        # gradient into it (buffer = 0 * buffer + 1 * grad here), later steps blend.
        self._fresh: set[int] = set()

    # Optimizer state in PyTorch's layout, created before the first compiled step.
    def _ensure_state(self) -> None:
        from hybridgrad.tensor import Tensor

        state = self.optimizer.state
        for group in self.optimizer.param_groups:
            kind = type(self.optimizer).__name__
            for param in group["params"]:
                entry = state.setdefault(param, {}) if hasattr(state, "setdefault") else None
                if entry is None:
                    raise TypeError("train_step: optimizer.state must be a dict")
                zeros = lambda p=param: Tensor._wrap(np.zeros_like(p._array))  # noqa: E731
                if (kind == "SGD" and group.get("momentum", 0)
                        and entry.get("momentum_buffer") is None):
                    entry["momentum_buffer"] = zeros()
                    self._fresh.add(id(param))
                if kind in ("Adam", "AdamW") and "exp_avg" not in entry:
                    entry["step"] = Tensor._wrap(np.asarray(0.0, dtype=np.float32))
                    entry["exp_avg"] = zeros()
                    entry["exp_avg_sq"] = zeros()

    def _build(self, inputs, targets) -> tuple:
        state_updates: list = []   # (running statistics of batch norm in training mode)
        outputs, names = trace_graph(lambda x, t: self.loss_fn(self.model(x), t),
                                     [inputs, targets], self.model, state_updates)
        loss = outputs[0]
        if int(np.prod(loss.shape, dtype=np.int64)) != 1:
            raise SymbolError(f"train_step: the loss must have one element, got shape "
                              f"{loss.shape}")
        from hybridgrad.symbolic.grad import grad

        groups = self.optimizer.param_groups
        params = [p for group in groups for p in group["params"] if p.requires_grad]
        grads = dict(zip((id(p) for p in params), grad(loss, params, allow_unused=True)))
        effects, scalars, variables = list(state_updates), [], {}
        for index, group in enumerate(groups):
            settings = _group_settings(self.optimizer, group)
            for param in group["params"]:
                g = grads.get(id(param))
                if g is None:
                    continue
                dtype = param.dtype

                def scalar(name, index=index, dtype=dtype):
                    key = f"{name}_g{index}_{dtype.str.strip('<>|=')}"
                    if key not in variables:
                        scalars.append((key, index, name, dtype))
                        variables[key] = Variable(key, shape=(), dtype=dtype)
                    return variables[key]

                for target, value in self._update(settings["kind"], group, param, g, scalar):
                    effects.append(Symbol(G.build_internal(
                        ASSIGN, [G.as_node(target), G.as_node(value)])))
        compiled = CompiledFunction([loss], effects=effects, optimize=self.optimize,
                                    remat=self.remat)
        unique = {}
        for key, index, name, dtype in scalars:
            unique[key] = (index, name, dtype)
        return compiled, unique

    def _update(self, kind, group, param, g, scalar):
        """(target tensor, new value symbol) pairs: PyTorch's formulas, step for step."""
        state = self.optimizer.state[param]
        weight_decay = group.get("weight_decay", 0)
        if kind == "SGD":
            momentum = group.get("momentum", 0)
            if weight_decay:
                g = g + param * scalar("weight_decay")
            updates = []
            if momentum:
                buffer = state["momentum_buffer"]
                new_buffer = buffer * scalar("buffer_keep") + g * scalar("buffer_take")
                updates.append((buffer, new_buffer))
                g = g + new_buffer * scalar("momentum") if group.get("nesterov") else new_buffer
            updates.append((param, param + g * scalar("neg_lr")))
            return updates
        beta1, beta2 = group.get("betas", (0.9, 0.999))
        if kind == "AdamW":
            param_value = param * scalar("decay_factor")
        else:
            param_value = param
            if weight_decay:
                g = g + param * scalar("weight_decay")
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        new_avg = exp_avg + (g - exp_avg) * scalar("one_minus_beta1")
        new_avg_sq = exp_avg_sq * scalar("beta2") + (g * g) * scalar("one_minus_beta2")
        denom = new_avg_sq.sqrt() / scalar("bias_correction2_sqrt") + scalar("eps")
        new_param = param_value + (new_avg / denom) * scalar("neg_step_size")
        return [(exp_avg, new_avg), (exp_avg_sq, new_avg_sq), (param, new_param)]

    def _scalars(self, wanted: dict) -> dict:
        """Per-group coefficients for this step, read from param_groups and state now."""
        optimizer = self.optimizer
        values = {}
        for key, (index, name, dtype) in wanted.items():
            group = optimizer.param_groups[index]
            lr = float(group["lr"])
            first_param = group["params"][0]
            first = optimizer.state[first_param]
            fresh = id(first_param) in self._fresh
            if name == "weight_decay":
                value = group.get("weight_decay", 0)
            elif name == "neg_lr":
                value = -lr
            elif name == "momentum":
                value = group.get("momentum", 0)
            elif name == "buffer_keep":
                value = 0.0 if fresh else group.get("momentum", 0)
            elif name == "buffer_take":
                value = 1.0 if fresh else 1 - group.get("dampening", 0)
            else:
                beta1, beta2 = group.get("betas", (0.9, 0.999))
                step = _step_value(first) + 1
                value = {
                    "decay_factor": 1 - lr * group.get("weight_decay", 0),
                    "one_minus_beta1": 1 - beta1,
                    "beta2": beta2,
                    "one_minus_beta2": 1 - beta2,
                    "bias_correction2_sqrt": math.sqrt(1 - beta2 ** step),
                    "eps": group.get("eps", 1e-8),
                    "neg_step_size": -lr / (1 - beta1 ** step),
                }[name]
            values[key] = np.asarray(value, dtype=dtype)
        return values

    def _advance_state(self) -> None:
        self._fresh.clear()
        for group in self.optimizer.param_groups:
            for param in group["params"]:
                entry = self.optimizer.state.get(param)
                if not entry:
                    continue
                if "step" in entry:
                    step = entry["step"]
                    if hasattr(step, "_array"):
                        step._array = np.asarray(step._array + 1, dtype=step._array.dtype)
                    else:
                        entry["step"] = step + 1

    def __call__(self, inputs, targets):
        from hybridgrad.tensor import Tensor

        self._ensure_state()
        arrays = [as_array(inputs), as_array(targets)]
        key = (_signature_of(arrays), bool(getattr(self.model, "training", True)))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._build(inputs, targets)
            self._cache[key] = entry
        compiled, wanted = entry
        self._last = compiled
        feeds = {"input0": arrays[0], "input1": arrays[1]}
        feeds.update(self._scalars(wanted))
        (loss,) = compiled(**feeds)
        self._advance_state()
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


def _step_value(entry: dict) -> float:
    step = entry.get("step", 0)
    return float(step._array) if hasattr(step, "_array") else float(step)


def train_step(model, loss_fn, optimizer, optimize: bool = True,
               remat: str | None = None) -> TrainStep:
    """Compile one training step: ``step(inputs, targets)`` runs ``loss_fn(model(inputs),
    targets)``, its gradients and the optimizer update (SGD with momentum/dampening/nesterov/
    weight decay, Adam, AdamW: PyTorch's formulas, hyper-parameters read from
    ``optimizer.param_groups`` at every call, state kept in ``optimizer.state[param]`` in
    PyTorch's layout) as one graph with planned memory; returns the loss (a tensor).
    ``remat='sqrt'`` keeps only sqrt(n) forward checkpoints and recomputes the rest during the
    backward pass (less memory for deep models, some extra compute).

    Example:
        >>> import hybridgrad as hg
        >>> from types import SimpleNamespace
        >>> hg.manual_seed(0)
        >>> model = hg.nn.Linear(3, 1)
        >>> class SGD(SimpleNamespace): pass
        >>> opt = SGD(param_groups=[{'params': list(model.parameters()), 'lr': 0.1}], state={})
        >>> step = hg.jit.train_step(model, lambda y, t: ((y - t) ** 2).mean(), opt)
        >>> x, t = hg.randn(8, 3), hg.randn(8, 1)
        >>> first = step(x, t).item(); later = [step(x, t).item() for _ in range(20)][-1]
        >>> later < first
        True
    """
    return TrainStep(model, loss_fn, optimizer, optimize, remat)


__all__ = ["TracedFunction", "TrainStep", "hybridize", "trace", "train_step"]
