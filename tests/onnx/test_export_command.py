"""``hybridgrad export`` end to end (needs the tracer, hybridgrad.symbolic)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import hybridgrad as hg
from hybridgrad.cli import CommandError, main
from hybridgrad.commands.export import parse_factory

pytest.importorskip("hybridgrad.symbolic", reason="hg.onnx.export traces with hybridgrad.symbolic")


def test_parse_factory_accepts_literals_only():
    assert parse_factory("a.b:C") == ("a.b", "C", [], {})
    assert parse_factory("a.b:C(1, k='x')") == ("a.b", "C", [1], {"k": "x"})
    with pytest.raises(CommandError, match="literals"):
        parse_factory("a.b:C(open('x'))")
    with pytest.raises(CommandError, match="package.module:Factory"):
        parse_factory("no_colon")


def test_export_command_writes_a_verified_file(tmp_path, capsys):
    hg.manual_seed(0)
    reference = hg.nn.Linear(4, 3)
    weights = tmp_path / "linear.safetensors"
    hg.save({"model": reference.state_dict()}, weights)
    output = tmp_path / "linear.onnx"
    status = main(["export", "hybridgrad.nn:Linear(4, 3)", "--input-shape", "2,4",
                   "--weights", str(weights), "-o", str(output), "--dynamic-batch"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "onnxruntime vs eager" in printed
    proto = onnx.load(output)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    np.testing.assert_array_equal(stored["weight"], reference.weight.numpy())


def test_export_command_errors_are_one_paragraph(tmp_path, capsys):
    assert main(["export", "hybridgrad.nn:Nope", "--input-shape", "1"]) == 2
    assert "cannot find the model factory" in capsys.readouterr().err


def test_untraceable_models_are_a_clear_error(capsys):
    # The VAE samples noise in forward: tracing refuses random draws.
    assert main(["export", "hybridgrad.models.vae:VAE()", "--input-shape", "2,1,28,28",
                 "--no-verify", "-o", "/dev/null"]) == 2
    assert "cannot trace the model" in capsys.readouterr().err
