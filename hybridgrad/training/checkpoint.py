"""Training checkpoints: :func:`hybridgrad.save` files (safetensors, written atomically, never
pickled) tagged as training checkpoints, so a weights-only file or another program's
safetensors file is told apart with a clear message.

Example:
    >>> import os, tempfile
    >>> import hybridgrad as hg
    >>> path = os.path.join(tempfile.mkdtemp(), "state.safetensors")
    >>> save_checkpoint({"w": hg.ones(2), "step": 3, "opt": {0: {"lr": 0.1}}}, path)
    >>> state = load_checkpoint(path)
    >>> state["w"].tolist(), state["step"], state["opt"][0]["lr"]
    ([1.0, 1.0], 3, 0.1)
"""

from __future__ import annotations

import os

import hybridgrad as hg

FORMAT = "hybridgrad-train-checkpoint/1"


class CheckpointError(Exception):
    """A file that is not a readable hybridgrad training checkpoint."""


def save_checkpoint(state: dict, path: str) -> None:
    """Write ``state`` (a nested dict of tensors, arrays and plain values) to ``path`` with
    :func:`hybridgrad.save`, atomically: an interruption never leaves a torn checkpoint.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_checkpoint({"a": 1}, path); os.path.exists(path)
        True
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    hg.save(state, path, metadata={"format": FORMAT})


def load_checkpoint(path: str) -> dict:
    """Read a file written by :func:`save_checkpoint`; :class:`CheckpointError` otherwise.

    Example:
        >>> try:
        ...     load_checkpoint("/nonexistent.safetensors")
        ... except CheckpointError as error:
        ...     print(error)
        checkpoint '/nonexistent.safetensors' does not exist
    """
    from hybridgrad.serialization import read_metadata

    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        metadata = read_metadata(path)
        state = hg.load(path)
    except Exception as error:  # a foreign, truncated or corrupt file
        raise CheckpointError(f"{path!r} is not a readable safetensors checkpoint "
                              f"({error})") from None
    if metadata.get("format") != FORMAT or not isinstance(state, dict):
        raise CheckpointError(f"{path!r} is a safetensors file but not a checkpoint written by "
                              f"'hybridgrad train' (it has no training state)")
    return state
