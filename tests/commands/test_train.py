"""``hybridgrad train``: outputs of a quick run, and resuming equals never stopping."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from model_cli_helpers import SMALL, run_cli

import hybridgrad as hg
from hybridgrad.models import get_spec
from hybridgrad.training import Trainer, load_checkpoint, read_metrics

TIMING = ("seconds", "images_per_second")


def _comparable(metrics_path):
    return [{key: value for key, value in record.items() if key not in TIMING}
            for record in read_metrics(metrics_path)]


def _assert_same_state(path_a, path_b):
    a, b = load_checkpoint(path_a), load_checkpoint(path_b)
    assert a["progress"] == b["progress"]
    for key in a["model_state"]:
        np.testing.assert_array_equal(a["model_state"][key].numpy(), b["model_state"][key].numpy(),
                                      err_msg=key)
    assert json.dumps(_arrays_as_lists(a["optimizers"])) == \
        json.dumps(_arrays_as_lists(b["optimizers"]))
    assert a["rng"] == b["rng"] and a["loader"] == b["loader"]


def _arrays_as_lists(tree):
    if isinstance(tree, hg.Tensor):
        return tree.numpy().tolist()
    if isinstance(tree, dict):
        return {str(key): _arrays_as_lists(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_arrays_as_lists(value) for value in tree]
    return tree


@pytest.mark.parametrize("name", ["cnn", "cgan", "vae", "cvae"])
def test_quick_run_writes_checkpoint_metrics_and_pictures(trained, name):
    folder = trained[name].parent
    records = read_metrics(folder / "metrics.jsonl")
    epochs = [record for record in records if record["kind"] == "epoch"]
    assert len(epochs) == 1 and epochs[0]["step"] == 2  # 128 images / batch 64
    assert any(record["kind"] == "step" for record in records)
    assert (folder / "curves.png").exists() and (folder / "config.json").exists()
    metric = get_spec(name).metric
    assert 0.0 <= epochs[0][metric] <= (1.0 if metric.endswith("accuracy") else 1e4)
    if name in ("cgan", "cvae"):  # scored by the quick CNN, one figure per digit
        assert all(f"label_accuracy_{digit}" in epochs[0] for digit in range(10))
        assert (folder / "samples.png").exists()
    if name == "cgan":
        from PIL import Image

        grid = Image.open(folder / "samples" / "epoch_001.png")
        assert grid.size == (10 * 30 + 2, 10 * 30 + 2)  # 10x10 digits, one row per label
    if name in ("vae", "cvae"):
        assert (folder / "reconstructions.png").exists()


def test_resume_after_an_epoch_equals_the_uninterrupted_run(mnist, tmp_path):
    common = [*SMALL, "--set", "scheduler=none"]  # constant lr: epochs 1+1 = 2
    assert run_cli("train", "mlp", *common, "--epochs", 2, "--out", tmp_path / "straight") == 0
    assert run_cli("train", "mlp", *common, "--epochs", 1, "--out", tmp_path / "split") == 0
    first = load_checkpoint(tmp_path / "split" / "checkpoint.safetensors")
    assert first["progress"]["epoch"] == 1 and first["progress"]["finished"]
    assert run_cli("train", "mlp", "--no-progress", "--epochs", 2, "--resume",
                   tmp_path / "split" / "checkpoint.safetensors") == 0
    _assert_same_state(tmp_path / "straight" / "checkpoint.safetensors",
                       tmp_path / "split" / "checkpoint.safetensors")
    assert _comparable(tmp_path / "straight" / "metrics.jsonl") == \
        _comparable(tmp_path / "split" / "metrics.jsonl")


@pytest.mark.parametrize("name, stop_at, epochs", [("cgan", 2, 1), ("cnn", 3, 2), ("vit", 4, 2)])
def test_ctrl_c_mid_epoch_then_resume_equals_the_uninterrupted_run(mnist, tmp_path, name,
                                                                   stop_at, epochs):
    # 3 batches per epoch: the CGAN stops inside its only epoch, the CNN (per-epoch cosine
    # schedule) and the ViT (per-batch one-cycle schedule) inside their second.
    spec = get_spec(name)
    config = spec.resolved_config(quick=True, overrides={"train_subset": 192, "test_subset": 64,
                                                         "epochs": epochs})
    config["seed"] = 5
    straight = Trainer(spec, config, str(tmp_path / "straight"), progress=False)
    straight.run()

    def press_ctrl_c(trainer):
        if trainer.global_step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)  # handled as a request: stop after this step

    interrupted = Trainer(spec, config, str(tmp_path / "split"), progress=False,
                          step_callback=press_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        interrupted.run()
    saved = load_checkpoint(interrupted.checkpoint_path)
    assert saved["progress"]["global_step"] == stop_at and not saved["progress"]["finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    resumed = Trainer(spec, config, str(tmp_path / "split"), progress=False)
    resumed.run(resume=interrupted.checkpoint_path)
    _assert_same_state(straight.checkpoint_path, resumed.checkpoint_path)
    assert _comparable(straight.metrics_path) == _comparable(resumed.metrics_path)


def test_resume_from_the_command_line_after_ctrl_c(mnist, tmp_path, capsys):
    spec = get_spec("vae")
    config = spec.resolved_config(quick=True, overrides={"train_subset": 192, "test_subset": 64})
    config["seed"] = 0

    def press_ctrl_c(trainer):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        Trainer(spec, config, str(tmp_path), progress=False, step_callback=press_ctrl_c).run()
    checkpoint = tmp_path / "checkpoint.safetensors"
    assert run_cli("train", "vae", "--no-progress", "--resume", checkpoint) == 0
    assert load_checkpoint(checkpoint)["progress"]["finished"]
    assert "resuming" in capsys.readouterr().out


def test_one_cycle_runs_cannot_be_stretched(trained, capsys):
    assert run_cli("train", "vit", "--resume", trained["vit"], "--epochs", 5) == 2
    assert "one-cycle" in capsys.readouterr().err
