"""Where the tests find the MNIST mirror (shared by the per-folder conftests)."""

from __future__ import annotations

import os
from pathlib import Path


def find_data_root() -> Path | None:
    """``$HYBRIDGRAD_DATA``, else a ``shared/data`` holding ``mnist/`` above the checkout (CI lays
    ``../shared`` beside it; worktrees sit one level deeper); None when neither exists."""
    if os.environ.get("HYBRIDGRAD_DATA"):
        return Path(os.environ["HYBRIDGRAD_DATA"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if (candidate / "mnist").is_dir():
            return candidate
    return None


def mnist_root_or_skip() -> str:
    """The MNIST mirror's folder, exported as ``$HYBRIDGRAD_DATA`` for the code and subprocesses
    under test; skips the calling test when there is none."""
    import pytest

    root = find_data_root()
    if root is None or not (root / "mnist").is_dir():
        pytest.skip("needs MNIST: set HYBRIDGRAD_DATA to the folder holding mnist/")
    os.environ["HYBRIDGRAD_DATA"] = str(root)
    return str(root)
