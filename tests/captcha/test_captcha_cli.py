"""The captcha command line with --quick and tiny splits, into tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from hybridgrad.cli import main
from hybridgrad.data.captcha_cache import CaptchaSpec, generate_split
from hybridgrad.training.captcha import load_checkpoint, resolve_config

TINY = ["--quick", "--train-size", "32", "--val-size", "8", "--test-size", "8"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDGRAD_CACHE", str(tmp_path / "cache"))


def _epoch_records(out) -> list:
    """The trainer's per-epoch records of a run (metrics.jsonl also holds step records)."""
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record.get("kind") == "epoch"]


def test_train_eval_predict_crnn(tmp_path, capsys):
    out = tmp_path / "crnn"
    assert main(["train", "captcha", "--model", "crnn", "--length", "3-4", "--rnn", "gru",
                 "--beam-width", "2", "--out", str(out), *TINY]) == 0
    text = capsys.readouterr().out
    assert "test: whole-string accuracy" in text and "prefix beam search (width 2)" in text
    records = _epoch_records(out)
    assert len(records) == 1 and records[0]["step"] == 1
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["length"] == "3-4" and result["test_size"] == 8
    model, codec, config = load_checkpoint(str(out / "checkpoint.safetensors"))
    assert config["rnn"] == "gru" and codec.num_classes == 37

    checkpoint = str(out / "checkpoint.safetensors")
    assert main(["eval", "captcha", "--checkpoint", checkpoint, "--test-size", "6",
                 "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["test_size"] == 6 and 0.0 <= figures["accuracy"] <= 1.0
    assert set(figures["accuracy_by_length"]) <= {"3", "4"}
    mistakes = figures["confusions"]  # (a barely trained model: most reads are wrong)
    assert mistakes["wrong"] == round(6 * (1 - figures["accuracy"]))
    assert all(count >= 1 and a != b for a, b, count in mistakes["substitutions"])

    images, texts = generate_split(CaptchaSpec(length=(3, 4), height=32, width=80), "test", 2,
                                   workers=1)
    paths = []
    for index, image in enumerate(images):
        path = tmp_path / f"c{index}.png"
        Image.fromarray(image).resize((120, 50)).save(path)   # any size: resized on read
        paths.append(str(path))
    assert main(["predict", "captcha", *paths, "--checkpoint", checkpoint,
                 "--beam-width", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == paths
    assert all(0.0 <= float(line.split("\t")[2]) <= 1.0 for line in lines)

    # ONNX: onnxruntime gives the eager model's log-probabilities on real captchas (texts are
    # not compared: an untrained model's near-ties flip on rounding).
    import numpy as np
    import onnxruntime

    import hybridgrad as hg
    from hybridgrad.training.captcha import export_onnx, prepare, read_image

    info = export_onnx(checkpoint, str(tmp_path / "crnn.onnx"))
    assert info["max_abs_difference"] < 1e-4
    batch = prepare(np.stack([read_image(p, config) for p in paths]), config)
    session = onnxruntime.InferenceSession(info["path"], providers=["CPUExecutionProvider"])
    (log_probs,) = session.run(None, {"images": batch._array})
    with hg.no_grad():
        expected = model(batch)._array
    assert log_probs.shape == expected.shape == (10, 2, 37)   # T = 40 / 4 at --quick sizes
    assert np.allclose(log_probs, expected, atol=1e-4)


def test_train_onehot_bce_fixed_length_through_the_captcha_command(tmp_path, capsys):
    out = tmp_path / "onehot"
    assert main(["captcha", "train", "--model", "onehot", "--loss", "bce", "--length", "4",
                 "--no-cache", "--out", str(out), *TINY]) == 0
    assert main(["captcha", "export", "--checkpoint", str(out / "checkpoint.safetensors")]) == 0
    assert "onnxruntime agrees" in capsys.readouterr().out and (out / "model.onnx").exists()
    _, codec, config = load_checkpoint(str(out / "checkpoint.safetensors"))
    assert config["loss"] == "bce" and codec.size == 4 * 36      # the notes' vector exactly
    assert not (tmp_path / "cache").exists()                      # --no-cache wrote nothing


def test_onehot_variable_length_gets_a_padding_class():
    config = resolve_config({"model": "onehot", "length": "4-6"}, quick=True)
    from hybridgrad.training.captcha import build_model, make_codec

    assert make_codec(config).size == 6 * 37
    assert build_model(config).classifier[-1].out_features == 6 * 37


def test_user_errors_are_one_paragraph(tmp_path, capsys):
    assert main(["eval", "captcha", "--checkpoint", str(tmp_path / "none.safetensors")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["train", "captcha", "--length", "6-4", "--out", str(tmp_path / "x"),
                 *TINY]) == 2
    assert "length" in capsys.readouterr().err
    assert main(["train", "captcha", "--channels", "4,x", *TINY]) == 2
    assert "--channels" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    out = tmp_path / "m"
    assert main(["train", "captcha", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["predict", "captcha", str(bad), "--checkpoint",
                 str(out / "checkpoint.safetensors")]) == 2
    assert "not an image" in capsys.readouterr().err


def test_lab_ctc_quick(tmp_path, capsys, monkeypatch):
    from hybridgrad.lab import ctc

    monkeypatch.setattr(ctc, "QUICK_BUDGET", {**ctc.QUICK_BUDGET, "train_size": 32,
                                              "test_size": 8})
    assert main(["lab", "ctc", "--quick", "--out", str(tmp_path / "lab")]) == 0
    assert (tmp_path / "lab" / "ctc" / "ctc_reads.png").exists()
    result = ctc.run(tmp_path / "direct", quick=True)
    assert result.verdict.split(":")[0] in ("supported in this run", "not supported",
                                               "partly supported")
    assert {"crnn_ctc_accuracy", "onehot_accuracy"} <= set(result.numbers)
    assert result.numbers["budget"]["length"] == "4-6"
    # Run again: both finished trainings (same config) are read back, not repeated.
    from hybridgrad.training import captcha as captcha_train

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(captcha_train, "train", no_training)
    again = ctc.run(tmp_path / "direct", quick=True)
    assert again.numbers["crnn_ctc_accuracy"] == result.numbers["crnn_ctc_accuracy"]
    # ...but a different budget is.
    monkeypatch.setattr(ctc, "QUICK_BUDGET", {**ctc.QUICK_BUDGET, "lr": 1e-3})
    with pytest.raises(AssertionError, match="trained again"):
        ctc.run(tmp_path / "direct", quick=True)


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys):
    import numpy as np

    import hybridgrad as hg
    from hybridgrad.training import captcha as captcha_train

    config = resolve_config({"train_size": 64, "val_size": 4, "test_size": 4, "epochs": 3,
                             "cache": False}, quick=True)
    straight = captcha_train.train(config, str(tmp_path / "straight"), log=None)

    def interrupt_in_the_second_epoch(trainer):
        if trainer.global_step == 3:
            trainer.stop_requested = True   # what Ctrl-C does: save, then KeyboardInterrupt

    hg.manual_seed(123)  # the resumed run must not depend on the process's random state
    with pytest.raises(KeyboardInterrupt):
        captcha_train.train(config, str(tmp_path / "broken"), log=None,
                            step_callback=interrupt_in_the_second_epoch)
    checkpoint = tmp_path / "broken" / "checkpoint.safetensors"
    assert main(["train", "captcha", "--resume", str(checkpoint)]) == 0
    assert "resumed after epoch 1" in capsys.readouterr().out
    resumed = json.loads((tmp_path / "broken" / "result.json").read_text())
    assert resumed["steps"] == straight["steps"] == 6
    first, _, _ = load_checkpoint(straight["checkpoint"])
    second, _, _ = load_checkpoint(str(checkpoint))
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert [record["epoch"] for record in _epoch_records(tmp_path / "broken")] == [1, 2, 3]


def test_resume_refuses_other_settings_and_weight_only_checkpoints(tmp_path, capsys):
    from hybridgrad.training import captcha as captcha_train

    config = resolve_config({"train_size": 32, "val_size": 0, "test_size": 4, "cache": False},
                            quick=True)
    captcha_train.train(config, str(tmp_path / "run"), log=None)
    checkpoint = str(tmp_path / "run" / "checkpoint.safetensors")
    with pytest.raises(ValueError, match=r"differ in \['lr'\]"):
        captcha_train.train({**config, "lr": 0.5}, str(tmp_path / "run"), log=None,
                            resume=checkpoint)
    weights_only = str(tmp_path / "weights.safetensors")
    captcha_train.save_weights(captcha_train.build_model(config), config, weights_only)
    assert main(["train", "captcha", "--resume", weights_only]) == 2
    assert "no optimizer state" in capsys.readouterr().err
    assert main(["train", "captcha", "--resume", str(tmp_path / "missing.safetensors")]) == 2


def test_runs_saved_before_a_setting_existed_still_load_resume_and_count_as_finished(tmp_path):
    # Session 2's checkpoints and result.json have no "wide_pools" (added in session 3): they
    # mean its default, so they must load, resume and be reused by the lab, not be refused.
    from hybridgrad.lab.ctc import finished_run
    from hybridgrad.training import captcha as captcha_train

    config = resolve_config({"train_size": 32, "val_size": 0, "test_size": 4, "cache": False},
                            quick=True)
    older = {key: value for key, value in config.items() if key != "wide_pools"}
    checkpoint = str(tmp_path / "checkpoint.safetensors")
    captcha_train.save_weights(captcha_train.build_model(config), older, checkpoint)
    assert load_checkpoint(checkpoint)[2]["wide_pools"] == 2
    assert captcha_train.resume_config(checkpoint)["wide_pools"] == 2
    (tmp_path / "result.json").write_text(json.dumps({"config": older, "steps": 1,
                                                      "planned_steps": 1}))
    assert finished_run(config, str(tmp_path))["steps"] == 1
    assert finished_run({**config, "wide_pools": 1}, str(tmp_path)) is None


def test_options_plug_into_a_generic_train_parser():
    import argparse

    from hybridgrad.commands import captcha

    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--set", action="append", dest="overrides")
    captcha.add_train_options(parser)                 # no clash with the generic flags
    args = parser.parse_args(["captcha", "--model", "onehot", "--length", "4-6", "--epochs",
                              "2", "--set", "lr=0.01", "--hidden", "48"])
    assert args.model == "captcha" and args.arch == "onehot"
    assert captcha._overrides(args) == {"model": "onehot", "length": "4-6", "epochs": 2,
                                        "lr": 0.01, "onehot_hidden": 48}


def test_max_minutes_stops_training_and_still_evaluates(tmp_path):
    from hybridgrad.training.captcha import train

    config = resolve_config({"train_size": 96, "val_size": 0, "test_size": 4, "epochs": 3,
                             "max_minutes": 0.0, "cache": False}, quick=True)
    result = train(config, str(tmp_path), log=None)
    assert result["steps"] == 1 and result["planned_steps"] == 9
    records = _epoch_records(tmp_path)
    assert records == [{**records[0], "stopped_early": True}] and result["test_size"] == 4


# Checkpoints of the earlier captcha trainer (its own format, "kind": "captcha"), written by that
# code before it was replaced by the shared Trainer: a CRNN (channels 2-2-2-2, hidden 4, length
# 4, 32 x 80, 32 captchas drawn on the fly, batch 16, 2 epochs), after epoch 1 (interrupted) and
# after epoch 2 (uninterrupted).
LEGACY = Path(__file__).parent / "data"


def test_old_captcha_checkpoints_load_as_they_were_saved():
    import numpy as np

    import hybridgrad as hg

    stored = hg.load(str(LEGACY / "legacy_final.safetensors"))
    assert stored["kind"] == "captcha"            # really the old format
    model, codec, config = load_checkpoint(str(LEGACY / "legacy_final.safetensors"))
    assert config["hidden"] == 4 and config["channels"] == [2, 2, 2, 2]
    assert codec.num_classes == 37
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), np.asarray(stored["model"][name]),
                                      err_msg=name)


def test_an_old_interrupted_run_resumes_on_the_trainer_to_the_old_trainers_weights(tmp_path,
                                                                                   capsys):
    import shutil

    import numpy as np

    checkpoint = tmp_path / "run" / "checkpoint.safetensors"
    checkpoint.parent.mkdir()
    shutil.copy(LEGACY / "legacy_epoch1.safetensors", checkpoint)
    assert main(["train", "captcha", "--resume", str(checkpoint)]) == 0
    assert "resumed after epoch 1" in capsys.readouterr().out
    got, _, _ = load_checkpoint(str(checkpoint))            # now in the trainer's format
    expected, _, _ = load_checkpoint(str(LEGACY / "legacy_final.safetensors"))
    for (name, a), (_, b) in zip(got.state_dict().items(), expected.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert json.loads((tmp_path / "run" / "result.json").read_text())["steps"] == 4


def test_other_files_are_refused_as_captcha_checkpoints(tmp_path):
    import hybridgrad as hg

    path = str(tmp_path / "other.safetensors")
    hg.save({"weights": hg.ones(2)}, path)
    with pytest.raises(ValueError, match="not a captcha checkpoint"):
        load_checkpoint(path)


def test_the_generic_export_command_takes_a_captcha_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "captcha", "--no-cache", "--out", str(out), *TINY]) == 0
    onnx_path = tmp_path / "captcha.onnx"
    assert main(["export", "captcha", "--checkpoint", str(out / "checkpoint.safetensors"),
                 "-o", str(onnx_path)]) == 0
    assert onnx_path.exists() and "onnxruntime vs eager" in capsys.readouterr().out
