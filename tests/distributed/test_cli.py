"""``mpirun -n 2 hybridgrad train MODEL --distributed``: the same weights as one process with
the same global batch, files and output from rank 0 only, and clear errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from hybridgrad.cli import main
from hybridgrad.training import load_checkpoint
from tests.data_root import mnist_root_or_skip

sys.path.insert(0, str(Path(__file__).parent))
from mpi_launch import mpi_unavailable_reason, run_mpi, run_mpi_command  # noqa: E402

needs_mpi = pytest.mark.skipif(mpi_unavailable_reason() is not None,
                               reason=str(mpi_unavailable_reason()))

# No dropout: the runs must be deterministic functions of the data order to compare exactly.
ARGS = ["--quick", "--no-progress", "--set", "train_subset=256", "--set", "test_subset=64",
        "--set", "model.dropout=0", "--seed", "5"]


@pytest.fixture
def mnist():
    return mnist_root_or_skip()


@needs_mpi
def test_two_processes_train_like_one(mnist, tmp_path, capsys):
    result = run_mpi_command(2, ["-m", "hybridgrad", "train", "mlp", "--distributed", *ARGS,
                                 "--out", tmp_path / "two"], timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("epoch 1: test_accuracy") == 1  # rank 0 alone reports
    assert "distributed: 2 processes (MPICommunicator), 32 images each per step of 64" \
        in result.stdout
    assert sorted(os.listdir(tmp_path / "two")) == [
        "checkpoint.safetensors", "config.json", "curves.png", "metrics.jsonl", "report.html"]

    assert main(["train", "mlp", *ARGS, "--out", str(tmp_path / "one")]) == 0
    two = load_checkpoint(str(tmp_path / "two" / "checkpoint.safetensors"))
    one = load_checkpoint(str(tmp_path / "one" / "checkpoint.safetensors"))
    assert two["progress"] == one["progress"]
    for name, value in one["model_state"].items():
        np.testing.assert_allclose(two["model_state"][name].numpy(), value.numpy(), rtol=0,
                                   atol=1e-5, err_msg=name)


@needs_mpi
def test_batch_that_does_not_split_is_a_clear_error(mnist, tmp_path):
    result = run_mpi_command(2, ["-m", "hybridgrad", "train", "mlp", "--distributed", *ARGS,
                                 "--batch-size", "63", "--out", tmp_path], timeout=120)
    assert result.returncode != 0
    assert "the batch size 63 does not split evenly over 2 processes" in result.stderr


def test_distributed_flag_without_mpirun_trains_in_one_process(mnist, tmp_path, capsys):
    assert main(["train", "mlp", "--distributed", *ARGS, "--out", str(tmp_path)]) == 0
    assert "without mpirun" in capsys.readouterr().err
    assert (tmp_path / "checkpoint.safetensors").exists()


@needs_mpi
@pytest.mark.slow  # about 12 s: three training runs on two ranks
def test_interrupted_distributed_run_resumes_exactly(mnist, tmp_path):
    result = run_mpi(2, "resume", tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    straight = load_checkpoint(str(tmp_path / "straight" / "checkpoint.safetensors"))
    resumed = load_checkpoint(str(tmp_path / "resumed" / "checkpoint.safetensors"))
    assert straight["progress"] == resumed["progress"] == {
        "epoch": 2, "step": 0, "global_step": 8, "finished": True}
    for name, value in straight["model_state"].items():
        np.testing.assert_array_equal(resumed["model_state"][name].numpy(), value.numpy(),
                                      err_msg=name)
