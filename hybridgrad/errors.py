"""Exceptions shared across layers, defined low so that any layer may raise them (the command
line catches :class:`CommandError`; training code raises it without importing the CLI).

Example:
    >>> raise CommandError("no checkpoint at runs/model.safetensors")
    Traceback (most recent call last):
    ...
    hybridgrad.errors.CommandError: no checkpoint at runs/model.safetensors
"""


class CommandError(Exception):
    """A user-facing error: printed as one paragraph, exit status 2, no traceback.

    Example:
        >>> str(CommandError("bad --epochs"))
        'bad --epochs'
    """


__all__ = ["CommandError"]
