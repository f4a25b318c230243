"""``hybridgrad run`` on PyTorch programs written in the ordinary PyTorch style (in
``programs/``): each runs unmodified, with ``torch`` resolved to hybridgrad, and learns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hybridgrad.commands.run import run_program

PROGRAMS = Path(__file__).parent / "programs"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "distributed"))
from mpi_launch import mpi_environment, mpi_unavailable_reason  # noqa: E402


def run_here(name: str, capsys, *arguments: str) -> str:
    status = run_program(str(PROGRAMS / name), list(arguments))
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out


def test_classifier_through_the_command_line(tmp_path):
    # The real entry point, in a fresh process: argparse sees the program's arguments, and
    # relative paths (the saved model) are from the current directory.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    result = subprocess.run([sys.executable, "-m", "hybridgrad", "run",
                             str(PROGRAMS / "classifier.py"), "--epochs", "4", "--save-model"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    losses = [float(v) for v in re.findall(r"epoch \d+ loss ([\d.]+)", result.stdout)]
    assert len(losses) == 4 and losses[-1] < losses[0]
    correct, total = map(int, re.search(r"accuracy (\d+)/(\d+)", result.stdout).groups())
    assert total == 128 and correct >= 120
    assert (tmp_path / "classifier.pt").stat().st_size > 0


def test_gan_learns_the_mean(capsys):
    out = run_here("gan.py", capsys)
    mean = float(re.search(r"generated mean ([-\d.]+)", out).group(1))
    assert abs(mean - 3.0) < 0.5, out


def test_lstm_fits_a_sine(capsys):
    out = run_here("lstm.py", capsys)
    first, last = map(float, re.search(r"first loss ([\d.]+) last loss ([\d.]+)", out).groups())
    assert last < first / 10, out


def test_transformer_learns_to_continue_a_cycle(capsys):
    out = run_here("transformer.py", capsys)
    first = float(re.search(r"step 0 loss ([\d.]+)", out).group(1))
    final = float(re.search(r"final loss ([\d.]+)", out).group(1))
    assert final < first / 5, out


def test_ddp_program_alone_is_a_world_of_one(capsys):
    out = run_here("train_ddp.py", capsys, "--batch-size", "8")
    assert "rank 0 of 1 ranks-sum 0" in out and "replicas identical True" in out


def _weights(text: str, rank: int) -> list[float]:
    match = re.search(rf"rank {rank} of \d+ ranks-sum \d+ weights ([-\d. ]+)", text)
    assert match, text
    return [float(v) for v in match.group(1).split()]


@pytest.mark.skipif(mpi_unavailable_reason() is not None, reason=str(mpi_unavailable_reason()))
def test_ddp_program_under_mpirun_matches_one_process_with_the_whole_batch(capsys):
    # Two ranks with batches of 4 from DistributedSampler's interleaved shares see, together,
    # the batches of 8 one process draws from the same permutation: DDP's averaged gradients
    # must then give the single process's weights.
    command = ["mpirun", "-n", "2"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-run-as-root")
    command += [sys.executable, "-m", "hybridgrad", "run", str(PROGRAMS / "train_ddp.py"),
                "--batch-size", "4"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            env=mpi_environment(), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "rank 0 of 2 ranks-sum 1" in result.stdout, result.stdout
    assert "rank 1 local rank 1" in result.stdout  # torchrun's variables, from mpirun's
    assert result.stdout.count("replicas identical True") == 2, result.stdout
    two_ranks = _weights(result.stdout, 0)
    assert two_ranks == _weights(result.stdout, 1)
    alone = _weights(run_here("train_ddp.py", capsys, "--batch-size", "8"), 0)
    assert two_ranks == pytest.approx(alone, abs=2e-6)
