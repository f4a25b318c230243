"""``hybridgrad eval``, ``sample``, ``predict``, ``list`` and the one-paragraph errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_cli_helpers import SMALL, run_cli

import hybridgrad as hg


def test_eval_classifier_reports_accuracy_per_digit(trained, capsys):
    assert run_cli("eval", "cnn", "--checkpoint", trained["cnn"], "--subset", 200, "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert 0.0 <= results["test_accuracy"] <= 1.0 and len(results["per_digit"]) == 10
    # The overall accuracy is the count-weighted mean of the per-digit ones.
    labels = np.asarray(hg.data.MNIST(train=False).targets)[:200]
    counts = np.bincount(labels, minlength=10)
    weighted = np.nansum(np.array(results["per_digit"]) * counts) / counts.sum()
    assert weighted == pytest.approx(results["test_accuracy"])
    assert results["bar"] == "test_accuracy >= 0.99"


def test_eval_cgan_judges_generated_digits_with_the_cnn(trained, capsys):
    assert run_cli("eval", "cgan", "--checkpoint", trained["cgan"], "--judge", trained["cnn"],
                   "--samples", 50) == 0
    out = capsys.readouterr().out
    assert "label_accuracy" in out and "per digit (judged as their label)" in out
    assert "bar label_accuracy >= 0.95" in out


def test_eval_vae_reports_the_elbo_in_nats(trained, capsys):
    assert run_cli("eval", "vae", "--checkpoint", trained["vae"], "--subset", 100, "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert 0 < results["test_nelbo"] < 784 * 1.0  # below the 543 nats of predicting 0.5
    assert run_cli("eval", "cvae", "--checkpoint", trained["cvae"], "--judge", trained["cnn"],
                   "--subset", 100, "--samples", 20, "--json") == 0
    results = json.loads(capsys.readouterr().out)
    assert {"test_nelbo", "label_accuracy", "per_digit"} <= set(results)


def test_sample_writes_the_requested_digits(trained, tmp_path):
    from PIL import Image

    output = tmp_path / "sevens.png"
    assert run_cli("sample", "cgan", "--label", 7, "--n", 16, "-o", output,
                   "--checkpoint", trained["cgan"]) == 0
    assert Image.open(output).size == (4 * 30 + 2, 4 * 30 + 2)
    assert run_cli("sample", "cvae", "-o", tmp_path / "grid.png",
                   "--checkpoint", trained["cvae"]) == 0
    assert Image.open(tmp_path / "grid.png").size == (10 * 30 + 2, 10 * 30 + 2)
    assert run_cli("sample", "vae", "--n", 9, "-o", tmp_path / "vae.png",
                   "--checkpoint", trained["vae"]) == 0


def test_predict_classifies_image_files(trained, tmp_path, capsys):
    from PIL import Image

    images = np.asarray(hg.data.MNIST(train=False).data)[:2]
    paths = []
    for index, image in enumerate(images):
        paths.append(tmp_path / f"digit{index}.png")
        Image.fromarray(255 - image).save(paths[-1])  # dark on light: inverted automatically
    assert run_cli("predict", "mlp", *paths, "--top", 2, "--checkpoint", trained["mlp"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(paths[0]))
    assert lines[0].count("%") == 2


def test_list_names_every_model(capsys):
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    for name in ("mlp", "cnn", "vit", "cgan", "vae", "cvae"):
        assert f"  {name}" in out
    assert "label_accuracy >= 0.95" in out
    assert "  captcha" in out
    assert "--model crnn --length 4-6: bar: whole-string accuracy >= 0.95" in out


def _error(capsys, *argv) -> str:
    assert run_cli(*argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


def test_unknown_model_suggests_the_closest_name(capsys):
    message = _error(capsys, "train", "cnnn")
    assert "unknown model 'cnnn'" in message and "Did you mean 'cnn'" in message
    assert "hybridgrad list" in message
    assert "unknown model" in _error(capsys, "eval", "gan")


def test_missing_dataset_says_where_to_put_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HYBRIDGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    message = _error(capsys, "train", "mlp", *SMALL, "--data-dir", tmp_path / "empty",
                     "--out", tmp_path / "out")
    assert "MNIST" in message and "--data-dir" in message and "HYBRIDGRAD_DATA" in message


def test_wrong_or_foreign_checkpoints_are_explained(trained, tmp_path, capsys):
    message = _error(capsys, "eval", "cnn", "--checkpoint", trained["mlp"])
    assert "holds a 'mlp' model, not 'cnn'" in message and "hybridgrad train cnn" in message
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    assert "not a readable safetensors" in _error(capsys, "eval", "cnn", "--checkpoint", garbage)
    weights = tmp_path / "weights.safetensors"
    hg.save({"w": hg.ones(2)}, str(weights))
    message = _error(capsys, "sample", "cgan", "--checkpoint", weights, "-o", tmp_path / "x.png")
    assert "not a checkpoint written by 'hybridgrad train'" in message
    message = _error(capsys, "train", "cnn", "--resume", trained["mlp"])
    assert "holds a 'mlp' model, not 'cnn'" in message
    assert "no checkpoint at" in _error(capsys, "eval", "vae", "--checkpoint",
                                        tmp_path / "missing.safetensors")


def test_eval_of_a_generator_needs_the_judge_cnn(trained, tmp_path, capsys):
    message = _error(capsys, "eval", "cgan", "--checkpoint", trained["cgan"],
                     "--judge", tmp_path / "none.safetensors")
    assert "no judge checkpoint at" in message and "hybridgrad train cnn" in message


def test_bad_options_are_explained(trained, tmp_path, capsys):
    message = _error(capsys, "train", "mlp", "--resume", trained["mlp"], "--lr", 0.1)
    assert "only --epochs" in message
    message = _error(capsys, "train", "mlp", "--set", "learning_rate=0.1")
    assert "unknown hyper-parameter(s) learning_rate" in message
    assert "model.depth" in _error(capsys, "train", "mlp", "--set", "model.depth=3")
    assert "KEY=VALUE" in _error(capsys, "train", "mlp", "--set", "lr")
    assert "classifier" in _error(capsys, "sample", "cnn")
    assert "not a classifier" in _error(capsys, "predict", "cgan", "x.png")
    assert "not conditioned" in _error(capsys, "sample", "vae", "--label", 3)
    assert "digit 0-9" in _error(capsys, "sample", "cgan", "--label", 12)
    assert "no such image" in _error(capsys, "predict", "cnn", tmp_path / "none.png")
    assert "cannot resume" in _error(capsys, "train", "mlp", "--resume", tmp_path / "no.ckpt")
