"""``hybridgrad export NAME``: a model trained by ``hybridgrad train`` written as ONNX that
onnxruntime users feed with pixels in [0, 1], checked on real MNIST test images."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from model_cli_helpers import run_cli

import hybridgrad as hg
from hybridgrad.commands.eval import evaluate
from hybridgrad.commands.export import NORMALIZATION_CONSTANTS
from hybridgrad.training import build_from_checkpoint, load_mnist, normalize

pytest.importorskip("hybridgrad.symbolic", reason="hg.onnx.export traces with hybridgrad.symbolic")


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _props(path) -> dict:
    return {prop.key: prop.value for prop in onnx.load(str(path)).metadata_props}


def test_normalization_constants_are_the_trainings():
    pixels = np.linspace(0.0, 1.0, 11, dtype=np.float32)
    for mode, (mean, std) in NORMALIZATION_CONSTANTS.items():
        np.testing.assert_allclose((pixels - mean) / std, normalize(pixels, mode), rtol=1e-6)


def test_exported_cnn_reads_pixels_like_hybridgrad(trained, tmp_path, capsys):
    output = tmp_path / "cnn.onnx"
    assert run_cli("export", "cnn", "--checkpoint", trained["cnn"], "-o", output,
                   "--dynamic-batch") == 0
    assert "onnxruntime vs eager" in capsys.readouterr().out
    proto = onnx.load(str(output))
    first = proto.graph.node[0]
    assert first.op_type == "Sub" and "images" in first.input  # the normalisation comes first
    props = _props(output)
    assert props["hybridgrad.normalize"] == "standard" and props["hybridgrad.std"] == "0.3081"
    assert "pixels in [0, 1]" in props["hybridgrad.input"]

    images, labels = load_mnist(False, subset=1000)  # real test images, pixels in [0, 1]
    onnx_predictions = _session(output).run(None, {"images": images})[0].argmax(1)
    _, _, model, _ = build_from_checkpoint(str(trained["cnn"]), "cnn")
    with hg.no_grad():
        eager = model(hg.tensor(normalize(images, "standard")))._array.argmax(1)
    np.testing.assert_array_equal(onnx_predictions, eager)
    accuracy = evaluate("cnn", str(trained["cnn"]), subset=1000)["test_accuracy"]
    assert float((onnx_predictions == labels).mean()) == pytest.approx(accuracy, abs=1e-9)


def test_without_preprocessing_the_constants_are_in_the_metadata(trained, tmp_path):
    output = tmp_path / "raw.onnx"
    assert run_cli("export", "cnn", "--checkpoint", trained["cnn"], "-o", output,
                   "--no-include-preprocessing") == 0
    proto = onnx.load(str(output))
    assert not any(node.op_type == "Sub" and "images" in node.input for node in proto.graph.node)
    props = _props(output)
    mean, std = float(props["hybridgrad.mean"]), float(props["hybridgrad.std"])
    assert "feed (x - 0.1307) / 0.3081" in props["hybridgrad.input"]
    images, _ = load_mnist(False, subset=64)
    with_nodes = tmp_path / "with.onnx"
    assert run_cli("export", "cnn", "--checkpoint", trained["cnn"], "-o", with_nodes) == 0
    np.testing.assert_allclose(
        _session(output).run(None, {"images": (images[:1] - mean) / std})[0],
        _session(with_nodes).run(None, {"images": images[:1]})[0], rtol=1e-4, atol=1e-5)


def test_factory_form_accepts_a_training_checkpoint(trained, tmp_path):
    output = tmp_path / "factory.onnx"
    # No arguments and no shape: the checkpoint's configuration and the CNN's spec supply them.
    assert run_cli("export", "hybridgrad.models.cnn:CNN", "--weights", trained["cnn"],
                   "-o", output, "--include-preprocessing") == 0
    images, _ = load_mnist(False, subset=8)
    zoo = tmp_path / "zoo.onnx"
    assert run_cli("export", "cnn", "--checkpoint", trained["cnn"], "-o", zoo) == 0
    np.testing.assert_allclose(_session(output).run(None, {"images": images[:1]})[0],
                               _session(zoo).run(None, {"images": images[:1]})[0], rtol=1e-5)


@pytest.mark.parametrize("name,dynamic", [("mlp", True), ("cgan", True), ("vit", False)])
def test_other_zoo_models_export(name, dynamic, trained, tmp_path):
    # (The ViT's class token is expanded to the traced batch: a dynamic batch is refused by the
    # exporter's own check, so it is exported with a fixed one.)
    output = tmp_path / f"{name}.onnx"
    assert run_cli("export", name, "--checkpoint", trained[name], "-o", output,
                   *(["--dynamic-batch"] if dynamic else [])) == 0
    session = _session(output)
    (first,) = session.get_inputs()
    batch = 3 if dynamic else first.shape[0]
    inputs = np.random.default_rng(0).random((batch, *first.shape[1:])).astype(np.float32)
    (result,) = session.run(None, {first.name: inputs})
    assert result.shape[0] == batch and np.isfinite(result).all()


def test_zoo_export_errors_say_what_to_do(tmp_path, capsys):
    assert run_cli("export", "cnn", "--checkpoint", tmp_path / "none.safetensors") == 2
    assert "no checkpoint at" in capsys.readouterr().err
    assert run_cli("export", "cnnn") == 2
    assert "Did you mean 'cnn'" in capsys.readouterr().err
    weights = tmp_path / "w.safetensors"
    hg.save(hg.nn.Linear(2, 1).state_dict(), weights)
    assert run_cli("export", "hybridgrad.nn:Linear(2, 1)", "--weights", weights,
                   "--input-shape", "1,2", "--include-preprocessing", "-o",
                   tmp_path / "x.onnx") == 2
    assert "training normalisation" in capsys.readouterr().err
    hg.save({"weight": hg.ones(2)}, weights)
    assert run_cli("export", "hybridgrad.nn:Linear(2, 1)", "--weights", weights,
                   "--input-shape", "1,2", "-o", tmp_path / "x.onnx") == 2
    assert "do not fit" in capsys.readouterr().err


def test_input_shape_overrides_the_specs_shape_and_keeps_its_name(trained, tmp_path):
    output = tmp_path / "four.onnx"
    assert run_cli("export", "mlp", "--checkpoint", trained["mlp"], "-o", output,
                   "--input-shape", "4,1,28,28") == 0
    (first,) = _session(output).get_inputs()
    assert first.name == "images" and first.shape == [4, 1, 28, 28]
