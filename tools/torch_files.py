"""A minimal writer of PyTorch's zip checkpoint format, without PyTorch, for the tests and the
fuzzer of :mod:`hybridgrad.torch_checkpoint` (whose docstring describes the format).

The pickle is written opcode by opcode (protocol 2, no memo), so a test can say exactly which
globals and calls a file contains -- including hostile ones (``os.system``) that Python's own
pickler would only write for objects that really exist.

Example:
    >>> import io
    >>> import numpy as np
    >>> from hybridgrad.torch_checkpoint import load_torch_checkpoint
    >>> data = state_dict_file({"weight": np.eye(2, dtype=np.float32)})
    >>> load_torch_checkpoint(io.BytesIO(data))["weight"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

STORAGE_TYPES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
                 np.dtype(np.int32): "IntStorage", np.dtype(np.int16): "ShortStorage",
                 np.dtype(np.int8): "CharStorage", np.dtype(np.uint8): "ByteStorage",
                 np.dtype(np.bool_): "BoolStorage"}


@dataclass
class Global:
    """``module.name`` as the pickle's GLOBAL opcode."""

    module: str
    name: str


@dataclass
class Call:
    """``function(*args)`` (REDUCE)."""

    function: object
    args: tuple = ()


@dataclass
class Storage:
    """A persistent id ``("storage", torch.<type>, key, location, numel)``."""

    type_name: str
    key: str
    numel: int
    location: str = "cpu"


@dataclass
class Build:
    """``obj`` with its state set (BUILD)."""

    obj: object
    state: object


@dataclass
class Raw:
    """Opcodes written as given."""

    data: bytes


def encode(value) -> bytes:
    """The opcodes that push ``value`` on the unpickler's stack.

    Example:
        >>> import pickle
        >>> pickle.loads(b"\\x80\\x02" + encode([1, "a", (2.5, None)]) + b".")
        [1, 'a', (2.5, None)]
    """
    if isinstance(value, Raw):
        return value.data
    if value is None:
        return b"N"
    if value is True:
        return b"\x88"
    if value is False:
        return b"\x89"
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return b"J" + struct.pack("<i", value)
        raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw
    if isinstance(value, float):
        return b"G" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"X" + struct.pack("<I", len(raw)) + raw
    if isinstance(value, Global):
        return b"c" + value.module.encode() + b"\n" + value.name.encode() + b"\n"
    if isinstance(value, Call):
        return encode(value.function) + encode(tuple(value.args)) + b"R"
    if isinstance(value, Storage):
        pid = ("storage", Global("torch", value.type_name), value.key, value.location,
               value.numel)
        return encode(pid) + b"Q"
    if isinstance(value, Build):
        return encode(value.obj) + encode(value.state) + b"b"
    if isinstance(value, tuple):
        return b"(" + b"".join(encode(item) for item in value) + b"t"
    if isinstance(value, list):
        return b"]" + (b"(" + b"".join(encode(item) for item in value) + b"e" if value else b"")
    if isinstance(value, OrderedDict):
        return encode(Call(Global("collections", "OrderedDict"))) + _items(value)
    if isinstance(value, dict):
        return b"}" + _items(value)
    raise TypeError(f"encode: cannot write a {type(value).__name__}")


def _items(mapping: dict) -> bytes:
    if not mapping:
        return b""
    return b"(" + b"".join(encode(k) + encode(v) for k, v in mapping.items()) + b"u"


def pickle_bytes(value) -> bytes:
    """A whole protocol-2 pickle of ``value``.

    Example:
        >>> import pickle
        >>> pickle.loads(pickle_bytes({"a": 1}))
        {'a': 1}
    """
    return b"\x80\x02" + encode(value) + b"."


def tensor(array: np.ndarray, key: str, storages: dict, parameter: bool = False,
           byteorder: str = "little"):
    """The rebuild call of ``array`` (C order) over storage ``key``, its bytes added to
    ``storages``.

    Example:
        >>> storages = {}; call = tensor(np.zeros(3, np.float32), "0", storages)
        >>> call.function.name, len(storages["0"])
        ('_rebuild_tensor_v2', 12)
    """
    array = np.ascontiguousarray(array)
    order = "<" if byteorder == "little" else ">"
    storages[key] = array.astype(array.dtype.newbyteorder(order)).tobytes()
    strides = tuple(s // array.itemsize for s in array.strides)
    call = Call(Global("torch._utils", "_rebuild_tensor_v2"),
                (Storage(STORAGE_TYPES[array.dtype], key, array.size), 0, tuple(array.shape),
                 strides, False, OrderedDict()))
    if parameter:
        call = Call(Global("torch._utils", "_rebuild_parameter"), (call, True, OrderedDict()))
    return call


def zip_file(pickled: bytes, storages: dict, folder: str = "archive",
             byteorder: str | None = "little") -> bytes:
    """The zip archive ``torch.save`` writes around a pickle and its storages.

    Example:
        >>> zip_file(pickle_bytes(1), {})[:4]
        b'PK\\x03\\x04'
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", pickled)
        if byteorder is not None:
            archive.writestr(f"{folder}/byteorder", byteorder)
        for key, data in storages.items():
            archive.writestr(f"{folder}/data/{key}", data)
        archive.writestr(f"{folder}/version", "3\n")
    return buffer.getvalue()


def state_dict_file(arrays: dict, folder: str = "archive", byteorder: str = "little") -> bytes:
    """A checkpoint holding ``OrderedDict(name -> tensor)``, as
    ``torch.save(model.state_dict(), f)`` writes it (with the ``_metadata`` attribute).

    Example:
        >>> state_dict_file({"b": np.ones(1, np.float32)})[:2]
        b'PK'
    """
    storages: dict = {}
    entries = OrderedDict((name, tensor(array, str(index), storages, byteorder=byteorder))
                          for index, (name, array) in enumerate(arrays.items()))
    with_metadata = Build(entries, {"_metadata": OrderedDict({"": {"version": 1}})})
    return zip_file(pickle_bytes(with_metadata), storages, folder, byteorder)
