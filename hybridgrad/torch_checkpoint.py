"""Read PyTorch's ``.pt``/``.pth`` checkpoints safely: the zip format of ``torch.save``
(PyTorch 1.6 and later), through a restricted unpickler that never imports or calls anything
but the tensor-rebuilding steps.

The format (what ``torch.save(obj, f)`` writes): a zip archive, entries stored uncompressed,
all inside one top-level folder (``archive/`` in recent PyTorch, the file's stem in older):

* ``archive/data.pkl``: ``obj`` pickled (protocol 2). Each tensor is the call
  ``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
  backward_hooks[, metadata])`` and each ``nn.Parameter``
  ``torch._utils._rebuild_parameter(tensor, requires_grad, backward_hooks)``; a storage is a
  persistent id ``("storage", torch.FloatStorage, "0", "cpu", numel)`` (type, key, device,
  number of elements) loaded by ``persistent_load``; a ``state_dict`` is a
  ``collections.OrderedDict`` (with a ``_metadata`` attribute set by BUILD);
* ``archive/data/<key>``: the raw bytes of each storage, ``numel * itemsize`` of them;
* ``archive/byteorder``: ``little`` or ``big`` (absent in old files: little);
* ``archive/version``, ``archive/.data/serialization_id``, ...: ignored.

The rule is PyTorch's own ``weights_only=True``: the pickle may name only the rebuild functions
above (and ``_rebuild_parameter_with_state``, ``torch._tensor._rebuild_from_type_v2``),
the storage types (``torch.FloatStorage``...), dtypes (``torch.float32``...), ``torch.Size``,
``torch.device``, ``collections.OrderedDict``, ``_codecs.encode`` (how protocol 2 spells
``bytes``), ``builtins.set``/``frozenset`` and plain containers and numbers. Any other global
(``os.system``, ``builtins.eval``, ``subprocess.Popen``, a model class...) is refused by name
with :class:`UnsafeCheckpointError` *when the unpickler reaches it*, before anything is called:
the callables that do run are this module's own. Every storage size, shape, stride and offset
is checked against the bytes present before an array is made, so a truncated, bit-flipped or
forged file ends in a :class:`TorchCheckpointError` naming the file.

Tensors come back as hybridgrad tensors (``nn.Parameter`` entries as ``hg.nn.Parameter``) with
their own memory: views of one storage that PyTorch would share come back as copies. bfloat16
is widened to float32 (as :func:`hybridgrad.load` does for safetensors). The device a tensor was
saved from (``cuda:0``) does not matter: everything loads on the CPU.

Example:
    >>> import io, zipfile
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as archive:
    ...     archive.writestr("archive/data.pkl", b"\\x80\\x02K\\x07.")  # pickle of the int 7
    >>> load_torch_checkpoint(io.BytesIO(buffer.getvalue()))
    7
"""

from __future__ import annotations

import io
import math
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from hybridgrad.serialization import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"
# The legacy (pre-1.6) format starts with a pickled magic number: protocol 2, LONG1.
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
}
_DTYPE_NAMES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": np.float32, "int64": np.int64,
    "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16, "int8": np.int8,
    "uint8": np.uint8, "bool": np.bool_,
}


class TorchCheckpointError(CheckpointError):
    """A PyTorch checkpoint that cannot be read (truncated, corrupt, unsupported layout).

    Example:
        >>> issubclass(TorchCheckpointError, ValueError)
        True
    """


class UnsafeCheckpointError(TorchCheckpointError):
    """A pickle that names something other than tensors and plain data (``os.system``...):
    refused before it could run.

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     archive.writestr("archive/data.pkl", b"\\x80\\x02cos\\nsystem\\n.")
        >>> try:
        ...     load_torch_checkpoint(io.BytesIO(buffer.getvalue()))
        ... except UnsafeCheckpointError as error:
        ...     print("refused", "os.system" in str(error))
        refused True
    """


