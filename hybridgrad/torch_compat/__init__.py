"""Run PyTorch programs on hybridgrad: ``torch`` and ``torchvision`` resolved to hybridgrad.

:func:`install` puts a meta path finder at the front of ``sys.meta_path`` that answers the
imports ``torch``, ``torch.X...``, ``torchvision`` and ``torchvision.X...`` of this process with
alias modules over hybridgrad's own (``torch.nn.functional`` -> ``hybridgrad.nn.functional``,
``torch.utils.data`` -> ``hybridgrad.utils.data``, ``torchvision`` -> ``hybridgrad.vision``,
``torch.nn.modules.*`` -> ``hybridgrad.nn``; see :data:`PREFIXES`). Nothing is written to disk
and a real PyTorch installation is never touched: the hook lives in this process only, and
:func:`uninstall` removes it (and the alias modules) again. ``hybridgrad run script.py`` uses it.

An alias module forwards attribute reads and writes to its hybridgrad module, so classes and
functions are hybridgrad's own objects (``torch.Tensor is hybridgrad.Tensor``, a subclass of
``torch.nn.Module`` is a hybridgrad module). A name hybridgrad lacks raises
:class:`MissingTorchAPIError` (an ``AttributeError``, so ``hasattr`` and ``getattr(..., default)``
keep working) that names the PyTorch API, its documentation page and the line of the user's
program that asked for it; a missing module raises :class:`MissingTorchModuleError`.

Example:
    >>> import sys
    >>> with installed():
    ...     import torch
    ...     import torch.nn.functional as F
    ...     print(torch.Tensor is sys.modules["hybridgrad"].Tensor, F.relu(torch.tensor(-1.0)))
    ...     try:
    ...         torch.no_such_function
    ...     except AttributeError as error:
    ...         print(str(error).split(" (")[0])
    True tensor(0.)
    torch.no_such_function is not available in hybridgrad
    >>> "torch" in sys.modules
    False
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import linecache
import os
import sys
import types

import numpy as np

#: torch module name prefix -> hybridgrad module; the longest matching prefix wins. A prefix
#: ending in ``*`` maps every module below it to the same hybridgrad module (PyTorch splits
#: ``torch.nn.modules`` into files that hybridgrad keeps in one namespace, ``hybridgrad.nn``).
PREFIXES = {
    "torch": "hybridgrad",
    "torch.autograd": "hybridgrad.torch_compat.autograd",
    "torch.nn.modules*": "hybridgrad.nn",
    "torch.nn.parallel*": "hybridgrad.nn.parallel",
    "torch.cuda.amp": "hybridgrad.amp",
    "torch.utils.data": "hybridgrad.utils.data",
    "torch.utils.data.dataloader": "hybridgrad.data.dataloader",
    "torch.utils.data.dataset": "hybridgrad.data.dataset",
    "torch.utils.data.sampler": "hybridgrad.data.sampler",
    "torch.utils.data.distributed": "hybridgrad.distributed.sampler",
    "torchvision": "hybridgrad.vision",
}

#: Attributes the alias of ``torch`` itself adds beside hybridgrad's (PyTorch's legacy names).
_ROOT_EXTRAS = "hybridgrad.torch_compat.legacy"

DOCS_URL = "https://docs.pytorch.org/docs/stable/"
VISION_DOCS_URL = "https://docs.pytorch.org/vision/stable/"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MissingTorchAPIError(AttributeError):
    """A PyTorch attribute hybridgrad does not provide (an AttributeError, as ``hasattr``
    expects). ``api`` is its PyTorch name, ``docs`` its documentation page, ``where`` the
    ``file:line`` of the program that asked for it.

    Example:
        >>> error = MissingTorchAPIError("torch.foo")
        >>> error.api, error.docs
        ('torch.foo', 'https://docs.pytorch.org/docs/stable/generated/torch.foo.html')
    """

    def __init__(self, api: str, where: str | None = None):
        self.api = api
        self.docs = documentation_url(api)
        self.where = where
        super().__init__(describe_missing(api, where))


class MissingTorchModuleError(ModuleNotFoundError):
    """A PyTorch module hybridgrad does not provide (``import torch.distributions``).

    Example:
        >>> MissingTorchModuleError("torch.distributions").api
        'torch.distributions'
    """

    def __init__(self, api: str, where: str | None = None):
        self.api = api
        self.docs = documentation_url(api, module=True)
        self.where = where
        super().__init__(describe_missing(api, where, module=True), name=api)


def documentation_url(api: str, module: bool = False) -> str:
    """PyTorch's documentation page for ``api`` (a function/class page, or a module's page).

    Example:
        >>> documentation_url("torch.Tensor.view_as")
        'https://docs.pytorch.org/docs/stable/generated/torch.Tensor.view_as.html'
        >>> documentation_url("torch.distributions", module=True)
        'https://docs.pytorch.org/docs/stable/distributions.html'
        >>> documentation_url("torchvision.models", module=True)
        'https://docs.pytorch.org/vision/stable/models.html'
    """
    vision = api.startswith("torchvision")
    base = VISION_DOCS_URL if vision else DOCS_URL
    if module:
        short = api.partition(".")[2] or ("index" if vision else "torch")
        return f"{base}{short}.html"
    return f"{base}generated/{api}.html"


def describe_missing(api: str, where: str | None = None, module: bool = False) -> str:
    """The one-paragraph message of a missing PyTorch API.

    Example:
        >>> describe_missing("torch.foo", "train.py:3")  # doctest: +ELLIPSIS
        'torch.foo is not available in hybridgrad (PyTorch documentation: ...), used at train...'
    """
    kind = "module " if module else ""
    text = (f"{kind}{api} is not available in hybridgrad (PyTorch documentation: "
            f"{documentation_url(api, module)})")
    if where:
        text += f", used at {where}"
    return text + "; see docs/torch-compat.md for what hybridgrad provides"


def user_location(skip_package: bool = True) -> str | None:
    """``file:line: code`` of the innermost frame outside hybridgrad and the import system (the
    user's program), or None.

    Example:
        >>> user_location() is None or ":" in user_location()
        True
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        inside = (filename.startswith("<frozen") or filename.startswith("<")
                  and "importlib" in filename
                  or skip_package and os.path.abspath(filename).startswith(_PACKAGE_DIR))
        if not inside:
            line = linecache.getline(filename, frame.f_lineno).strip()
            return f"{filename}:{frame.f_lineno}" + (f": {line}" if line else "")
        frame = frame.f_back
    return None


def hybridgrad_name(torch_name: str) -> str:
    """The hybridgrad module an import of ``torch_name`` is answered with.

    Example:
        >>> hybridgrad_name("torch.nn.functional")
        'hybridgrad.nn.functional'
        >>> hybridgrad_name("torch.nn.modules.loss"), hybridgrad_name("torchvision.transforms")
        ('hybridgrad.nn', 'hybridgrad.vision.transforms')
    """
    best = None
    for prefix, target in PREFIXES.items():
        collapse = prefix.endswith("*")
        prefix = prefix.rstrip("*")
        if torch_name == prefix or torch_name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, target, collapse)
    prefix, target, collapse = best
    rest = torch_name[len(prefix):]
    # A collapsed prefix stands for PyTorch's files just below it (torch.nn.modules.loss), not
    # for names inside those files (torch.nn.modules.loss._Loss is not a module).
    return target if collapse and rest.count(".") <= 1 else target + rest


