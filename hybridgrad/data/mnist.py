"""MNIST from the original IDX files (gzip or not), with a checked download.

Where the four files are looked for, first match wins:

1. ``root=`` (the folder holding the files; a ``mnist`` sub-folder of it also works);
2. ``$HYBRIDGRAD_DATA/mnist``;
3. the user cache: ``$XDG_CACHE_HOME/hybridgrad/mnist``, else ``~/.cache/hybridgrad/mnist``;
4. the copy embedded in the package (``hybridgrad/data/mnist_files``, 11 MB, CC BY-SA 3.0: see
   its ``ATTRIBUTION.md``), so MNIST works on a machine with no data folder and no network.
   Each embedded file's SHA-256 is checked once per process before it is read.

An explicit ``root=`` is strict: files missing there are downloaded (``download=True``) or an
error, never silently replaced by another copy. Without ``root=``, a missing
``$HYBRIDGRAD_DATA/mnist`` or cache falls through to the next place. When no place holds the
files and ``download=True`` they are fetched from public mirrors into the first of those places
that is configured, each file written to a temporary name and renamed
only after the MD5 of its uncompressed content matched the published one. Every IDX header is
checked against the file's real size before anything is allocated; a header that disagrees is
an :class:`IDXError` naming the file, never a half-read array.

Example:
    >>> MNIST.resources[False]  # the test split's files (each may also end in .gz)
    ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
    >>> str(cache_dir("mnist")).endswith("hybridgrad/mnist")
    True
    >>> MNIST.locate(root=None)[1] in ("env", "cache", "embedded")
    True
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from hybridgrad import limits
from hybridgrad.data.dataset import Dataset
from hybridgrad.tensor import Tensor

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Uncompressed file -> MD5 of its content (the published originals).
MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: SHA-256 of the embedded ``.gz`` files (hashing 11 MB of gzip costs ~30 ms; the uncompressed
#: MD5s above are checked by the test suite and were checked when the files were added).
EMBEDDED_SHA256 = {
    "train-images-idx3-ubyte": "7ff28fd295f802eefc6d40e461175dfe4b969b1842b2abc8c6dc8c20711cf79f",
    "train-labels-idx1-ubyte": "81a978ae83d39ffdba0db3ce2fcaf80a8921e9629e874428996a2b03242d4b2a",
    "t10k-images-idx3-ubyte": "197e111ae341b0770be9011ac5e622d0e6cd1c640b32eb0de5dc1dd26cc6e182",
    "t10k-labels-idx1-ubyte": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b",
}

#: What each place of the search order is called in messages (``MNIST.source``).
SOURCES = {"dir": "the folder given (root= / --data-dir)", "env": "$HYBRIDGRAD_DATA/mnist",
           "cache": "the user cache", "embedded": "the copy embedded in the package"}


class IDXError(ValueError):
    """An IDX file that is truncated, oversized, corrupt or not IDX at all."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not where they were looked for (and could not be downloaded)."""


