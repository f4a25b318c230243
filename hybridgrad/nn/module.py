"""``Module`` and ``Parameter``: PyTorch's model-building API on hybridgrad tensors.

Sub-modules, parameters and buffers register themselves through attribute assignment into
ordered dicts, so ``parameters()`` and ``state_dict()`` always come out in definition order, with
PyTorch's key names (``0.weight``, ``bn.running_mean``, ...).

Example:
    >>> import hybridgrad as hg
    >>> class Scale(hg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = hg.nn.Parameter(hg.ones(2))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> [name for name, _ in Scale().named_parameters()]
    ['w']
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

import numpy as np

from hybridgrad.hooks import RemovableHandle
from hybridgrad.tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module registers as a trainable parameter (requires_grad by default).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Parameter(hg.zeros(3)).requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = np.zeros((0,), dtype=np.float32)
        super().__init__(data._array if isinstance(data, Tensor) else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model.

    Example:
        >>> import hybridgrad as hg
        >>> model = hg.nn.Sequential(hg.nn.Linear(2, 3))
        >>> list(model.state_dict())
        ['0.weight', '0.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # Registration through attribute assignment.
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )
        if isinstance(value, (Parameter, Module)):
            # A plain attribute of the same name would shadow the registries.
            self.__dict__.pop(name, None)
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r}")
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "sub-module"
                raise TypeError(f"cannot assign {type(value).__name__} to {kind} {name!r} "
                                "(expected a Parameter/Module or None)")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        for registry in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, parameter: Parameter | None) -> None:
        """Register a parameter (or None, for an optional one such as a missing bias)."""
        self._parameters[name] = parameter

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a non-trainable tensor saved in the state_dict (unless not persistent).

        Example:
            >>> import hybridgrad as hg
            >>> m = hg.nn.Module(); m.register_buffer("count", hg.zeros(1))
            >>> list(m.state_dict())
            ['count']
        """
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under ``name``."""
        self._modules[name] = module

    register_module = add_module

    # Calling.
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        hooks = self.__dict__.get("_call_hooks")
        if hooks and (hooks["pre"] or hooks["forward"]):  # removed handles leave empty tables
            return self._call_with_hooks(hooks, args, kwargs)
        hybrid = self.__dict__.get("_hybrid")
        try:
            if hybrid is not None:
                return hybrid(self, args, kwargs)
            return self.forward(*args, **kwargs)
        except (ValueError, TypeError) as error:
            _annotate_layer_error(error, self, args)
            raise

    def _call_with_hooks(self, hooks: dict, args: tuple, kwargs: dict):
        for hook in list(hooks["pre"].values()):
            changed = hook(self, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        hooks_saved = self.__dict__.pop("_call_hooks")
        try:
            output = self(*args, **kwargs)
        finally:
            object.__setattr__(self, "_call_hooks", hooks_saved)
        for hook in list(hooks["forward"].values()):
            changed = hook(self, args, output)
            if changed is not None:
                output = changed
        return output

    def _hook_table(self) -> dict:
        hooks = self.__dict__.get("_call_hooks")
        if hooks is None:
            hooks = {"pre": {}, "forward": {}}
            object.__setattr__(self, "_call_hooks", hooks)
        return hooks

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward (a non-None return
        replaces the output); returns a handle whose ``remove()`` unregisters it.

        Example:
            >>> import hybridgrad as hg
            >>> layer, seen = hg.nn.Linear(2, 3), []
            >>> handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
            >>> _ = layer(hg.ones(1, 2)); handle.remove(); _ = layer(hg.ones(1, 2))
            >>> seen
            [(1, 3)]
        """
        return RemovableHandle(self._hook_table()["forward"], hook)

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before every forward (a non-None return replaces the
        inputs); returns a removable handle.

        Example:
            >>> import hybridgrad as hg
            >>> layer = hg.nn.Identity()
            >>> handle = layer.register_forward_pre_hook(lambda m, inputs: (inputs[0] * 2,))
            >>> layer(hg.tensor([1.0])).tolist()
            [2.0]
            >>> handle.remove(); layer(hg.tensor([1.0])).tolist()
            [1.0]
        """
        return RemovableHandle(self._hook_table()["pre"], hook)

    def get_submodule(self, target: str) -> Module:
        """The sub-module at a dotted path (``"encoder.layers.0"``); ``""`` is this module.

        Example:
            >>> import hybridgrad as hg
            >>> hg.nn.Sequential(hg.nn.Linear(1, 1)).get_submodule("0").out_features
            1
        """
        module = self
        for part in filter(None, target.split(".")):
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}`")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path (``"0.weight"``)."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path (``"bn.running_mean"``)."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers:
            raise AttributeError(f"{type(module).__name__} has no buffer `{name}`")
        return module._buffers[name]

    def hybridize(self, active: bool = True) -> Module:
        """Compile this module on its first call (trace, optimise, plan memory) and reuse the
        compiled graph per input signature and train/eval mode (see :mod:`hybridgrad.jit`).
        Calls that need gradients run eagerly; ``hybridize(False)`` turns it off.

        Example:
            >>> import hybridgrad as hg
            >>> model = hg.nn.Linear(2, 2).eval().hybridize()
            >>> with hg.no_grad():
            ...     model(hg.ones(1, 2)).shape
            (1, 2)
        """
        from hybridgrad.jit import hybridize

        return hybridize(self, active)

    # Iteration.
    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple]:
        """All modules in the tree, this one first, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """(name, parameter) pairs in registration order, shared parameters once."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # Modes.
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics)."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters."""
        for parameter in self.parameters():
            if set_to_none or parameter.grad is None:
                parameter.grad = None
            else:
                parameter.grad = Tensor._wrap(np.zeros_like(parameter._array))

    # Devices and dtypes, as PyTorch's Module.to: in place, parameters keep their identity.
    def to(self, *args, **kwargs) -> Module:
        """Move to a device and/or cast floating-point parameters and buffers; returns self.

        Accepts PyTorch's forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)``, ``non_blocking=``. Parameters stay the same objects (an optimizer built
        before the call keeps working).

        Example:
            >>> import hybridgrad as hg
            >>> layer = hg.nn.Linear(2, 3)
            >>> weight = layer.weight
            >>> layer.to("cpu", hg.float64).weight is weight, weight.dtype
            (True, dtype('float64'))
        """
        from hybridgrad.device import array_module
        from hybridgrad.tensor import _parse_to

        device, dtype, _ = _parse_to(args, dict(kwargs))
        if device is not None:
            array_module(device)
        if dtype is not None:
            if dtype.kind not in "fc":
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
            self._cast_floating(dtype)
        return self

    def _cast_floating(self, dtype) -> None:
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for tensor in registry.values():
                    if tensor is None or tensor._array.dtype.kind != "f":
                        continue
                    if tensor._array.dtype != dtype:
                        tensor._array = tensor._array.astype(dtype)
                    if tensor.grad is not None and tensor.grad._array.dtype != dtype:
                        tensor.grad = Tensor._wrap(tensor.grad._array.astype(dtype))

    def cpu(self) -> Module:
        """Keep on the CPU (where everything lives); returns self."""
        return self

    def cuda(self, device=None) -> Module:
        """Move to a CUDA device: PyTorch's CPU-build error while no CUDA backend exists."""
        from hybridgrad.device import array_module, as_device

        array_module(as_device("cuda" if device is None or isinstance(device, int) else device))
        return self

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64; returns self."""
        return self.to(np.dtype("float64"))

    def float(self) -> Module:  # noqa: A003 - PyTorch's name
        """Cast floating-point parameters and buffers to float32; returns self."""
        return self.to(np.dtype("float32"))

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16; returns self."""
        return self.to(np.dtype("float16"))

    def type(self, dst_type) -> Module:  # noqa: A003 - PyTorch's name
        """Cast all parameters and buffers to ``dst_type``; returns self."""
        from hybridgrad.dtypes import to_dtype

        return self.to(to_dtype(getattr(dst_type, "dtype", dst_type)))

    def share_memory(self) -> Module:
        """A no-op here (one process owns the arrays); returns self."""
        return self

    def apply(self, function: Callable[[Module], None]) -> Module:
        """Call ``function`` on every sub-module (children first), then on this module."""
        for module in self.children():
            module.apply(function)
        function(self)
        return self

    # State.
    def state_dict(self, destination: OrderedDict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by PyTorch-style dotted names.

        Example:
            >>> import hybridgrad as hg
            >>> sorted(hg.nn.Linear(2, 1).state_dict())
            ['bias', 'weight']
        """
        destination = OrderedDict() if destination is None else destination
        for name, parameter in self._parameters.items():
            if parameter is not None:
                destination[prefix + name] = parameter if keep_vars else parameter.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into this module's parameters and buffers.

        With ``strict=True`` a mismatch raises one error listing every missing, unexpected and
        wrongly shaped key.

        Example:
            >>> import hybridgrad as hg
            >>> a, b = hg.nn.Linear(2, 1), hg.nn.Linear(2, 1)
            >>> b.load_state_dict(a.state_dict())
            IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        """
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        wrong_shape = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value._array if isinstance(value, Tensor) else np.asarray(value)
            if tuple(array.shape) != tuple(target.shape):
                wrong_shape.append(f"{key}: checkpoint {tuple(array.shape)}, "
                                   f"model {tuple(target.shape)}")
        if wrong_shape or (strict and (missing or unexpected)):
            lines = [f"error(s) loading state_dict for {type(self).__name__}:"]
            if missing:
                lines.append(f"  missing keys: {missing}")
            if unexpected:
                lines.append(f"  unexpected keys: {unexpected}")
            if wrong_shape:
                lines.append("  wrongly shaped keys: " + "; ".join(wrong_shape))
            raise RuntimeError("\n".join(lines))
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                array = value._array if isinstance(value, Tensor) else np.asarray(value)
                target._array = np.array(array, dtype=target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # Printing.
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._modules) + list(
            self._buffers)


# ----------------------------------------------------------------------------------------------
# Errors inside forward name the layer: the operator's message (expected vs got) is kept and
# followed by the layer's path in the model, what it expects and the shapes it was called with.

def _describe_inputs(args) -> str:
    parts = []
    for value in args:
        shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
        if shape is not None and dtype is not None:
            parts.append(f"shape {tuple(shape)} {dtype}")
    return ", ".join(parts) or "no tensor inputs"


def _expects(module) -> str:
    if hasattr(module, "in_features"):
        return f", expects input (*, {module.in_features})"
    if hasattr(module, "in_channels") and hasattr(module, "kernel_size"):
        spatial = len(module.kernel_size) if isinstance(module.kernel_size, tuple) else 2
        dims = ", ".join("HWD"[i] for i in range(spatial))
        return (f", expects input (N, {module.in_channels}, {dims}) or "
                f"({module.in_channels}, {dims})")
    if hasattr(module, "normalized_shape"):
        return f", expects input (*, {', '.join(str(d) for d in module.normalized_shape)})"
    return ""


def _annotate_layer_error(error: BaseException, module: Module, args) -> None:
    state = getattr(error, "_hybridgrad_layer", None)
    if state is None:
        if len(error.args) != 1 or not isinstance(error.args[0], str):
            return  # e.g. UnicodeDecodeError, whose args are not its message
        state = {"base": error.args[0], "layer": module, "layer_input": _describe_inputs(args),
                 "path": [], "current": module, "root": module, "root_input": "", "hint": ""}
        shape = getattr(args[0], "shape", None) if args else None
        if (hasattr(module, "in_channels") and hasattr(module, "kernel_size")
                and shape is not None and len(shape) < 3):
            state["hint"] = (f"\n  hint: reshape flattened images with x.reshape(-1, "
                             f"{module.in_channels}, H, W) (MNIST: (-1, 1, 28, 28))")
        try:
            error._hybridgrad_layer = state
        except AttributeError:  # an exception type that takes no attributes
            return
    else:
        for name, child in module._modules.items():
            if child is state["current"]:
                state["path"].insert(0, name)
                break
        state["current"], state["root"] = module, module
        state["root_input"] = _describe_inputs(args)
    layer = state["layer"]
    where = f"layer '{'.'.join(state['path'])}' " if state["path"] else "layer "
    message = (f"{state['base']}\n  in {where}({type(layer).__name__}{_expects(layer)}) "
               f"called with {state['layer_input']}")
    message += state["hint"]
    if state["root"] is not layer:
        message += f"\n  inside {type(state['root']).__name__} called with {state['root_input']}"
    error.args = (message,) + tuple(error.args[1:])