class TorchAlias(types.ModuleType):
    """A module named like PyTorch's whose attributes are those of a hybridgrad module.

    Reads go to the hybridgrad module (sub-modules come back as aliases too, so a missing
    ``torch.nn.functional.foo`` is reported as such); writes (``torch.backends.cudnn.benchmark
    = True``) go to it as well.

    Example:
        >>> import hybridgrad.nn
        >>> alias = TorchAlias("torch.nn", hybridgrad.nn)
        >>> alias.Linear is hybridgrad.nn.Linear
        True
    """

    def __init__(self, name: str, target: types.ModuleType, extras: types.ModuleType | None = None):
        super().__init__(name, getattr(target, "__doc__", None))
        object.__setattr__(self, "_hybridgrad_target", target)
        object.__setattr__(self, "_hybridgrad_extras", extras)
        object.__setattr__(self, "__path__", [])  # a package: ``import torch.X`` asks the finder
        object.__setattr__(self, "__file__", getattr(target, "__file__", None))

    def __getattr__(self, attribute: str):
        target = object.__getattribute__(self, "_hybridgrad_target")
        extras = object.__getattribute__(self, "_hybridgrad_extras")
        if attribute.startswith("__") and attribute.endswith("__"):
            if extras is not None and hasattr(extras, attribute):
                return getattr(extras, attribute)
            return getattr(target, attribute)
        name = f"{self.__name__}.{attribute}"
        try:
            value = getattr(target, attribute)
        except AttributeError:
            if extras is not None and hasattr(extras, attribute):
                value = getattr(extras, attribute)
                object.__setattr__(self, attribute, value)
                return value
            value = None
        if value is None or isinstance(value, types.ModuleType):
            # A sub-module (loaded or not): answer with its alias, or say it is missing.
            try:
                return importlib.import_module(name)
            except MissingTorchModuleError:
                if value is not None:
                    return value
                raise MissingTorchAPIError(name, user_location()) from None
        if callable(value) or isinstance(value, np.dtype):
            # Functions, classes and dtypes are kept on the alias: reading torch.cat through
            # __getattr__ costs microseconds per call. Plain values (flags such as
            # cudnn.benchmark) are read from the hybridgrad module each time, so writes to it
            # stay visible.
            object.__setattr__(self, attribute, value)
        return value

    def __setattr__(self, attribute: str, value) -> None:
        if isinstance(value, types.ModuleType):
            # The import system binds each loaded sub-module (an alias) on its parent: that
            # binding belongs to the alias, never to the hybridgrad module (whose own attribute,
            # e.g. hybridgrad.autograd, must survive uninstall()).
            object.__setattr__(self, attribute, value)
            return
        setattr(object.__getattribute__(self, "_hybridgrad_target"), attribute, value)
        self.__dict__.pop(attribute, None)  # a value kept by __getattr__ is stale now

    def __dir__(self):
        target = object.__getattribute__(self, "_hybridgrad_target")
        return sorted(set(dir(target)))

    def __repr__(self) -> str:
        target = object.__getattribute__(self, "_hybridgrad_target")
        return f"<module {self.__name__!r} (hybridgrad: {target.__name__})>"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: types.ModuleType, extras: types.ModuleType | None):
        self.target = target
        self.extras = extras

    def create_module(self, spec):
        return TorchAlias(spec.name, self.target, self.extras)

    def exec_module(self, module) -> None:  # the alias has nothing to run
        pass


