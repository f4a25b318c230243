"""The errors a user meets, as they meet them: one clear message saying what happened and what
to do, and (for the CLI) exit status 2 instead of a traceback."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.cli import main
from hybridgrad.models import get_spec
from tests.data_root import mnist_root_or_skip

QUICK = ["--quick", "--no-progress", "--set", "train_subset=128", "--set", "test_subset=64"]


def _model(name):
    spec = get_spec(name)
    return spec.builder(**spec.resolved_config(quick=True)["model"])


def _cli(capsys, *argv):
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.err


@pytest.fixture(scope="module")
def mnist():
    return mnist_root_or_skip()


@pytest.fixture(scope="module")
def mlp_checkpoint(mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mlp"
    assert main(["train", "mlp", *QUICK, "--out", str(out)]) == 0
    return out / "checkpoint.safetensors"


@pytest.mark.parametrize("shape", [(4, 784), (28, 28)])
def test_cnn_given_flat_or_unbatched_images_names_layer_and_shapes(shape):
    with pytest.raises(ValueError) as info:
        _model("cnn")(hg.zeros(*shape))
    message = str(info.value)
    assert "conv2d: expected a 3-D (unbatched) or 4-D (batched) input" in message
    assert f"got shape {shape}" in message
    assert "in layer 'features.0' (Conv2d, expects input (N, 1, H, W) or (1, H, W))" in message
    assert f"inside CNN called with shape {shape} float32" in message
    assert "x.reshape(-1, 1, H, W)" in message


def test_mlp_given_wrong_feature_size_names_linear_layer():
    with pytest.raises(ValueError) as info:
        _model("mlp")(hg.zeros(28, 28))
    message = str(info.value)
    assert message.startswith("linear: expected an input (..., in_features) and a weight "
                              "(out_features, in_features), got input (28, 28) and weight "
                              "(64, 784)")
    assert "in layer 'net.1' (Linear, expects input (*, 784)) called with shape (28, 28)" \
        in message


def test_layer_called_directly_is_named_without_a_path():
    with pytest.raises(ValueError, match=r"in layer \(Linear, expects input \(\*, 4\)\) called "
                                         r"with shape \(3, 5\) float32"):
        hg.nn.Linear(4, 2)(hg.zeros(3, 5))


def test_int64_images_into_linear_are_promoted_like_float():
    # PyTorch refuses int64 @ float32; hybridgrad promotes (NumPy/PyTorch promotion rules for
    # mixed operands), so the result equals the float input's.
    layer = hg.nn.Linear(4, 2)
    images = np.arange(12).reshape(3, 4)
    np.testing.assert_allclose(layer(hg.tensor(images))._array,
                               layer(hg.tensor(images.astype(np.float32)))._array, rtol=1e-6)


def test_checkpoint_of_another_model(capsys, mlp_checkpoint):
    status, err = _cli(capsys, "eval", "cnn", "--checkpoint", mlp_checkpoint)
    assert status == 2
    assert "holds a 'mlp' model, not 'cnn'" in err and "hybridgrad train cnn" in err
    assert "Traceback" not in err
    status, err = _cli(capsys, "train", "cnn", "--resume", mlp_checkpoint, "--no-progress")
    assert status == 2 and "holds a 'mlp' model, not 'cnn'" in err


def test_state_dict_of_another_model_lists_keys():
    with pytest.raises(RuntimeError, match="(?s)missing keys: .*features.0.weight.*"
                                           "unexpected keys: .*net.1.weight"):
        _model("cnn").load_state_dict(_model("mlp").state_dict())


def test_unknown_cli_option_suggests_the_close_one(capsys):
    status, err = _cli(capsys, "train", "mlp", "--quik")
    assert status == 2
    assert "hybridgrad train: unknown option '--quik' (did you mean --quick?)" in err
    assert "'hybridgrad train --help'" in err
    status, err = _cli(capsys, "eval", "mlp", "--chekpoint", "x")
    assert status == 2 and "did you mean --checkpoint?" in err
    status, err = _cli(capsys, "--bogus")
    assert status == 2 and "hybridgrad: unknown option '--bogus'" in err


def test_unknown_model_name(capsys):
    status, err = _cli(capsys, "train", "mlpp", "--quick")
    assert status == 2 and "unknown model 'mlpp'" in err and "Did you mean 'mlp'?" in err


def test_missing_dataset(capsys, tmp_path, monkeypatch):
    from hybridgrad.data import mnist as mnist_module

    # As on an installation without the embedded copy (the last place looked in).
    monkeypatch.setattr(mnist_module, "embedded_dir", lambda: tmp_path / "no-embedded-copy")
    monkeypatch.setenv("HYBRIDGRAD_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status, err = _cli(capsys, "train", "mlp", *QUICK, "--out", tmp_path / "run")
    assert status == 2
    assert "the MNIST training set was not found" in err
    assert str(tmp_path / "nowhere" / "mnist") in err
    assert "--data-dir" in err and "--download" in err
    assert err.count("Provide the files") == 0  # one message, not the library's advice too


def test_corrupt_dataset_file(capsys, tmp_path, mnist):
    folder = tmp_path / "mnist"
    shutil.copytree(os.path.join(mnist, "mnist"), folder)
    for name in os.listdir(folder):
        if name.startswith("t10k-labels"):
            data = (folder / name).read_bytes()
            (folder / name).write_bytes(data[: len(data) // 2])
    from hybridgrad.training.data import _raw_mnist

    _raw_mnist.cache_clear()
    status, err = _cli(capsys, "train", "mlp", *QUICK, "--data-dir", folder,
                       "--out", tmp_path / "run")
    assert status == 2, err
    assert "the MNIST test set cannot be read" in err and "t10k-labels" in err
    assert "--download" in err and "Traceback" not in err


def test_unsupported_onnx_operator_is_named():
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises(hg.onnx.UnsupportedError, match="operator NoSuchOp"):
        hg.onnx.load(helper.make_model(graph), check=False)


def test_nested_path_type_kept_and_other_errors_untouched():
    model = hg.nn.Sequential(hg.nn.Sequential(hg.nn.ReLU(), hg.nn.Linear(3, 2)))
    with pytest.raises(hg.ops.registry.OpError) as info:  # the operator's own type
        model(hg.zeros(2, 5))
    assert "in layer '0.1' (Linear, expects input (*, 3)) called with shape (2, 5)" \
        in str(info.value)
    assert "inside Sequential called with shape (2, 5) float32" in str(info.value)

    class Decoding(hg.nn.Module):
        def forward(self, x):
            return b"\xff".decode("utf-8")

    with pytest.raises(UnicodeDecodeError) as info:
        Decoding()(hg.zeros(1))
    assert info.value.args[0] == "utf-8"
