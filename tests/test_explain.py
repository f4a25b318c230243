"""hg.explain and ``hybridgrad explain backprop``: the notes' numbers, computed by the engine."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.cli import main
from hybridgrad.explain import ExplainError, explain, format_number, to_dot
from hybridgrad.ops import REGISTRY


def _notes_graph(x=1.0, w=10.0, y1=2.0):
    x_t, w_t, y1_t = hg.tensor(x), hg.tensor(w, requires_grad=True), hg.tensor(y1)
    y = w_t * x_t
    loss = (y1_t - y) ** 2
    return loss, {"x": x_t, "w": w_t, "y1": y1_t, "y": y}


def test_notes_numbers_through_the_python_api():
    loss, names = _notes_graph()
    out = io.StringIO()
    result = hg.explain(loss, names=names, learning_rate=0.1, file=out)
    text = out.getvalue()
    assert result.text == text
    assert "loss = (y1 - y)^2 = (2 - 10)^2 = 64" in text
    assert "dL/dw = 2 * (y1 - y) * (-x) = 2 * (2 - 10) * (-1) = 2 * (-8) * (-1) = 16" in text
    assert "w = w - lr * dL/dw = 10 - 0.1 * 16 = 8.4" in text
    assert result.gradients == {"w": 16.0}
    assert abs(result.updates["w"] - 8.4) < 1e-6
    # Read-only: neither .grad nor the weight changed, and backward() still works.
    assert names["w"].grad is None and names["w"].item() == 10.0
    loss.backward()
    assert names["w"].grad.item() == 16.0


def test_backward_pass_is_shown_node_by_node_from_registry_templates():
    loss, names = _notes_graph()
    text = explain(loss, names=names, file=io.StringIO()).text
    assert "[pow] dL/d(y1 - y) = dL/dloss * 2 * (y1 - y) = 1 * 2 * (-8) = -16" in text
    assert "[sub] dL/dy = dL/d(y1 - y) * (-1) = (-16) * (-1) = 16" in text
    assert "[mul] dL/dw = dL/dy * x = 16 * 1 = 16" in text


def test_the_text_comes_from_the_registry_not_from_known_answers(monkeypatch):
    loss, names = _notes_graph()
    monkeypatch.setattr(REGISTRY["mul"], "derivatives", ("{b} (times one)", "{a}"))
    text = explain(loss, names=names, file=io.StringIO()).text
    assert "dL/dy * x (times one)" in text


@pytest.mark.parametrize("x, w, y1", [(1.0, 10.0, 2.0), (2.0, 3.0, 5.0), (-1.5, 0.5, 4.0)])
def test_every_number_follows_the_inputs(x, w, y1):
    loss, names = _notes_graph(x, w, y1)
    result = explain(loss, names=names, learning_rate=0.05, file=io.StringIO())
    expected_grad = 2 * (y1 - w * x) * (-x)
    assert abs(result.gradients["w"] - expected_grad) < 1e-4
    assert f"= {format_number(np.float32((y1 - w * x) ** 2))}\n" in result.text
    assert abs(result.updates["w"] - (w - 0.05 * expected_grad)) < 1e-4


def test_gradients_match_autograd_for_a_general_expression():
    a = hg.tensor(0.5, dtype=hg.float64, requires_grad=True)
    b = hg.tensor(2.0, dtype=hg.float64, requires_grad=True)
    loss = hg.log(a * b) + a * a + hg.sigmoid(b) / a - a / (b * a)
    result = explain(loss, names={"a": a, "b": b}, file=io.StringIO())
    grad_a, grad_b = hg.autograd.grad(loss, [a, b])
    assert abs(result.gradients["a"] - grad_a.item()) < 1e-12
    assert abs(result.gradients["b"] - grad_b.item()) < 1e-12
    # Used several times: contributions are accumulated (+=) line by line.
    assert "dL/da +=" in result.text


def test_array_expressions_are_explained_too():
    weights = hg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    inputs = hg.tensor([1.0, -1.0])
    result = explain(((weights @ inputs) ** 2).sum(), names={"W": weights, "v": inputs},
                     file=io.StringIO())
    expected = 2 * np.outer(weights.numpy() @ inputs.numpy(), inputs.numpy())
    np.testing.assert_allclose(result.gradients["W"], expected)
    assert "[matmul] dL/dW = dL/d(W @ v) @ v^T" in result.text


def test_explain_errors_are_clear():
    w = hg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ExplainError, match=r"scalar, got shape \(2,\)"):
        explain(w * 2, file=io.StringIO())
    with pytest.raises(ExplainError, match="not produced by a recorded operation"):
        explain(hg.tensor(1.0), file=io.StringIO())
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(ExplainError, match="freed"):
        explain(loss, file=io.StringIO())


def test_nan_from_a_domain_error_is_a_clear_message():
    a = hg.tensor(0.5, requires_grad=True)
    with pytest.raises(ExplainError,
                       match=r"log produced nan at log\(a - 1\) = log\(-0.5\): log is only "
                             r"defined for positive inputs"):
        explain(hg.log(a - 1), names={"a": a}, file=io.StringIO())


def test_dot_graph_has_every_node_and_edge():
    loss, names = _notes_graph()
    dot = to_dot(loss, names)
    assert dot.startswith("digraph")
    assert len(re.findall(r"->", dot)) == 6  # mul: 2 inputs, sub: 2, pow: 2
    assert "dL/dw = 16" in dot and 'label="pow' in dot


# The command line.


def test_cli_prints_the_notes_walkthrough(capsys):
    assert main(["explain", "backprop"]) == 0
    out = capsys.readouterr().out
    assert "loss = (y1 - y)^2 = (2 - 10)^2 = 64" in out
    assert "dL/dw = 2 * (y1 - y) * (-x) = 2 * (2 - 10) * (-1) = 2 * (-8) * (-1) = 16" in out
    assert "w = w - lr * dL/dw = 10 - 0.1 * 16 = 8.4" in out


def test_cli_options_change_every_number(capsys):
    assert main(["explain", "backprop", "--x", "2", "--w", "3", "--y1", "4", "--lr", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "y = w * x = 3 * 2 = 6" in out
    assert "loss = (y1 - y)^2 = (4 - 6)^2 = 4" in out
    assert "dL/dw = 2 * (y1 - y) * (-x) = 2 * (4 - 6) * (-2) = 2 * (-2) * (-2) = 8" in out
    assert "w = w - lr * dL/dw = 3 - 0.05 * 8 = 2.6" in out


def test_cli_steps_converge_to_the_target(capsys):
    assert main(["explain", "backprop", "--steps", "60"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s+-?\d", line)]
    assert len(rows) == 60
    assert rows[0][-1] == "8.4" and rows[1][-1] == "7.12"
    assert abs(float(rows[-1][-1]) - 2.0) < 1e-4


def test_cli_warns_when_the_learning_rate_diverges(capsys):
    assert main(["explain", "backprop", "--lr", "1.5", "--steps", "3"]) == 0
    assert "learning rate is too large" in capsys.readouterr().out


def test_cli_graph_writes_dot(tmp_path, capsys):
    target = tmp_path / "graph.svg"
    assert main(["explain", "backprop", "--graph", str(target)]) == 0
    dot_file = tmp_path / "graph.dot"
    assert dot_file.read_text().startswith("digraph")
    assert "Graph written to" in capsys.readouterr().out


def test_cli_bad_input_is_a_one_line_error(capsys):
    assert main(["explain", "backprop", "--w", "nan"]) == 2
    assert "--w must be a finite number" in capsys.readouterr().err
    assert main(["explain", "backprop", "--graph", "out.txt"]) == 2
    assert "unsupported file type" in capsys.readouterr().err


# The READMEs show real output and runnable code.


def _blocks(path, language):
    import pathlib

    text = (pathlib.Path(__file__).resolve().parents[1] / path).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("path", ["README.md", "README.zh-CN.md"])
def test_readme_walkthrough_is_the_real_output_and_the_loop_runs(path, capsys):
    assert main(["explain", "backprop"]) == 0
    actual = capsys.readouterr().out
    shown = [b for b in _blocks(path, "text") if "hybridgrad explain backprop" in b]
    assert shown and shown[0].split("\n", 1)[1] == actual
    loop = [b for b in _blocks(path, "python") if "backward()" in b][0]
    exec(compile(loop, path, "exec"), {})  # noqa: S102 - our own README
    assert capsys.readouterr().out == "2.0\n"


def test_chinese_readme_starts_with_the_two_setup_commands():
    blocks = _blocks("README.zh-CN.md", "bash")
    assert blocks[0].split() == ["pip", "install", "-e", '".[dev]"', "pytest"]
