"""Fixtures for the data tests: where the MNIST mirror is, without hard-coding it."""


import pytest

from tests.data_root import find_data_root


@pytest.fixture
def data_root(monkeypatch, tmp_path):
    root = find_data_root()
    if root is None or not (root / "mnist").is_dir():
        pytest.skip("MNIST files not available: set HYBRIDGRAD_DATA to a folder with mnist/")
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return root


@pytest.fixture
def no_embedded(monkeypatch, tmp_path):
    """As on an installation without the embedded MNIST copy (the last place looked in)."""
    from hybridgrad.data import mnist

    monkeypatch.setattr(mnist, "embedded_dir", lambda: tmp_path / "no-embedded-copy")
