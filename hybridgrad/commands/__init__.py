"""Sub-commands of the ``hybridgrad`` CLI: one module each, exposing ``register(subparsers)``.

A command sets ``handler=function(args) -> exit status`` with ``parser.set_defaults``.
"""

from __future__ import annotations

import importlib


def own_commands(name: str | None = None) -> list:
    """The command modules of models with their own data and options (``ModelSpec.commands``):
    all of them, or (``name``) that model's, as a list of zero or one module. The generic
    ``train``/``eval``/``predict`` commands add their options and hand such a model to them.

    Example:
        >>> [module.__name__ for module in own_commands("captcha")], own_commands("cnn")
        (['hybridgrad.commands.captcha'], [])
    """
    from hybridgrad.models import REGISTRY

    specs = REGISTRY.values() if name is None else [REGISTRY[name]] if name in REGISTRY else []
    return [importlib.import_module(spec.commands) for spec in specs if spec.commands]
