"""Containers and trivial layers: Sequential, ModuleList, ModuleDict, Identity, Flatten, Unflatten.

Example:
    >>> import hybridgrad as hg
    >>> model = hg.nn.Sequential(hg.nn.Flatten(), hg.nn.Identity())
    >>> model(hg.zeros(2, 3, 4)).shape
    (2, 12)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Iterator

from hybridgrad.nn.module import Module
from hybridgrad.ops import api


class Sequential(Module):
    """Modules applied one after another; indexable, iterable, sliceable.

    Example:
        >>> import hybridgrad as hg
        >>> len(hg.nn.Sequential(hg.nn.Identity(), hg.nn.Identity()))
        2
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of sub-modules, registered so their parameters are found.

    Example:
        >>> import hybridgrad as hg
        >>> layers = hg.nn.ModuleList([hg.nn.Linear(2, 2) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        for module in modules or []:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of sub-modules (insertion order kept).

    Example:
        >>> import hybridgrad as hg
        >>> list(hg.nn.ModuleDict({"a": hg.nn.Identity()}).keys())
        ['a']
    """

    def __init__(self, modules: dict | None = None):
        super().__init__()
        for name, module in (modules or {}).items():
            self.add_module(name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __setitem__(self, name: str, module: Module) -> None:
        self.add_module(name, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


class Identity(Module):
    """Returns its input.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Identity()(hg.ones(1)).tolist()
        [1.0]
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` (default: all but the batch dimension).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Flatten()(hg.zeros(2, 3, 4)).shape
        (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return api.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.Unflatten(1, (2, 3))(hg.zeros(4, 6)).shape
        (4, 2, 3)
    """

    def __init__(self, dim: int, unflattened_size: tuple):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        shape = tuple(x.shape)
        dim = self.dim % len(shape)
        return api.reshape(x, shape[:dim] + self.unflattened_size + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class ParameterList(Module):
    """A list of parameters, registered so ``parameters()`` and ``state_dict()`` find them.

    Example:
        >>> import hybridgrad as hg
        >>> params = hg.nn.ParameterList([hg.nn.Parameter(hg.zeros(2)) for _ in range(3)])
        >>> len(params), list(params.state_dict())
        (3, ['0', '1', '2'])
    """

    def __init__(self, values=None):
        super().__init__()
        for value in values or []:
            self.append(value)

    def append(self, value) -> ParameterList:
        from hybridgrad.nn.module import Parameter

        if not isinstance(value, Parameter):
            value = Parameter(value)
        self.register_parameter(str(len(self._parameters)), value)
        return self

    def extend(self, values) -> ParameterList:
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, index):
        values = list(self._parameters.values())
        return ParameterList(values[index]) if isinstance(index, slice) else values[index]

    def __setitem__(self, index: int, value) -> None:
        key = list(self._parameters)[index]
        self._parameters[key] = value

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())


class ParameterDict(Module):
    """A dict of parameters (insertion order kept).

    Example:
        >>> import hybridgrad as hg
        >>> params = hg.nn.ParameterDict({"scale": hg.nn.Parameter(hg.ones(1))})
        >>> list(params.keys()), "scale" in params
        (['scale'], True)
    """

    def __init__(self, parameters=None):
        super().__init__()
        for key, value in dict(parameters or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value) -> None:
        from hybridgrad.nn.module import Parameter

        if not isinstance(value, Parameter):
            value = Parameter(value)
        self.register_parameter(key, value)

    def __getitem__(self, key: str):
        return self._parameters[key]

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def update(self, parameters) -> None:
        for key, value in dict(parameters).items():
            self[key] = value
