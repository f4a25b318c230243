"""What the model commands (train, eval, sample, predict, list) share: names to specs, default
paths and checkpoints, with every failure turned into a one-paragraph
:class:`hybridgrad.errors.CommandError` that says what to do.

Example:
    >>> default_checkpoint("cnn")
    'runs/cnn/checkpoint.safetensors'
"""

from __future__ import annotations

import json
import os

from hybridgrad.errors import CommandError
from hybridgrad.models import ModelSpec, get_spec
from hybridgrad.training.checkpoint import CheckpointError
from hybridgrad.training.trainer import CHECKPOINT_NAME, WrongCheckpointError, build_from_checkpoint

RUNS = "runs"


def spec_or_error(name: str) -> ModelSpec:
    """The registry entry, or a :class:`CommandError` listing the models.

    Example:
        >>> try:
        ...     spec_or_error("cnnn")
        ... except CommandError as error:
        ...     print(error)  # doctest: +ELLIPSIS
        unknown model 'cnnn'; the models are captcha, cgan, cnn, cvae, gpt, mlp, vae, vit....
    """
    try:
        return get_spec(name)
    except KeyError as error:
        raise CommandError(f"{error.args[0]} Run 'hybridgrad list' to see what each one "
                           "is.") from None


def default_out(name: str) -> str:
    """Where ``hybridgrad train NAME`` writes by default.

    Example:
        >>> default_out("vae")
        'runs/vae'
    """
    return os.path.join(RUNS, name)


def default_checkpoint(name: str) -> str:
    """The checkpoint ``hybridgrad train NAME`` leaves by default."""
    return os.path.join(default_out(name), CHECKPOINT_NAME)


def open_model(name: str, path: str | None):
    """``(spec, config, model, state)`` of the checkpoint of model ``name`` (default path when
    ``path`` is None), or a :class:`CommandError` saying how to get the right one.

    Example:
        >>> try:
        ...     open_model("cnn", None)
        ... except CommandError as error:
        ...     print(str(error)[:59])
        no checkpoint at runs/cnn/checkpoint.safetensors: train the
    """
    spec_or_error(name)
    path = path or default_checkpoint(name)
    if not os.path.exists(path):
        raise CommandError(
            f"no checkpoint at {path}: train the model first with 'hybridgrad train {name}' "
            f"(it writes {default_checkpoint(name)}), or pass --checkpoint PATH.")
    try:
        return build_from_checkpoint(path, name)
    except (CheckpointError, WrongCheckpointError) as error:
        raise CommandError(str(error)) from None
    except (KeyError, ValueError, TypeError) as error:
        raise CommandError(f"{path} does not match the {name!r} model of this version of "
                           f"hybridgrad ({error}); train it again with 'hybridgrad train "
                           f"{name}'.") from None


def parse_overrides(items: list[str] | None) -> dict:
    """``["lr=0.01", "model.width=16"]`` -> ``{"lr": 0.01, "model": {"width": 16}}`` (values
    read as JSON when they parse, else as strings).

    Example:
        >>> parse_overrides(["lr=0.01", "model.pool=mean", "model.hidden_sizes=[64]"])
        {'lr': 0.01, 'model': {'pool': 'mean', 'hidden_sizes': [64]}}
    """
    overrides: dict = {}
    for item in items or []:
        key, separator, text = item.partition("=")
        if not separator or not key:
            raise CommandError(f"--set expects KEY=VALUE (for example --set lr=0.001 or "
                               f"--set model.width=16), got {item!r}.")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if value == "none":
            value = None
        if key.startswith("model."):
            overrides.setdefault("model", {})[key[len("model."):]] = value
        else:
            overrides[key] = value
    return overrides