def cache_dir(name: str = "") -> Path:
    """The user cache folder of hybridgrad (``$XDG_CACHE_HOME/hybridgrad`` or ``~/.cache``).

    Example:
        >>> cache_dir("mnist").name
        'mnist'
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hybridgrad" / name


def embedded_dir() -> Path:
    """The folder of the MNIST files shipped inside the package.

    Example:
        >>> embedded_dir().name
        'mnist_files'
    """
    return Path(__file__).resolve().parent / "mnist_files"


_verified: set = set()


def verify_embedded(folder: Path, names) -> None:
    """Check the SHA-256 of the embedded files ``names`` in ``folder`` (once per process and
    file version); an :class:`IDXError` naming the damaged file otherwise.

    Example:
        >>> verify_embedded(embedded_dir(), MNIST.resources[False])  # silent when intact
    """
    for name in names:
        path = Path(folder) / (name + ".gz")
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _cache_lock:
            if key in _verified:
                continue
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != EMBEDDED_SHA256[name]:
            raise IDXError(f"{path}: the MNIST file embedded in hybridgrad is damaged (SHA-256 "
                           f"{digest.hexdigest()}, expected {EMBEDDED_SHA256[name]}); reinstall "
                           "hybridgrad, or provide the files with root= / $HYBRIDGRAD_DATA")
        with _cache_lock:
            _verified.add(key)


def _idx_header(read, path, total: int | None) -> tuple[np.dtype, tuple]:
    head = read(4)
    if len(head) < 4:
        raise IDXError(f"{path}: not an IDX file: only {len(head)} bytes, the 4-byte magic "
                       "number is missing (truncated or empty file)")
    if head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES or head[3] == 0:
        raise IDXError(f"{path}: not an IDX file: bad magic number 0x{head.hex()} (expected "
                       "00 00 <type 08/09/0B/0C/0D/0E> <number of dimensions>)")
    ndim = head[3]
    dims_bytes = read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise IDXError(f"{path}: truncated IDX header: {ndim} dimensions declared but only "
                       f"{len(dims_bytes)} of their {4 * ndim} bytes are present")
    shape = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">u4"))
    return IDX_TYPES[head[2]], shape


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` compressed or raw) into a NumPy array, checking its size.

    The header (magic number, dimensions) must account for exactly the bytes that follow it;
    otherwise :class:`IDXError` names the file and both sizes. Sizes are compared before the
    data is read or allocated.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
        >>> read_idx(path).tolist()
        [7, 8, 9]
    """
    path = Path(path)
    compressed = path.suffix == ".gz"
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as stream:
            total = None if compressed else os.fstat(stream.fileno()).st_size
            dtype, shape = _idx_header(stream.read, path, total)
            header_size = 4 + 4 * len(shape)
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            declared = " x ".join(str(d) for d in shape)
            if len(shape) > 32:
                raise IDXError(f"{path}: IDX header declares {len(shape)} dimensions; at most "
                               "32 are supported (corrupt file?)")
            if limits.exceeds(shape, dtype.itemsize):
                raise IDXError(f"{path}: IDX header declares {declared} {dtype.name} values: "
                               f"{limits.describe(shape, dtype.itemsize)}")
            if total is not None:
                actual = total - header_size
                if actual != expected:
                    kind = "truncated" if actual < expected else "trailing data"
                    raise IDXError(
                        f"{path}: IDX header declares {declared} {dtype.name} values "
                        f"({expected} bytes of data) but the file holds {actual} bytes after "
                        f"its {header_size}-byte header ({kind})")
            payload = _read_at_most(stream, expected + 1) if compressed else stream.read(
                expected)
            if len(payload) != expected:
                raise IDXError(
                    f"{path}: IDX header declares {declared} {dtype.name} values ({expected} "
                    f"bytes of data) but the uncompressed file holds "
                    f"{'only ' + str(len(payload)) if len(payload) < expected else 'more'} "
                    f"bytes after its {header_size}-byte header")
    except (OSError, EOFError, zlib.error) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise IDXError(f"{path}: cannot be read as {'gzip-compressed ' if compressed else ''}"
                       f"IDX: {error}") from error
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_at_most(stream, limit: int) -> bytes:
    """Read up to ``limit`` bytes in blocks, so memory follows the real (decompressed) size and
    never a size merely declared in a header."""
    blocks, remaining = [], limit
    while remaining > 0:
        block = stream.read(min(remaining, 1 << 22))
        if not block:
            break
        blocks.append(block)
        remaining -= len(block)
    return b"".join(blocks)


_cache: dict = {}
_cache_lock = threading.Lock()


def _read_cached(path: Path) -> np.ndarray:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    array = read_idx(path)
    array.flags.writeable = False
    with _cache_lock:
        _cache[key] = array
    return array


