"""The ``hybridgrad`` command line.

Each sub-command lives in its own module under :mod:`hybridgrad.commands` and exposes
``register(subparsers)``; this file only discovers and dispatches them, so features add commands
without touching it.

Example:
    >>> parser = build_parser()
    >>> parser.prog
    'hybridgrad'
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import hybridgrad.commands as commands_package
from hybridgrad.errors import CommandError  # noqa: F401 - where commands import it from


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every discovered sub-command.

    Example:
        >>> build_parser().prog
        'hybridgrad'
    """
    parser = argparse.ArgumentParser(
        prog="hybridgrad",
        description="hybridgrad: a small deep-learning framework on NumPy "
        "(eager autograd, symbolic compiler, ONNX).",
    )
    from hybridgrad import __version__

    parser.add_argument("--version", action="version", version=f"hybridgrad {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands_package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands_package.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Example:
        >>> main([])  # doctest: +ELLIPSIS
        usage: hybridgrad ...
        0
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        return _unrecognized(parser, args, extras)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        result = args.handler(args)
    except CommandError as error:
        print(f"hybridgrad {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _unrecognized(parser: argparse.ArgumentParser, args, extras: list[str]) -> int:
    """One message for unknown options, with the closest known option when there is one."""
    import difflib

    command = getattr(args, "command", None)
    target = parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            target = action.choices[command]
    known = [option for action in target._actions for option in action.option_strings]
    problems = []
    for extra in extras:
        name = extra.split("=", 1)[0]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) if name.startswith(
            "-") else []
        kind = "option" if name.startswith("-") else "argument"
        problems.append(f"unknown {kind} {extra!r}"
                        + (f" (did you mean {close[0]}?)" if close else ""))
    prefix = f"hybridgrad {command}" if command else "hybridgrad"
    print(target.format_usage().rstrip(), file=sys.stderr)
    print(f"{prefix}: {'; '.join(problems)}. See '{prefix} --help' for the options.",
          file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