class _Storage:
    """A storage read from ``data/<key>``: a flat array of its dtype."""

    def __init__(self, array: np.ndarray, bfloat16: bool):
        self.array = array
        self.bfloat16 = bfloat16


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    from hybridgrad.tensor import Tensor

    if not isinstance(storage, _Storage):
        raise TorchCheckpointError(f"a tensor is rebuilt from a {type(storage).__name__}, not "
                                   "a storage")
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size + stride) \
            or not isinstance(storage_offset, int) or storage_offset < 0:
        raise TorchCheckpointError(f"invalid tensor layout: size {size}, stride {stride}, "
                                   f"offset {storage_offset!r}")
    flat = storage.array
    count = math.prod(size)
    if count:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise TorchCheckpointError(
                f"a tensor of size {size} and stride {stride} at offset {storage_offset} reaches "
                f"element {last} of a storage holding {flat.size} (corrupt or truncated file)")
        if stride == _contiguous_strides(size):
            # A view of the storage, as PyTorch's tensors are (tensors saved as views of one
            # storage share it again; nothing is copied).
            array = flat[storage_offset:storage_offset + count].reshape(size)
        else:
            view = np.lib.stride_tricks.as_strided(
                flat[storage_offset:], shape=size,
                strides=tuple(s * flat.itemsize for s in stride), writeable=False)
            array = np.array(view)
    else:
        array = np.zeros(size, dtype=flat.dtype)
    if storage.bfloat16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    tensor = Tensor._wrap(array)
    if requires_grad and array.dtype.kind == "f":
        tensor.requires_grad_(True)
    return tensor


def _contiguous_strides(size: tuple) -> tuple:
    strides, step = [], 1
    for extent in reversed(size):
        strides.append(step)
        step *= max(extent, 1)
    return tuple(reversed(strides))


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    from hybridgrad.nn.module import Parameter
    from hybridgrad.tensor import Tensor

    if not isinstance(data, Tensor):
        raise TorchCheckpointError(f"a Parameter is rebuilt from a {type(data).__name__}")
    return Parameter(data, requires_grad=bool(requires_grad))


def _rebuild_from_type(function, new_type, args, state):
    # torch._tensor._rebuild_from_type_v2(func, type, args, state): the tensor, then its type.
    if function not in (_rebuild_tensor, _rebuild_parameter):
        raise TorchCheckpointError("_rebuild_from_type_v2 names a function other than a tensor "
                                   "rebuild")
    tensor = function(*args)
    if new_type is _PARAMETER_TYPE:
        return _rebuild_parameter(tensor, True)
    return tensor


def _size(*args):
    values = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    return tuple(int(v) for v in values)


def _device(*args):
    return str(args[0]) if args else "cpu"


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise TorchCheckpointError("_codecs.encode is only allowed on text (how pickle protocol "
                                   "2 writes bytes)")
    return text.encode(encoding)


def _ordered_dict(*args):
    return OrderedDict(*args)


class _ParameterType:
    """Stands for ``torch.nn.parameter.Parameter`` as an argument inside the pickle."""


class _TensorType:
    """Stands for ``torch.Tensor`` as an argument inside the pickle."""


_PARAMETER_TYPE = _ParameterType
_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): lambda storage, offset, size, stride: _rebuild_tensor(
        storage, offset, size, stride),
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch.nn.parameter", "Parameter"): _ParameterType,
    ("torch", "Tensor"): _TensorType,
    ("torch", "Size"): _size,
    ("torch", "device"): _device,
    ("collections", "OrderedDict"): _ordered_dict,
    ("_codecs", "encode"): _codecs_encode,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
}


