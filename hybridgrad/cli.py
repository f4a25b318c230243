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


class CommandError(Exception):
    """A user-facing error: printed as one paragraph, exit status 2, no traceback."""


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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
