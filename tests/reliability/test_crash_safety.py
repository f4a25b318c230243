"""Crash-safe training: SIGKILL at random moments (during checkpoint writes too), resume, and
end bitwise identical to an uninterrupted run. The full harness is tools/crash_test.py."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.cli import main
from hybridgrad.models import get_spec
from hybridgrad.training import Trainer
from hybridgrad.training.checkpoint import load_checkpoint
from hybridgrad.training.plots import read_metrics
from tests.data_root import mnist_root_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import crash_test  # noqa: E402


@pytest.fixture
def mnist():
    return mnist_root_or_skip()


def _config(**overrides):
    spec = get_spec("mlp")
    return spec, spec.resolved_config(quick=True, overrides={"train_subset": 256,
                                                             "test_subset": 64, "seed": 0,
                                                             **overrides})


def _weights(path):
    state = load_checkpoint(path)["model_state"]
    return {name: tensor._array for name, tensor in state.items()}


def test_checkpoint_every_saves_mid_epoch_and_resumes_exactly(mnist, tmp_path):
    spec, config = _config(epochs=1)
    plain = Trainer(spec, config, str(tmp_path / "plain"), progress=False)
    plain.run()

    saved_steps = []

    def after_step(trainer):
        if not os.path.exists(trainer.checkpoint_path):
            saved_steps.append(None)
            return
        progress = load_checkpoint(trainer.checkpoint_path)["progress"]
        saved_steps.append(int(progress["global_step"]))
        if trainer.global_step == 2:
            shutil.copy(trainer.checkpoint_path, tmp_path / "mid.safetensors")

    every = Trainer(spec, config, str(tmp_path / "every"), progress=False, checkpoint_every=2,
                    step_callback=after_step)
    every.run()
    # 4 steps: a save after step 2 (not after 3); the epoch's end writes step 4.
    assert saved_steps == [None, 2, 2, 2]
    assert load_checkpoint(every.checkpoint_path)["progress"]["global_step"] == 4
    assert load_checkpoint(tmp_path / "mid.safetensors")["progress"]["step"] == 2

    resumed = Trainer(spec, config, str(tmp_path / "resumed"), progress=False)
    resumed.run(resume=str(tmp_path / "mid.safetensors"))
    reference = _weights(plain.checkpoint_path)
    for other in (every.checkpoint_path, resumed.checkpoint_path):
        weights = _weights(other)
        assert weights.keys() == reference.keys()
        for name in reference:
            assert weights[name].tobytes() == reference[name].tobytes(), name


def test_checkpoint_every_rejects_negative(capsys):
    assert main(["train", "mlp", "--quick", "--checkpoint-every", "-1"]) == 2
    assert "--checkpoint-every must be 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="checkpoint_every"):
        Trainer(get_spec("mlp"), {}, "unused", checkpoint_every=-3)


def test_torn_metrics_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"kind": "step", "step": 1}) + "\n" + '{"kind": "st')
    assert read_metrics(str(path)) == [{"kind": "step", "step": 1}]


def test_write_pause_hook_leaves_previous_file_intact(tmp_path, monkeypatch):
    from hybridgrad.serialization import atomic_write_bytes

    target = tmp_path / "c.bin"
    atomic_write_bytes(target, b"old")
    monkeypatch.setenv("HYBRIDGRAD_TEST_WRITE_PAUSE", "0.01")
    atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["c.bin"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_two_kills_in_checkpoint_writes_and_after_saves(mnist, tmp_path):
    """The fast variant: forked workers, a kill inside a checkpoint write and one just after a
    save; the resumed run ends bitwise identical (about 8 s)."""
    report = crash_test.run_campaign(kills=2, mode="fork", epochs=1, checkpoint_every=2,
                                     workdir=str(tmp_path), log=lambda line: None,
                                     kinds=("during-write", "after-save"))
    assert report.problems == []
    assert report.kills_tried == 2 and report.kills_survived == 2
    assert report.runs_completed == report.runs_identical == 1


@pytest.mark.slow
def test_twenty_one_kills_of_real_training_processes(mnist, tmp_path):
    lines = []
    report = crash_test.run_campaign(kills=21, mode="subprocess", epochs=2, checkpoint_every=2,
                                     workdir=str(tmp_path), log=lines.append)
    assert report.problems == [], "\n".join(lines)
    assert report.kills_tried == 21 and report.kills_survived == 21
    assert all(ok == tried == 7 for ok, tried in report.by_kind.values())
    assert report.runs_identical == report.runs_completed >= 1


def test_saving_draws_no_random_numbers(tmp_path):
    # A save that drew from the default generator would shift the training stream.
    hg.manual_seed(3)
    weights = hg.randn(3)
    before = json.dumps(hg.default_generator().bit_generator.state)
    hg.save({"w": weights}, tmp_path / "x.safetensors")
    assert json.dumps(hg.default_generator().bit_generator.state) == before
    np.testing.assert_array_equal(hg.load(tmp_path / "x.safetensors")["w"]._array, weights._array)
