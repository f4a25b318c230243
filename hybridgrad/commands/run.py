"""``hybridgrad run script.py [args...]``: run an unmodified PyTorch program on hybridgrad.

The program runs in this process as ``python script.py args...`` would run it (``__name__ ==
"__main__"``, ``sys.argv``, ``__file__``, its folder first on ``sys.path``, relative paths from
the current directory), with ``import torch`` and ``import torchvision`` answered by hybridgrad
through :mod:`hybridgrad.torch_compat`'s import hook. Under ``mpirun`` it also sets the
variables ``torchrun`` would (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``...), so DDP scripts
written for ``torchrun`` run unchanged. When the program stops on a PyTorch API
hybridgrad lacks, the last line printed names it, its PyTorch documentation page and the line
of the program that used it::

    hybridgrad run: torch.Tensor.foo is not available in hybridgrad (PyTorch documentation:
    https://docs.pytorch.org/docs/stable/generated/torch.Tensor.foo.html), used at
    train.py:12: y = x.foo(); see docs/torch-compat.md for what hybridgrad provides

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> args = parser.parse_args(["run", "train.py", "--epochs", "1"])
    >>> args.script, args.arguments
    ('train.py', ['--epochs', '1'])
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import sys
import traceback


def register(subparsers) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser(
        "run", help="run a PyTorch program with torch/torchvision resolved to hybridgrad",
        description="Run an unmodified PyTorch script on hybridgrad: 'import torch' and "
        "'import torchvision' are answered by hybridgrad for this process only (nothing is "
        "installed). Arguments after the script go to it, as with 'python script.py ...'.")
    parser.add_argument("script", help="the PyTorch program (a .py file)")
    parser.add_argument("arguments", nargs=argparse.REMAINDER,
                        help="arguments passed to the program")
    parser.set_defaults(handler=run)


_ATTRIBUTE_ERROR = re.compile(r"^'(\w+)' object has no attribute '(\w+)'")
_IMPORT_ERROR = re.compile(r"^cannot import name '(\w+)' from '((?:torch|torchvision)[\w.]*)'")
# torch.nn.Module's public methods (PyTorch 2.x): a program's module subclass lacking one of
# these lacks a PyTorch API, not one of its own attributes.
MODULE_METHODS = frozenset(
    "add_module apply bfloat16 buffers children compile cpu cuda double eval extra_repr float "
    "forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict "
    "modules mtia named_buffers named_children named_modules named_parameters parameters "
    "register_backward_hook register_buffer register_forward_hook register_forward_pre_hook "
    "register_full_backward_hook register_full_backward_pre_hook "
    "register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module "
    "register_parameter register_state_dict_post_hook register_state_dict_pre_hook "
    "requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty train "
    "type xpu zero_grad".split())


def _missing_method(error: AttributeError) -> str | None:
    """``torch.Tensor.x`` / ``torch.nn.Module.x`` when ``error`` is a tensor or module lacking
    a PyTorch method, else None."""
    from hybridgrad.nn.module import Module
    from hybridgrad.tensor import Tensor

    target, name = getattr(error, "obj", None), getattr(error, "name", None)
    if name is None:
        match = _ATTRIBUTE_ERROR.match(str(error))
        if not match:
            return None
        name = match.group(2)
        target = Tensor if match.group(1) in ("Tensor", "Parameter") else None
    if isinstance(target, Tensor) or target is Tensor:
        return f"torch.Tensor.{name}"
    if isinstance(target, Module) and name in MODULE_METHODS:
        return f"torch.nn.Module.{name}"
    return None


def run(args) -> int:
    """Run ``args.script`` with ``args.arguments``; returns the program's exit status."""
    from hybridgrad.cli import CommandError

    script = os.path.abspath(args.script)
    if not os.path.isfile(script):
        raise CommandError(f"no such program: {args.script}")
    return run_program(script, _program_arguments(args))


def _program_arguments(args) -> list[str]:
    """The program's arguments. argparse drops a ``--`` that directly follows the script
    (``hybridgrad run s.py -- x``); ``python s.py -- x`` passes it on, so take it back from the
    command line when that is what happened."""
    arguments = list(args.arguments)
    command = sys.argv[1:]
    if args.script in command:
        tail = command[command.index(args.script) + 1:]
        if tail[:1] == ["--"] and tail[1:] == arguments:
            return tail
    return arguments


def run_program(script: str, arguments: list[str]) -> int:
    """Run ``script`` as ``__main__`` with ``sys.argv = [script, *arguments]`` and the torch
    import hook installed; restores ``sys.argv`` and ``sys.path`` afterwards.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "hello.py")
        >>> _ = open(path, "w").write("import sys, torch\\nprint(sys.argv[1:], torch.ones(2))\\n")
        >>> run_program(path, ["--epochs", "1"])
        ['--epochs', '1'] tensor([1., 1.])
        0
    """
    from hybridgrad import torch_compat
    from hybridgrad.device import print_prefix, set_print_prefix
    from hybridgrad.distributed.process_group import torchrun_environment

    # Under mpirun, scripts written for torchrun find RANK, LOCAL_RANK, WORLD_SIZE...
    os.environ.update(torchrun_environment())
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *arguments]
    sys.path.insert(0, os.path.dirname(script))
    torch_compat.install()
    # Printed sizes and dtypes read as the program's author saw them (torch.Size([2, 3])).
    previous_prefix = print_prefix()
    set_print_prefix("torch")
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return int(code or 0)
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - report as python would, then name the API
        _print_traceback(error)
        print(f"hybridgrad run: {explain_failure(error, script)}", file=sys.stderr)
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        set_print_prefix(previous_prefix)
        torch_compat.uninstall()
    return 0


def _print_traceback(error: BaseException) -> None:
    """The traceback python would print, without the runner's own frames above the program."""
    tb = error.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename == __file__
                              or "runpy" in tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb)


def explain_failure(error: BaseException, script: str) -> str:
    """One line on why the program stopped: the missing PyTorch API (with its documentation
    page and the program's line) when that is the reason, else the error itself.

    Example:
        >>> from hybridgrad.torch_compat import MissingTorchAPIError
        >>> error = MissingTorchAPIError("torch.foo", "a.py:1")
        >>> explain_failure(error, "a.py")  # doctest: +ELLIPSIS
        'torch.foo is not available in hybridgrad (PyTorch documentation: ...), used at a.py:1...'
    """
    from hybridgrad.torch_compat import (
        MissingTorchAPIError,
        MissingTorchModuleError,
        describe_missing,
    )

    if isinstance(error, (MissingTorchAPIError, MissingTorchModuleError)):
        return str(error)
    if isinstance(error, AttributeError):
        api = _missing_method(error)
        if api:
            return describe_missing(api, _program_line(error))
    if isinstance(error, ImportError):
        match = _IMPORT_ERROR.match(str(error))
        if match:  # from torch.x import name (a name the alias module lacks)
            return describe_missing(f"{match.group(2)}.{match.group(1)}", _program_line(error))
    where = _program_line(error)
    return f"{type(error).__name__}: {error}" + (f" (at {where})" if where else "")


def _program_line(error: BaseException) -> str | None:
    """``file:line: code`` of the innermost traceback frame outside hybridgrad."""
    import linecache

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith("<") or os.path.abspath(filename).startswith(package):
            continue
        if "runpy" in os.path.basename(filename):
            continue
        found = (filename, line)
    if found is None:
        return None
    code = linecache.getline(found[0], found[1]).strip()
    return f"{found[0]}:{found[1]}" + (f": {code}" if code else "")