class _RestrictedUnpickler(pickle._Unpickler):
    # The Python unpickler, not the C one: its opcode table can be narrowed. BUILD (set an
    # object's state) is allowed on the OrderedDict of a state_dict only (its _metadata), as
    # in PyTorch's weights_only unpickler; pickles hold a few hundred opcodes per tensor, so
    # the speed of the Python loop does not matter beside the tensors' bytes.
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data: bytes, storages, path: str):
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self.storages = storages
        self.path = path

    def _load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if not (isinstance(target, OrderedDict) and isinstance(state, dict)
                and all(isinstance(key, str) for key in state)):
            raise UnsafeCheckpointError(
                f"{self.path}: refused to load: the pickle sets the state of a "
                f"{type(target).__name__} (only a state_dict's OrderedDict may have state)")
        target.__dict__.update(state)

    dispatch[pickle.BUILD[0]] = _load_build

    def _refuse_buffers(self) -> None:
        # Protocol 5's out-of-band buffers: never in torch.save's protocol-2 pickles, and
        # BYTEARRAY8 allocates its declared length before reading it.
        raise TorchCheckpointError(f"{self.path}: unsupported pickle opcode (protocol 5 "
                                   "buffers do not occur in PyTorch checkpoints)")

    for _opcode in (pickle.BYTEARRAY8, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_opcode[0]] = _refuse_buffers
    del _opcode

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        if module in ("torch", "torch.storage") and name in _STORAGE_DTYPES:
            return ("storage-type", name)
        if module == "torch" and name in _DTYPE_NAMES:
            return np.dtype(_DTYPE_NAMES[name])
        raise UnsafeCheckpointError(
            f"{self.path}: refused to load: the pickle names {module}.{name}, which is not a "
            f"tensor, storage or plain container. hybridgrad reads PyTorch checkpoints by "
            f"PyTorch's weights_only=True rule and executes nothing from them; a file holding "
            f"{module}.{name} may be malicious, or holds a whole pickled object (torch.save(model))"
            f": re-save model.state_dict() instead")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
            raise TorchCheckpointError(f"{self.path}: unsupported persistent id {pid!r} (only "
                                       "tensor storages are allowed)")
        _, storage_type, key, _location, numel = pid
        if not (isinstance(storage_type, tuple) and storage_type[0] == "storage-type"):
            raise TorchCheckpointError(f"{self.path}: storage {key!r} has no storage type")
        return self.storages(str(key), storage_type[1], numel)


def _member_name(names: list[str], suffix: str) -> str | None:
    for name in names:
        if name.endswith("/" + suffix) and name.count("/") == suffix.count("/") + 1:
            return name
    return None


def load_torch_checkpoint(source, map_location=None) -> Any:
    """Read a PyTorch zip checkpoint (path or binary file object) with the restricted
    unpickler described in the module docstring. ``map_location`` is accepted and has no
    effect: everything loads on the CPU.

    Example:
        >>> import io, zipfile
        >>> load_torch_checkpoint(io.BytesIO(b"not a zip"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hybridgrad.torch_checkpoint.TorchCheckpointError: <file object>: not a PyTorch zip ...
    """
    if isinstance(source, (str, Path)):
        path = str(source)
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed in the finally below
        except IsADirectoryError as error:
            raise TorchCheckpointError(f"{path}: is a directory, not a checkpoint") from error
    else:
        path = str(getattr(source, "name", "<file object>"))
        handle = source if _seekable(source) else io.BytesIO(source.read())
    try:
        return _load(handle, path)
    finally:
        if handle is not source:
            handle.close()


