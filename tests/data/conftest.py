"""Fixtures for the data tests: where the MNIST mirror is, without hard-coding it."""

import os
from pathlib import Path

import pytest


def _find_data_root() -> Path | None:
    if os.environ.get("HYBRIDGRAD_DATA"):
        return Path(os.environ["HYBRIDGRAD_DATA"])
    # CI exports ../shared/data beside the checkout; worktrees sit one level deeper.
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if (candidate / "mnist").is_dir():
            return candidate
    return None


@pytest.fixture
def data_root(monkeypatch, tmp_path):
    root = _find_data_root()
    if root is None or not (root / "mnist").is_dir():
        pytest.skip("MNIST files not available: set HYBRIDGRAD_DATA to a folder with mnist/")
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return root
