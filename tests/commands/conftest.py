"""Shared fixtures of the command tests: MNIST through $HYBRIDGRAD_DATA and quick checkpoints
trained once per session."""

from __future__ import annotations

import pytest
from model_cli_helpers import SMALL, run_cli

from tests.data_root import mnist_root_or_skip


@pytest.fixture(scope="session")
def mnist():
    return mnist_root_or_skip()


@pytest.fixture(scope="session")
def trained(mnist, tmp_path_factory):
    """Quick checkpoints of every model: {name: path}; runs/cnn is the judge of the others."""
    runs = tmp_path_factory.mktemp("runs")
    paths = {}
    for name in ("cnn", "mlp", "vit", "cgan", "vae", "cvae"):
        assert run_cli("train", name, *SMALL, "--out", runs / name) == 0
        paths[name] = runs / name / "checkpoint.safetensors"
    return paths
