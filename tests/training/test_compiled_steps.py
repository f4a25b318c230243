"""``hybridgrad train MODEL --compile``: the classifiers' compiled training step (one graph from
``hybridgrad.jit.train_step``) gives the eager step's weights."""

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.cli import main
from hybridgrad.models import REGISTRY
from hybridgrad.training.tasks import ClassifierTask

TINY = {"mlp": {"hidden_sizes": [16], "dropout": 0.0},
        "cnn": {"channels": [2, 4], "hidden": 8, "dropout": 0.0},
        "vit": {"dim": 8, "depth": 1, "heads": 2, "mlp_dim": 16}}


def _task(name, compiled):
    spec = REGISTRY[name]
    config = spec.resolved_config(overrides={"model": TINY[name], "lr": 1e-2})
    config.update(seed=0, compile=compiled)
    hg.manual_seed(0)
    model = spec.builder(**config["model"])
    # In float64: Adam divides by the gradient's own scale, so a parameter whose float32
    # gradient is rounding noise moves by about lr either way.
    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor._array.dtype == np.float32:
            tensor._array = tensor._array.astype(np.float64)
    return ClassifierTask(spec, config, model)


@pytest.mark.parametrize("name", sorted(TINY))
def test_compiled_classifier_steps_give_the_eager_weights(name):
    rng = np.random.default_rng(0)
    images = hg.tensor(rng.random((8, 1, 28, 28)))
    labels = hg.tensor(np.arange(8) % 10)
    eager, compiled = _task(name, False), _task(name, True)
    assert eager.model.state_dict()[next(iter(eager.model.state_dict()))].dtype == np.float64
    for _ in range(3):
        expected = eager.train_step(images, labels)["loss"]
        assert compiled.train_step(images, labels)["loss"] == pytest.approx(expected, rel=1e-5)
    for (key, a), (_, b) in zip(eager.model.state_dict().items(),
                                compiled.model.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=key)


def test_compiled_dropout_draws_the_eager_random_stream():
    # Run from the same seed, the compiled step's dropout masks are the eager step's.
    rng = np.random.default_rng(1)
    images = hg.tensor(rng.random((8, 1, 28, 28)))
    labels = hg.tensor(np.arange(8) % 10)
    tiny_dropout = {**TINY["mlp"], "dropout": 0.3}
    runs = []
    for compiled in (False, True):
        spec = REGISTRY["mlp"]
        config = spec.resolved_config(overrides={"model": tiny_dropout, "lr": 1e-2})
        config.update(seed=0, compile=compiled)
        hg.manual_seed(0)
        model = spec.builder(**config["model"])
        for tensor in model.parameters():
            tensor._array = tensor._array.astype(np.float64)
        task = ClassifierTask(spec, config, model)
        hg.manual_seed(7)
        losses = [task.train_step(images, labels)["loss"] for _ in range(3)]
        runs.append((losses, {k: v.numpy() for k, v in model.state_dict().items()}))
    (eager_losses, eager_weights), (compiled_losses, compiled_weights) = runs
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-9)
    for key, value in eager_weights.items():
        np.testing.assert_allclose(compiled_weights[key], value, atol=1e-9, err_msg=key)


def test_compile_is_refused_where_the_step_is_not_one_loss(capsys):
    assert main(["train", "cgan", "--compile", "--quick"]) == 2
    assert "--compile is available for the classifiers" in capsys.readouterr().err
    assert main(["train", "mlp", "--compile", "--eager", "--quick"]) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_train_command_with_compile_runs_the_compiled_step(tmp_path, capsys):
    import json

    from tests.data_root import mnist_root_or_skip

    mnist_root_or_skip()
    out = tmp_path / "mlp"
    assert main(["train", "mlp", "--compile", "--quick", "--no-progress", "--set",
                 "train_subset=128", "--set", "test_subset=64", "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epoch = [record for record in records if record["kind"] == "epoch"][-1]
    # The compiled step returns the loss only: no training accuracy is logged.
    assert "train_loss" in epoch and "train_accuracy" not in epoch
    assert json.loads((out / "config.json").read_text())["compile"] is True
