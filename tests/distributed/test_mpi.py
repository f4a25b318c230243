"""Multi-process tests: ``mpirun -n 2`` runs ``_worker.py`` on loopback; skipped (with the reason)
when mpirun or mpi4py is missing."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import hybridgrad as hg

sys.path.insert(0, str(Path(__file__).parent))
import _worker  # noqa: E402
from mpi_launch import mpi_unavailable_reason, run_mpi  # noqa: E402

pytestmark = pytest.mark.skipif(mpi_unavailable_reason() is not None,
                                reason=str(mpi_unavailable_reason()))


def reference_weights(momentum: float) -> dict:
    """The same run in one process with batch 2B over the same shuffled order."""
    hg.manual_seed(0)  # rank 0's initial weights, which the broadcast gives every rank
    model = _worker.make_model()
    optimizer = hg.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)

    def step(loss):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    _worker.train(model, step, 2 * _worker.BATCH, num_replicas=1, rank=0)
    return {name: value.numpy() for name, value in model.state_dict().items()}


def load_rank(out: Path, rank: int, prefix: str = "") -> dict:
    weights = hg.load(out / f"rank{rank}.safetensors")
    return {name[len(prefix):]: value.numpy() for name, value in weights.items()}


@pytest.mark.parametrize("mode", ["train", "ddp"])
def test_two_ranks_match_one_rank_with_double_batch(tmp_path, mode):
    result = run_mpi(2, mode, tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    prefix = "module." if mode == "ddp" else ""
    rank0, rank1 = load_rank(tmp_path, 0, prefix), load_rank(tmp_path, 1, prefix)
    expected = reference_weights(momentum=0.9 if mode == "train" else 0.0)
    assert sorted(rank0) == sorted(expected)
    for name in expected:
        # Replicas stay bit-identical: every rank applies the same averaged update.
        np.testing.assert_array_equal(rank0[name], rank1[name])
        np.testing.assert_allclose(rank0[name], expected[name], rtol=0, atol=1e-5,
                                   err_msg=name)
    # The weights moved: the comparison is not between two untouched initialisations.
    hg.manual_seed(0)
    initial = _worker.make_model().state_dict()
    assert any(np.abs(rank0[n] - initial[n].numpy()).max() > 1e-2 for n in expected)

    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for rank, report in enumerate(reports):
        assert (report["rank"], report["size"]) == (rank, 2)
        assert report["calls"] == report["buckets"] * report["steps"]  # one call per bucket
        assert report["objects"] == [{"rank": 0}, {"rank": 1}]
        assert report["broadcast"] == "from rank 0"
        assert report["sum"] == 3.0
        assert report["sampler"][:2] == [rank, 2]
    assert reports[0]["buckets"] == (1 if mode == "train" else 3)
    shares = [set(report["sampler"][2]) for report in reports]
    assert not shares[0] & shares[1] and shares[0] | shares[1] == set(range(10))
    assert (tmp_path / "main.safetensors").exists()


def test_failing_rank_aborts_the_job_instead_of_hanging(tmp_path):
    start = time.perf_counter()
    result = run_mpi(2, "fail", tmp_path, timeout=60)
    assert result.returncode != 0
    assert time.perf_counter() - start < 60
    assert "rank 1 fails on purpose" in result.stderr
    assert "rank 1 of 2 failed with RuntimeError" in result.stderr


def test_rank_that_returns_early_does_not_hang_the_others(tmp_path):
    start = time.perf_counter()
    result = run_mpi(2, "early", tmp_path, timeout=60)
    assert result.returncode != 0
    assert time.perf_counter() - start < 30
    assert "rank 0 of 2 has waited more than 2 s in barrier" in result.stderr


def test_different_models_on_ranks_give_a_clear_error(tmp_path):
    result = run_mpi(2, "mismatch", tmp_path, timeout=60)
    assert result.returncode != 0
    assert "rank 1's model differs from rank 0's at entry 0" in result.stderr
    assert "[name, shape, dtype]" in result.stderr
