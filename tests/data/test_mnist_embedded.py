"""The MNIST copy embedded in the package: found last, checked by SHA-256, readable offline."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from hybridgrad.data import MNIST, IDXError
from hybridgrad.data import mnist as mnist_module
from hybridgrad.data.mnist import EMBEDDED_SHA256, MNIST_MD5, embedded_dir
from hybridgrad.training.data import mnist_source

NAMES = list(MNIST_MD5)


def test_embedded_files_are_the_published_originals():
    folder = embedded_dir()
    for name in NAMES:
        path = folder / f"{name}.gz"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == EMBEDDED_SHA256[name]
        with gzip.open(path, "rb") as stream:
            assert hashlib.md5(stream.read()).hexdigest() == MNIST_MD5[name]
    attribution = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "Attribution-Share Alike 3.0" in attribution and "LeCun" in attribution


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """No $HYBRIDGRAD_DATA, an empty user cache, a forbidden network."""
    monkeypatch.delenv("HYBRIDGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("MNIST tried the network")

    monkeypatch.setattr(MNIST, "download", classmethod(no_network))
    return tmp_path


def test_embedded_copy_is_used_on_a_bare_machine(bare_machine):
    test = MNIST(train=False)  # download=True by default: it must not be needed
    assert test.source == "embedded" and test.root == embedded_dir()
    assert len(test) == 10000 and test[0][1] == 7
    assert np.bincount(test.targets._array).tolist()[:2] == [980, 1135]
    assert "embedded" in mnist_source()


def test_precedence_env_then_cache_then_embedded(bare_machine, monkeypatch):
    cache = bare_machine / "cache" / "hybridgrad" / "mnist"
    env = bare_machine / "env"
    for folder in (cache, env / "mnist"):
        folder.mkdir(parents=True)
        for name in MNIST.resources[False]:
            shutil.copyfile(embedded_dir() / f"{name}.gz", folder / f"{name}.gz")
    assert MNIST.locate(train=False) == (cache, "cache")
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(env))
    assert MNIST.locate(train=False) == (env / "mnist", "env")
    assert MNIST(train=False).source == "env"
    # An explicit root wins over everything, and is strict: missing there is an error.
    assert MNIST.locate(root=cache, train=False) == (cache, "dir")
    assert MNIST.locate(root=bare_machine / "empty", train=False) == (None, None)
    # $HYBRIDGRAD_DATA pointing at a folder without mnist/ falls through to the next place.
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(bare_machine / "nothing"))
    assert MNIST.locate(train=False) == (cache, "cache")


def test_damaged_embedded_file_is_refused(bare_machine, monkeypatch):
    copy = bare_machine / "copy"
    shutil.copytree(embedded_dir(), copy)
    with open(copy / "t10k-labels-idx1-ubyte.gz", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(mnist_module, "embedded_dir", lambda: copy)
    with pytest.raises(IDXError, match="t10k-labels-idx1-ubyte.gz.*damaged.*SHA-256"):
        MNIST(train=False)