class TorchFinder(importlib.abc.MetaPathFinder):
    """The meta path finder behind :func:`install`.

    Example:
        >>> TorchFinder().find_spec("numpy", None) is None
        True
    """

    def find_spec(self, fullname: str, path=None, target=None):
        root = fullname.partition(".")[0]
        if root not in ("torch", "torchvision"):
            return None
        module_name = hybridgrad_name(fullname)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                raise MissingTorchModuleError(fullname, user_location()) from None
            raise
        extras = importlib.import_module(_ROOT_EXTRAS) if fullname == "torch" else None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module, extras),
                                               is_package=True)


_finder: TorchFinder | None = None


def install() -> TorchFinder:
    """Answer ``import torch``/``torchvision`` in this process with hybridgrad. Idempotent.

    Example:
        >>> finder = install(); finder in sys.meta_path
        True
        >>> uninstall()
    """
    global _finder
    if _finder is None:
        _finder = TorchFinder()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    return _finder


def uninstall() -> None:
    """Remove the finder and forget the alias modules it made.

    Example:
        >>> uninstall()
    """
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [name for name, module in sys.modules.items() if isinstance(module, TorchAlias)]:
        del sys.modules[name]


@contextlib.contextmanager
def installed():
    """``with installed(): import torch`` -- the hook for the duration of a block.

    Example:
        >>> with installed():
        ...     import torch
        ...     torch.cuda.is_available()
        False
    """
    already = _finder is not None and _finder in sys.meta_path
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()