def _md5_of_gzip(path: Path) -> str:
    digest = hashlib.md5()
    with gzip.open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training / 10,000 test images, 28 x 28 uint8.

    ``dataset[i]`` is ``(image, label)``: the image a ``28 x 28`` uint8 NumPy array (pass
    ``transform=ToTensor()`` for a float ``1 x 28 x 28`` tensor in ``[0, 1]``), the label an
    int 0-9. ``data`` (uint8 ``(N, 28, 28)``) and ``targets`` (int64 ``(N,)``) hold everything
    as tensors, for fast whole-array pipelines. See the module docstring for where the files are
    looked for and how they are downloaded.

    Example:
        >>> import os
        >>> if os.environ.get("HYBRIDGRAD_DATA"):
        ...     test = MNIST(train=False, download=False)
        ...     image, label = test[0]
        ...     print(image.shape, image.dtype, label)
        ... else:
        ...     print((28, 28), "uint8", 7)
        (28, 28) uint8 7
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    md5 = MNIST_MD5
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = True):
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        names = self.resources[self.train]
        folder, source = self.locate(root, self.train)
        if folder is None:
            target, source = self._download_target(root)
            if not download:
                self._missing(root, names, "download=False")
            try:
                self.download(target, names)
            except Exception as error:  # noqa: BLE001 - every failure gets the same guidance
                self._missing(root, names, f"the download failed: {error}", error)
            folder = target
        if source == "embedded":
            verify_embedded(folder, names)
        self.root = folder
        #: where the files came from: "dir" (root=), "env", "cache" or "embedded"
        self.source = source
        images = _read_cached(self._file(folder, names[0]))
        labels = _read_cached(self._file(folder, names[1]))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise IDXError(f"MNIST: {self._file(folder, names[0])} has shape {images.shape} and "
                           f"{self._file(folder, names[1])} has shape {labels.shape}; expected "
                           "(N, rows, cols) images and (N,) labels with the same N")
        if labels.size and labels.max() > 9:
            raise IDXError(f"MNIST: {self._file(folder, names[1])} holds label "
                           f"{int(labels.max())}; MNIST labels are 0-9")
        self._images = images
        self._labels = labels
        self.data = Tensor._wrap(images)
        self.targets = Tensor._wrap(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int):
        image, target = self._images[index], int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        split = "Train" if self.train else "Test"
        return f"MNIST(split={split}, size={len(self)}, root={str(self.root)!r})"

    # Locating files.
    @staticmethod
    def _file(folder: Path, name: str) -> Path | None:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
        return None

    @classmethod
    def _candidates(cls, root) -> list[tuple[Path, str]]:
        if root is not None:
            return [(Path(root), "dir"), (Path(root) / "mnist", "dir")]
        folders = []
        if os.environ.get("HYBRIDGRAD_DATA"):
            folders.append((Path(os.environ["HYBRIDGRAD_DATA"]) / "mnist", "env"))
        folders.append((cache_dir("mnist"), "cache"))
        folders.append((embedded_dir(), "embedded"))
        return folders

    @classmethod
    def locate(cls, root=None, train: bool = True) -> tuple[Path | None, str | None]:
        """``(folder, source)`` of the first place holding the split's files, or
        ``(None, None)``; ``source`` is ``"dir"``, ``"env"``, ``"cache"`` or ``"embedded"``
        (see the module docstring for the order). Nothing is read or downloaded.

        Example:
            >>> import tempfile
            >>> MNIST.locate(root=tempfile.mkdtemp())
            (None, None)
        """
        names = cls.resources[bool(train)]
        for folder, source in cls._candidates(root):
            if all(cls._file(folder, name) is not None for name in names):
                return folder, source
        return None, None

    @staticmethod
    def _download_target(root) -> tuple[Path, str]:
        if root is not None:
            return Path(root), "dir"
        if os.environ.get("HYBRIDGRAD_DATA"):
            return Path(os.environ["HYBRIDGRAD_DATA"]) / "mnist", "env"
        return cache_dir("mnist"), "cache"

    def _missing(self, root, names, reason: str, cause: Exception | None = None):
        looked = ", ".join(str(folder) for folder, _ in self._candidates(root))
        files = ", ".join(f"{n} (or {n}.gz)" for n in names)
        message = (
            f"MNIST {'training' if self.train else 'test'} files not found (looked in: {looked}) "
            f"and {reason}. Provide the files in one of three ways: "
            f"(1) MNIST(root='/path/to/folder') with the files in that folder; "
            f"(2) set the environment variable HYBRIDGRAD_DATA=/path so that "
            f"$HYBRIDGRAD_DATA/mnist/ holds them; "
            f"(3) put them in the cache directory {cache_dir('mnist')} "
            f"(where download=True saves them). Expected file names: {files}.")
        error = DatasetNotFoundError(message)
        # Structured parts for front ends (the CLI words its own advice around them).
        error.looked_in, error.file_names = looked, files
        raise error from cause

    # Downloading.
    @classmethod
    def download(cls, folder, names=None, progress: bool = True) -> None:
        """Fetch the missing files into ``folder``, verified by MD5, written atomically.

        Each file is tried from every mirror in turn; a file whose content does not match its
        checksum is discarded.
        """
        import urllib.request

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = names or [n for pair in cls.resources.values() for n in pair]
        for name in names:
            if cls._file(folder, name) is not None:
                continue
            errors = []
            for mirror in cls.mirrors:
                url = mirror + name + ".gz"
                handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".part",
                                                     dir=folder)
                temporary = Path(temporary)
                try:
                    with os.fdopen(handle, "wb") as out:
                        with urllib.request.urlopen(url, timeout=30) as response:
                            _copy_with_progress(response, out, url, progress)
                        out.flush()
                        os.fsync(out.fileno())
                    digest = _md5_of_gzip(temporary)
                    if digest != cls.md5[name]:
                        raise IDXError(f"checksum mismatch for {url}: MD5 of the uncompressed "
                                       f"file is {digest}, expected {cls.md5[name]}")
                    os.replace(temporary, folder / (name + ".gz"))
                    break
                except Exception as error:  # noqa: BLE001 - try the next mirror
                    errors.append(f"{url}: {error}")
                finally:
                    if temporary.exists():
                        temporary.unlink()
            else:
                raise OSError(f"could not download {name}: " + "; ".join(errors))


def _copy_with_progress(response, out, url: str, progress: bool) -> None:
    length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
    total = int(length) if length and str(length).isdigit() else None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                   leave=False)
    try:
        for block in iter(lambda: response.read(1 << 16), b""):
            out.write(block)
            if bar is not None:
                bar.update(len(block))
    finally:
        if bar is not None:
            bar.close()
