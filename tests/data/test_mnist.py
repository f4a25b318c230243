import gzip
import hashlib
import shutil

import numpy as np
import pytest

from hybridgrad.data import MNIST, DataLoader, DatasetNotFoundError, IDXError, read_idx
from hybridgrad.data.mnist import MNIST_MD5
from hybridgrad.data.transforms import ToTensor


def test_mnist_train_and_test_shapes_dtypes_labels(data_root):
    train = MNIST(train=True, download=False)
    test = MNIST(train=False, download=False)
    assert len(train) == 60000 and len(test) == 10000
    image, label = train[0]
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert label == 5  # the famous first training digit
    assert test[0][1] == 7
    assert train.data.shape == (60000, 28, 28) and train.data.dtype == np.uint8
    assert train.targets.dtype == np.int64
    assert train.targets._array.min() == 0 and train.targets._array.max() == 9
    assert np.bincount(test.targets._array).tolist()[:2] == [980, 1135]  # published counts


def test_mnist_files_match_published_md5(data_root):
    for name, digest in MNIST_MD5.items():
        with gzip.open(data_root / "mnist" / f"{name}.gz", "rb") as stream:
            assert hashlib.md5(stream.read()).hexdigest() == digest


def test_mnist_with_transform_in_loader(data_root):
    test = MNIST(train=False, download=False, transform=ToTensor(),
                 target_transform=lambda y: y + 100)
    images, labels = next(iter(DataLoader(test, batch_size=8)))
    assert images.shape == (8, 1, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images._array.min() and images._array.max() <= 1.0
    assert labels.tolist()[0] == 107


def test_root_argument_and_uncompressed_files(tmp_path, data_root):
    for name in MNIST.resources[False]:
        with gzip.open(data_root / "mnist" / f"{name}.gz", "rb") as src:
            (tmp_path / name).write_bytes(src.read())
    test = MNIST(root=tmp_path, train=False, download=False)
    assert len(test) == 10000 and test[0][1] == 7


def test_missing_files_message_names_three_ways(tmp_path, monkeypatch, no_embedded):
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(train=False, download=False)
    message = str(info.value)
    assert "root=" in message and "HYBRIDGRAD_DATA" in message
    assert str(tmp_path / "cache" / "hybridgrad" / "mnist") in message
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "download=False" in message


def test_offline_download_failure_gives_same_guidance(tmp_path, monkeypatch, no_embedded):
    monkeypatch.delenv("HYBRIDGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(MNIST, "mirrors", [(tmp_path / "no-mirror").as_uri() + "/"])
    with pytest.raises(DatasetNotFoundError, match="download failed.*HYBRIDGRAD_DATA"):
        MNIST(train=False, download=True)
    leftovers = list((tmp_path / "cache" / "hybridgrad" / "mnist").iterdir())
    assert leftovers == []  # no partial files


def test_download_from_mirror_checks_md5_and_falls_back(tmp_path, monkeypatch, data_root,
                                                         no_embedded):
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    for name in MNIST.resources[False]:  # right names, wrong content
        with gzip.open(bad / f"{name}.gz", "wb") as out:
            out.write(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    monkeypatch.setattr(MNIST, "mirrors", [bad.as_uri() + "/", (data_root / "mnist").as_uri()
                                           + "/"])
    monkeypatch.delenv("HYBRIDGRAD_DATA")
    test = MNIST(train=False, download=True)
    cache = tmp_path / "cache" / "hybridgrad" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                       "t10k-labels-idx1-ubyte.gz"]
    assert test[0][1] == 7 and len(test) == 10000


def test_download_with_only_bad_mirror_fails_with_checksum(tmp_path, monkeypatch):
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    for name in MNIST.resources[False]:
        with gzip.open(bad / f"{name}.gz", "wb") as out:
            out.write(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")
    monkeypatch.setattr(MNIST, "mirrors", [bad.as_uri() + "/"])
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        MNIST(root=tmp_path / "dest", train=False, download=True)
    assert list((tmp_path / "dest").iterdir()) == []


def _idx(header: bytes, payload: bytes) -> bytes:
    return header + payload


def test_read_idx_raw_and_gzip(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    blob = bytes([0, 0, 8, 3]) + np.array([2, 3, 4], ">u4").tobytes() + data.tobytes()
    (tmp_path / "a-idx3-ubyte").write_bytes(blob)
    with gzip.open(tmp_path / "b-idx3-ubyte.gz", "wb") as out:
        out.write(blob)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), data)
    assert np.array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz"), data)


def test_read_idx_big_endian_int32(tmp_path):
    values = np.array([-1, 7, 1 << 20], dtype=">i4")
    (tmp_path / "x").write_bytes(bytes([0, 0, 0x0C, 1]) + np.array([3], ">u4").tobytes()
                                 + values.tobytes())
    assert read_idx(tmp_path / "x").tolist() == [-1, 7, 1 << 20]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case, pattern", [
    ("truncated", "declares 10 x 28 x 28 .*7840 bytes"),
    ("trailing", "declares 10 x 28 x 28"),
    ("bad_magic", "bad magic number"),
    ("short_header", "truncated IDX header"),
    ("empty", "magic number is missing"),
])
def test_corrupt_idx_files_are_clear_errors(tmp_path, compress, case, pattern):
    header = bytes([0, 0, 8, 3]) + np.array([10, 28, 28], ">u4").tobytes()
    blob = {
        "truncated": header + bytes(7840 - 100),
        "trailing": header + bytes(7840 + 3),
        "bad_magic": bytes([1, 2, 8, 3]) + header[4:] + bytes(7840),
        "short_header": header[:9],
        "empty": b"",
    }[case]
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if compress else ""))
    if compress:
        with gzip.open(path, "wb") as out:
            out.write(blob)
    else:
        path.write_bytes(blob)
    with pytest.raises(IDXError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_huge_declared_size_is_rejected_before_allocation(tmp_path, compress):
    # 60000^3 bytes declared (216 TB): allocating first would be a MemoryError, not a clear error.
    blob = bytes([0, 0, 8, 3]) + np.array([60000, 60000, 60000], ">u4").tobytes() + bytes(16)
    path = tmp_path / ("bomb-idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(blob) if compress else blob)
    with pytest.raises(IDXError, match="60000 x 60000 x 60000") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream_is_clear_error(tmp_path):
    blob = bytes([0, 0, 8, 1]) + np.array([1000], ">u4").tobytes() + bytes(range(256)) * 4
    compressed = gzip.compress(blob[:1008])
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IDXError, match="labels-idx1-ubyte.gz"):
        read_idx(path)


def test_mnist_with_mismatched_counts_is_clear_error(tmp_path, data_root):
    shutil.copy(data_root / "mnist" / "t10k-images-idx3-ubyte.gz", tmp_path)
    labels = bytes([0, 0, 8, 1]) + np.array([5], ">u4").tobytes() + bytes(5)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(labels)
    with pytest.raises(IDXError, match="same N"):
        MNIST(root=tmp_path, train=False, download=False)