def _seekable(stream) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _load(handle, path: str) -> Any:
    """Read the opened checkpoint: each zip entry is read once, straight into the buffer its
    arrays use (no copy of the whole file)."""
    start = handle.tell()
    head = handle.read(len(LEGACY_MAGIC))
    size = handle.seek(0, io.SEEK_END) - start
    handle.seek(start)
    if head.startswith(LEGACY_MAGIC):
        raise TorchCheckpointError(
            f"{path}: a PyTorch checkpoint in the legacy format (before PyTorch 1.6, or "
            f"_use_new_zipfile_serialization=False), which hybridgrad does not read: re-save it "
            f"with a recent PyTorch (torch.save(torch.load(f), f2))")
    if not head.startswith(ZIP_MAGIC):
        raise TorchCheckpointError(f"{path}: not a PyTorch zip checkpoint (no zip signature)")
    try:
        archive = zipfile.ZipFile(handle)
        infos = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as error:
        raise TorchCheckpointError(f"{path}: corrupt PyTorch checkpoint: the zip directory is "
                                   f"unreadable ({error})") from None
    names = list(infos)
    pickle_name = _member_name(names, "data.pkl")
    if pickle_name is None:
        raise TorchCheckpointError(f"{path}: not a PyTorch checkpoint: the zip holds no "
                                   f"<folder>/data.pkl (entries: {names[:5]})")
    folder = pickle_name[:-len("data.pkl")]

    def member(name: str) -> bytearray:
        info = infos[name]
        # Stored entries (torch.save's) hold exactly their bytes; a compressed one may expand,
        # but not beyond a bound of the file's size (a forged size is no allocation).
        limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED else 64 * size
        if info.file_size > min(limit, 64 * size):
            raise TorchCheckpointError(f"{path}: corrupt checkpoint: entry {name} declares "
                                       f"{info.file_size} bytes, more than the file can hold")
        buffer = bytearray(info.file_size)
        try:
            with archive.open(info) as stream:
                view, filled = memoryview(buffer), 0
                while filled < len(buffer):
                    count = stream.readinto(view[filled:])
                    if not count:
                        break
                    filled += count
        except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError,
                RuntimeError, zlib_error()) as error:  # RuntimeError: a flag says "encrypted"
            raise TorchCheckpointError(f"{path}: corrupt checkpoint: entry {name} is "
                                       f"unreadable ({error})") from None
        if filled != len(buffer):
            raise TorchCheckpointError(f"{path}: truncated checkpoint: entry {name} holds "
                                       f"{filled} of its {len(buffer)} bytes")
        return buffer

    byteorder = "little"
    if folder + "byteorder" in infos:
        byteorder = member(folder + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise TorchCheckpointError(f"{path}: corrupt checkpoint: byteorder {byteorder!r}")
    loaded: dict[str, _Storage] = {}

    def storage(key: str, type_name: str, numel) -> _Storage:
        if key in loaded:
            return loaded[key]
        name = f"{folder}data/{key}"
        if name not in infos:
            raise TorchCheckpointError(f"{path}: corrupt checkpoint: storage {key!r} is "
                                       f"referenced but {name} is missing")
        kind = _STORAGE_DTYPES[type_name]
        dtype = np.dtype(np.uint16 if kind == "bfloat16" else kind)
        dtype = dtype.newbyteorder("<" if byteorder == "little" else ">")
        data = member(name)
        if not isinstance(numel, int) or numel < 0 or numel * dtype.itemsize > len(data):
            raise TorchCheckpointError(
                f"{path}: corrupt or truncated checkpoint: storage {key!r} declares {numel!r} "
                f"elements of {type_name} but {name} holds {len(data)} bytes")
        array = np.frombuffer(data, dtype=dtype, count=numel)  # writable: data is a bytearray
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        loaded[key] = _Storage(array, kind == "bfloat16")
        return loaded[key]

    unpickler = _RestrictedUnpickler(bytes(member(pickle_name)), storage, path)
    try:
        return unpickler.load()
    except TorchCheckpointError:
        raise
    except (Exception, RecursionError, MemoryError) as error:  # noqa: BLE001 - any decoder
        # failure of a forged pickle (struct.error, KeyError on a memo, TypeError calling a
        # non-function...) is a corrupt file, reported with the path
        raise TorchCheckpointError(f"{path}: corrupt PyTorch checkpoint: its pickle is "
                                   f"unreadable ({type(error).__name__}: {error})") from None


def zlib_error():
    """The zlib module's error class (deflated zip entries raise it when corrupt).

    Example:
        >>> issubclass(zlib_error(), Exception)
        True
    """
    import zlib

    return zlib.error
