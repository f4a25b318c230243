"""Training checkpoints: a nested dict of tensors, arrays and plain values written atomically
to one safetensors file (arrays as tensors, the rest as JSON in the header; never pickle).

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

import json
import os

import numpy as np

import hybridgrad as hg

FORMAT = "hybridgrad-checkpoint/1"


class CheckpointError(Exception):
    """A file that is not a readable hybridgrad training checkpoint."""


def _encode(value, arrays: dict):
    if isinstance(value, hg.Tensor):
        key = f"t{len(arrays)}"
        arrays[key] = np.ascontiguousarray(value.data)
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        key = f"t{len(arrays)}"
        arrays[key] = np.ascontiguousarray(value)
        return {"__array__": key}
    if isinstance(value, dict):
        return {"__dict__": [[key, _encode(item, arrays)] for key, item in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"__list__" if isinstance(value, list) else "__tuple__":
                [_encode(item, arrays) for item in value]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save_checkpoint: cannot store a {type(value).__name__}")


def _decode(value, arrays: dict):
    if isinstance(value, dict):
        if "__tensor__" in value:
            return hg.Tensor._wrap(arrays[value["__tensor__"]])
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__dict__" in value:
            return {key: _decode(item, arrays) for key, item in value["__dict__"]}
        if "__list__" in value:
            return [_decode(item, arrays) for item in value["__list__"]]
        if "__tuple__" in value:
            return tuple(_decode(item, arrays) for item in value["__tuple__"])
    return value


def save_checkpoint(state: dict, path: str) -> None:
    """Write ``state`` to ``path`` atomically (a temporary file renamed over it, so an
    interruption never leaves a torn checkpoint).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_checkpoint({"a": 1}, path); os.path.exists(path)
        True
    """
    from safetensors.numpy import save_file

    arrays: dict = {}
    skeleton = _encode(state, arrays)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        save_file(arrays, temporary, metadata={"format": FORMAT, "state": json.dumps(skeleton)})
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_checkpoint(path: str) -> dict:
    """Read a file written by :func:`save_checkpoint`; :class:`CheckpointError` otherwise.

    Example:
        >>> try:
        ...     load_checkpoint("/nonexistent.safetensors")
        ... except CheckpointError as error:
        ...     print(error)
        checkpoint '/nonexistent.safetensors' does not exist
    """
    from safetensors import safe_open

    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        with safe_open(path, framework="numpy") as handle:
            metadata = handle.metadata() or {}
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises several types for a non-safetensors file
        raise CheckpointError(f"{path!r} is not a safetensors file ({error})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is a safetensors file but not a hybridgrad training "
                              f"checkpoint (format {metadata.get('format')!r})")
    return _decode(json.loads(metadata["state"]), arrays)
