"""Sub-commands of the ``hybridgrad`` CLI: one module each, exposing ``register(subparsers)``.

A command sets ``handler=function(args) -> exit status`` with ``parser.set_defaults``.
"""
