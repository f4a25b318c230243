"""Checkpoints as safetensors files: ``hg.save(obj, path)`` / ``hg.load(path)``. Never pickle.

What can be saved: a ``state_dict`` (OrderedDict of tensors), any dict of tensors, or a nested
structure such as ``{"model": model.state_dict(), "optimizer": optimizer.state_dict(),
"epoch": 3, "config": {...}}`` made of tensors, NumPy arrays, dicts (any JSON-able keys:
str, int, float, bool, None), lists, tuples, str, int, float, bool and None.

File layout (a standard safetensors file, readable by any safetensors library):

* every tensor is stored under its dotted path from the root: ``model.0.weight``,
  ``optimizer.state.0.exp_avg``; a flat ``state_dict`` therefore keeps exactly its own keys, so
  ``safetensors.torch.load_file`` gives PyTorch the same ``state_dict`` back (and files written
  by ``safetensors.torch.save_file`` load here);
* the header metadata ``"hybridgrad.structure"`` holds the whole object as JSON, each tensor
  replaced by ``{"__tensor__": "<key>"}`` (``"__ndarray__"`` for NumPy arrays, which load back as
  arrays); tuples, non-string-keyed or ordered dicts and non-finite floats are tagged objects
  (``"__tuple__"``, ``"__dict__"`` with ``"ordered"``, ``"__float__"``) so they come back as
  they went in; ``"hybridgrad.version"`` is the layout version (1);
* ``metadata=`` (str -> str) is stored beside them and read back with :func:`read_metadata`.

A file without ``hybridgrad.structure`` (foreign safetensors) loads as an OrderedDict of
tensors in storage order. BF16 tensors (common in PyTorch checkpoints) are widened to float32.

Saving is atomic: the bytes go to a temporary file in the same directory, which is flushed and
fsync'ed, then ``os.replace``'d over the target, then the directory is fsync'ed; an interrupted
save leaves the previous checkpoint untouched. Loading checks the header length against the
file size, every dtype, shape and byte range before decoding; a truncated, foreign or corrupt
file raises :class:`CheckpointError` naming the file.

Example:
    >>> import os, tempfile
    >>> import hybridgrad as hg
    >>> model = hg.nn.Linear(2, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> hg.save({"model": model.state_dict(), "epoch": 3, "config": {"lr": 0.1}}, path)
    >>> checkpoint = hg.load(path)
    >>> checkpoint["epoch"], checkpoint["config"], list(checkpoint["model"])
    (3, {'lr': 0.1}, ['weight', 'bias'])
    >>> hg.nn.Linear(2, 1).load_state_dict(checkpoint["model"])
    IncompatibleKeys(missing_keys=[], unexpected_keys=[])
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from hybridgrad.tensor import Tensor

STRUCTURE_KEY = "hybridgrad.structure"
VERSION_KEY = "hybridgrad.version"
LAYOUT_VERSION = "1"
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit
# PyTorch's pre-1.6 checkpoints start with this pickled magic number (refused with advice).
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

_DTYPES = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"),  # widened to float32 on load
}


class CheckpointError(ValueError):
    """A file that is not a readable hybridgrad/safetensors checkpoint (truncated, corrupt...)."""


# ----------------------------------------------------------------------------------------------
# Saving.

class _Flattener:
    def __init__(self) -> None:
        self.tensors: dict[str, np.ndarray] = {}
        self._keys_by_id: dict[int, str] = {}

    def _store(self, array: np.ndarray, path: tuple, tag: str, identity: int) -> dict:
        if identity in self._keys_by_id:
            return {tag: self._keys_by_id[identity]}
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise TypeError(f"hg.save: cannot store an array of dtype {array.dtype} at "
                            f"{_show(path)}; safetensors holds bool, integer and float arrays")
        key = ".".join(str(p) for p in path) or "tensor"
        base, counter = key, 1
        while key in self.tensors:
            counter += 1
            key = f"{base}#{counter}"
        # np.require, not np.ascontiguousarray: the latter turns 0-d arrays (BatchNorm's
        # num_batches_tracked, optimizer step counts) into shape (1,).
        self.tensors[key] = np.require(array.astype(array.dtype.newbyteorder("<"), copy=False),
                                       requirements="C")
        self._keys_by_id[identity] = key
        return {tag: key}

    def encode(self, value: Any, path: tuple) -> Any:
        if isinstance(value, Tensor):
            return self._store(value._array, path, "__tensor__", id(value))
        if isinstance(value, np.ndarray):
            return self._store(value, path, "__ndarray__", id(value))
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return {"__float__": repr(value)}
        if isinstance(value, list):
            return [self.encode(item, path + (i,)) for i, item in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(item, path + (i,)) for i, item in enumerate(value)]}
        if isinstance(value, dict):
            plain = type(value) is dict and all(
                isinstance(k, str) and not k.startswith("__") for k in value)
            if plain:
                return {k: self.encode(v, path + (k,)) for k, v in value.items()}
            items = []
            for k, v in value.items():
                if not (k is None or isinstance(k, (str, int, float, bool, np.integer))):
                    raise TypeError(f"hg.save: dict key {k!r} of type {type(k).__name__} at "
                                    f"{_show(path)} is not supported; keys must be str, int, "
                                    "float, bool or None")
                items.append([self.encode(k, path + ("key",)), self.encode(v, path + (k,))])
            return {"__dict__": items, "ordered": isinstance(value, OrderedDict)}
        if hasattr(value, "state_dict") and hasattr(value, "named_parameters"):
            raise TypeError(
                f"hg.save: cannot store the whole module {type(value).__name__} at "
                f"{_show(path)}: hybridgrad writes safetensors and never pickles code or "
                f"objects. Save model.state_dict() (PyTorch's recommended form) and rebuild the "
                f"model with load_state_dict(hg.load(file)) when you read it")
        raise TypeError(f"hg.save: cannot store a value of type {type(value).__name__} at "
                        f"{_show(path)}; checkpoints hold tensors, NumPy arrays, dicts, lists, "
                        "tuples, str, int, float, bool and None (no pickling)")


def _show(path: tuple) -> str:
    return "the root" if not path else "'" + ".".join(str(p) for p in path) + "'"


def save(obj: Any, path, metadata: dict | None = None, **pickle_options) -> None:
    """Write ``obj`` (a state_dict, a dict of tensors or a nested checkpoint) to a safetensors
    file, atomically. See the module docstring for the layout. ``path`` may also be a binary
    file object (written, not closed); PyTorch's pickling options (``pickle_protocol``...) are
    accepted and ignored. A whole ``nn.Module`` is refused with the advice to save its
    ``state_dict()``: a safetensors file holds no code.

    Example:
        >>> import os, tempfile
        >>> import hybridgrad as hg
        >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
        >>> hg.save({"w": hg.ones(2)}, path, metadata={"note": "demo"})
        >>> hg.load(path)["w"].tolist(), read_metadata(path)
        ([1.0, 1.0], {'note': 'demo'})
    """
    import safetensors.numpy

    user = dict(metadata or {})
    for key, value in user.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"hg.save: metadata must map str to str, got {key!r}: "
                            f"{type(value).__name__}")
        if key.startswith("hybridgrad."):
            raise ValueError(f"hg.save: metadata key {key!r} is reserved (prefix 'hybridgrad.')")
    flattener = _Flattener()
    structure = flattener.encode(obj, ())
    header = dict(user)
    header[STRUCTURE_KEY] = json.dumps(structure, allow_nan=False, separators=(",", ":"))
    header[VERSION_KEY] = LAYOUT_VERSION
    payload = safetensors.numpy.save(flattener.tensors, metadata=header)
    if hasattr(path, "write") and not isinstance(path, (str, os.PathLike)):
        path.write(payload)  # torch.save(obj, file_object): the caller owns the file
        return
    atomic_write_bytes(path, payload)


def atomic_write_bytes(path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves either the old or the new file.

    Temporary file in the same directory, fsync, ``os.replace``, fsync of the directory.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "f.bin")
        >>> atomic_write_bytes(path, b"abc"); open(path, "rb").read()
        b'abc'
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save {path}: directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    # Test hook of the crash-safety harness (tools/crash_test.py): pause half-way through the
    # write so that a kill lands inside it.
    pause = float(os.environ.get("HYBRIDGRAD_TEST_WRITE_PAUSE") or 0)
    try:
        with os.fdopen(handle, "wb") as out:
            if pause > 0:
                out.write(payload[:len(payload) // 2])
                out.flush()
                import time

                time.sleep(pause)
                payload = payload[len(payload) // 2:]
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(descriptor)


# ----------------------------------------------------------------------------------------------
# Loading.

def _read_checked(path: Path) -> tuple[dict, dict, memoryview, bytes]:
    """Parse and validate the header; returns (entries, metadata, data bytes, whole file)."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError as error:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file") from error
    size = len(raw)
    if size < 8:
        raise CheckpointError(f"{path}: not a safetensors checkpoint: {size} bytes, shorter than "
                              "the 8-byte header length (empty or truncated file)")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if header_length > size - 8:
        raise CheckpointError(f"{path}: truncated or not a safetensors checkpoint: the header "
                              f"length field says {header_length} bytes but only {size - 8} "
                              "bytes follow it")
    if header_length > _MAX_HEADER:
        raise CheckpointError(f"{path}: not a safetensors checkpoint: header length "
                              f"{header_length} exceeds the format's 100 MB limit")
    try:
        header = json.loads(raw[8:8 + header_length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: not a safetensors checkpoint (corrupt or foreign file): "
                              f"its header is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors checkpoint: the header is a "
                              f"{type(header).__name__}, not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: corrupt safetensors header: __metadata__ must map "
                              "strings to strings")
    data = memoryview(raw)[8 + header_length:]  # no copy of the (large) data section
    end_of_data = 0
    for name, entry in header.items():
        problem = _entry_problem(entry, len(data))
        if problem:
            raise CheckpointError(f"{path}: corrupt or truncated checkpoint: tensor {name!r} "
                                  f"{problem}")
        end_of_data = max(end_of_data, entry["data_offsets"][1])
    if end_of_data != len(data):
        raise CheckpointError(f"{path}: corrupt checkpoint: the tensors cover {end_of_data} "
                              f"bytes but {len(data)} bytes of data follow the header")
    return header, metadata, data, raw


def _entry_problem(entry: Any, data_size: int) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        return f"has a malformed header entry {entry!r}"
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        return f"has dtype {dtype!r}, which hybridgrad cannot read"
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return f"has an invalid shape {shape!r}"
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        return f"has invalid data offsets {offsets!r}"
    if offsets[1] > data_size:
        return (f"ends at byte {offsets[1]} of the data section, which holds only {data_size} "
                "bytes (the file is truncated)")
    expected = math.prod(shape) * _DTYPES[dtype].itemsize
    if offsets[1] - offsets[0] != expected:
        return (f"of shape {shape} and dtype {dtype} needs {expected} bytes but its byte range "
                f"{offsets} holds {offsets[1] - offsets[0]}")
    return None


def _decode_arrays(path: Path, header: dict, data: memoryview, raw_payload: bytes) -> dict:
    if all(entry["dtype"] != "BF16" for entry in header.values()):
        import safetensors.numpy

        try:
            arrays = safetensors.numpy.load(raw_payload)
        except Exception as error:  # noqa: BLE001 - report any decoder failure with the path
            raise CheckpointError(f"{path}: corrupt checkpoint: {error}") from error
    else:
        arrays = {}
        for name, entry in header.items():
            start, end = entry["data_offsets"]
            array = np.frombuffer(data, dtype=_DTYPES[entry["dtype"]], count=(end - start)
                                  // _DTYPES[entry["dtype"]].itemsize, offset=start)
            if entry["dtype"] == "BF16":
                array = (array.astype(np.uint32) << 16).view(np.float32)
            arrays[name] = array.reshape(entry["shape"])
    out = {}
    for name, array in arrays.items():
        array = array.astype(array.dtype.newbyteorder("="), copy=False)
        # safetensors hands back views of a private buffer: writable ones are ours to keep.
        out[name] = array if array.flags.writeable else array.copy()
    return out


def load(path, map_location=None, weights_only: bool | None = None, **pickle_options) -> Any:
    """Read a checkpoint written by :func:`save` (or any safetensors file) back, with
    hybridgrad tensors. Never unpickles arbitrary objects.

    ``path`` may also be a binary file object, and a PyTorch ``.pt``/``.pth`` zip checkpoint
    (``torch.save``'s format) is read too, by :mod:`hybridgrad.torch_checkpoint`'s restricted
    unpickler (PyTorch's ``weights_only=True`` rule, whatever ``weights_only`` says: hybridgrad
    never runs code from a file). ``map_location`` is accepted as PyTorch's is; everything
    loads on the CPU.

    Example:
        >>> import os, tempfile
        >>> import numpy as np, safetensors.numpy
        >>> import hybridgrad as hg
        >>> path = os.path.join(tempfile.mkdtemp(), "torch_style.safetensors")
        >>> safetensors.numpy.save_file({"0.weight": np.ones((1, 2), np.float32),
        ...                              "0.bias": np.zeros(1, np.float32)}, path)
        >>> model = hg.nn.Sequential(hg.nn.Linear(2, 1))
        >>> model.load_state_dict(hg.load(path))
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    """
    _check_map_location(map_location)
    if not isinstance(path, (str, os.PathLike)):
        if not hasattr(path, "read"):
            raise TypeError(f"hg.load: expected a path or a binary file object, got "
                            f"{type(path).__name__}")
        return _load_bytes(path.read(), str(getattr(path, "name", "<file object>")))
    path = Path(path)
    if _starts_with(path, b"PK\x03\x04") or _starts_with(path, _TORCH_LEGACY_MAGIC):
        from hybridgrad.torch_checkpoint import load_torch_checkpoint

        return load_torch_checkpoint(path)
    header, metadata, data, raw = _read_checked(path)
    return _rebuild(path, header, metadata, data, raw)


def _starts_with(path: Path, prefix: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(prefix)) == prefix
    except OSError:
        return False  # _read_checked reports the problem with its own message


def _check_map_location(map_location) -> None:
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return
    text = str(map_location)
    if not (text == "cpu" or text.startswith("cpu:") or text.startswith("cuda")
            or text in ("meta", "mps")):
        raise ValueError(f"hg.load: map_location={map_location!r} is not a device; "
                         "hybridgrad loads everything on the CPU")


def _load_bytes(raw: bytes, name: str) -> Any:
    """Load from bytes (a file object's content): a PyTorch zip checkpoint or safetensors."""
    if raw[:4] == b"PK\x03\x04" or raw.startswith(_TORCH_LEGACY_MAGIC):
        from hybridgrad.torch_checkpoint import load_torch_checkpoint

        return load_torch_checkpoint(_NamedBytes(raw, name))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.safetensors"
        path.write_bytes(raw)
        try:
            header, metadata, data, raw_copy = _read_checked(path)
            return _rebuild(path, header, metadata, data, raw_copy)
        except CheckpointError as error:
            raise CheckpointError(str(error).replace(str(path), name)) from None


class _NamedBytes:
    def __init__(self, raw: bytes, name: str):
        self.raw, self.name = raw, name

    def read(self) -> bytes:
        return self.raw


def _rebuild(path: Path, header: dict, metadata: dict, data, raw) -> Any:
    arrays = _decode_arrays(path, header, data, raw)
    structure = metadata.get(STRUCTURE_KEY)
    if structure is None:
        ordered = sorted(header, key=lambda name: header[name]["data_offsets"][0])
        return OrderedDict((name, Tensor._wrap(arrays[name])) for name in ordered)
    try:
        skeleton = json.loads(structure)
    except (json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: corrupt checkpoint: the '{STRUCTURE_KEY}' metadata is "
                              f"not JSON ({error})") from error
    try:
        return _Rebuilder(path, arrays).decode(skeleton)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            RecursionError) as error:  # a structure that save() cannot have written
        raise CheckpointError(f"{path}: corrupt checkpoint: its '{STRUCTURE_KEY}' metadata is "
                              f"malformed ({type(error).__name__}: {error})") from None


def read_metadata(path) -> dict:
    """The user metadata stored with :func:`save` (without hybridgrad's own keys).

    Example:
        >>> import os, tempfile
        >>> import hybridgrad as hg
        >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
        >>> hg.save({}, path, metadata={"commit": "abc123"}); read_metadata(path)
        {'commit': 'abc123'}
    """
    path = Path(path)
    _, metadata, _, _ = _read_checked(path)
    return {k: v for k, v in metadata.items() if not k.startswith("hybridgrad.")}


class _Rebuilder:
    def __init__(self, path: Path, arrays: dict):
        self.path = path
        self.arrays = arrays
        self.tensors: dict[str, Tensor] = {}

    def _array(self, key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise CheckpointError(f"{self.path}: corrupt checkpoint: the structure refers to "
                                  f"tensor {key!r}, which the file does not hold")
        return self.arrays[key]

    def decode(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        if not isinstance(node, dict):
            return node
        if not any(key.startswith("__") for key in node):
            return {key: self.decode(value) for key, value in node.items()}
        if "__tensor__" in node:
            key = node["__tensor__"]
            if key not in self.tensors:  # shared tensors come back shared
                self.tensors[key] = Tensor._wrap(self._array(key))
            return self.tensors[key]
        if "__ndarray__" in node:
            return self._array(node["__ndarray__"])
        if "__float__" in node:
            return float(node["__float__"])
        if "__tuple__" in node:
            return tuple(self.decode(item) for item in node["__tuple__"])
        if "__dict__" in node:
            pairs = [(self._key(self.decode(k)), self.decode(v)) for k, v in node["__dict__"]]
            return OrderedDict(pairs) if node.get("ordered") else dict(pairs)
        raise CheckpointError(f"{self.path}: corrupt checkpoint: unknown structure tag in "
                              f"{sorted(node)}")

    @staticmethod
    def _key(key: Any) -> Any:
        return tuple(key) if isinstance(key, list) else key
