# ruff: noqa: A004 - hybridgrad.symbolic.compile is the notes' name
"""The `hybridgrad graph` command, batch splitting, and what the memory report promises."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.cli import main
from hybridgrad.symbolic import Variable, check_plan, compile
from hybridgrad.symbolic.executor import SplitExecutable


def test_graph_command_prints_graph_and_memory(capsys):
    assert main(["graph", "--example", "notes"]) == 0
    out = capsys.readouterr().out
    assert "input A : float64(10,)" in out and "fused(" in out
    assert "naive executor             160       2" in out, out
    assert "compiled                    80       1" in out, out


def test_graph_command_unoptimized_and_training_step(capsys):
    assert main(["graph", "--example", "notes", "--no-optimize"]) == 0
    out = capsys.readouterr().out
    assert "mul(" in out and "add(" in out and "fused" not in out
    assert main(["graph", "--example", "mlp-train"]) == 0
    out = capsys.readouterr().out
    assert "assign(" in out and "effects" in out and "direct_writes=" in out


def test_graph_command_writes_dot(tmp_path, capsys):
    target = tmp_path / "g.dot"
    assert main(["graph", "--example", "mlp", "-o", str(target)]) == 0
    text = target.read_text()
    assert text.startswith('digraph "mlp (optimized)"') and "0.weight" in text


def test_graph_command_bad_extension_is_a_clear_error(tmp_path, capsys):
    assert main(["graph", "-o", str(tmp_path / "g.txt")]) == 2
    assert "use .dot, .svg, .png" in capsys.readouterr().err


def test_row_independent_graph_runs_in_row_blocks():
    x = Variable('x', shape=(1000, 64), dtype='float32')
    w = hg.randn(64, 256)
    b = hg.randn(256)
    y = ((x @ w + b).relu() @ hg.randn(256, 32)).log_softmax(dim=1)
    split = compile(y)
    whole = compile(y, split_batch=False)
    value = np.random.default_rng(0).standard_normal((1000, 64)).astype(np.float32)
    assert isinstance(split._last, SplitExecutable)
    assert split._last.rows < 1000 and 1000 % split._last.rows != 0  # a shorter last block too
    np.testing.assert_allclose(split(x=value), whole(x=value), rtol=1e-5, atol=1e-6)
    check_plan(split.plan)
    assert split.memory_report()["planned_bytes"] < whole.memory_report()["planned_bytes"] / 4
    # The shorter last block runs in the full block's buffers (it never runs at the same time).
    (tail,) = split._last._tails.values()
    assert tail.buffers and all(np.shares_memory(mine, theirs) for mine, theirs
                                in zip(tail.buffers, split._last.block.buffers))


def test_graphs_of_any_elementwise_primitive_are_split():
    # Before the operators' rows facts, floor, atan and the bitwise or shift operators were
    # missing from the batch splitter's list: a quantised layer ran whole. Now every elementwise
    # primitive declares ELEMENTWISE and the graph runs in row blocks, with the same results.
    from hybridgrad.ops.registry import apply

    x = Variable('x', shape=(1000, 64), dtype='float32')
    hidden = x @ hg.randn(64, 256) + hg.randn(256)
    quantised = apply("floor", hidden * 4.0) / 4.0
    y = (apply("atan", quantised) @ hg.randn(256, 32)).log_softmax(dim=1)
    split, whole = compile(y), compile(y, split_batch=False)
    value = np.random.default_rng(1).standard_normal((1000, 64)).astype(np.float32)
    assert isinstance(split._last, SplitExecutable)
    np.testing.assert_array_equal(split(x=value), whole(x=value))
    check_plan(split.plan)


def test_graphs_mixing_rows_are_not_split():
    x = Variable('x', shape=(1000, 64), dtype='float32')
    f = compile((x - x.mean(dim=0)) @ hg.randn(64, 64))  # the mean over the batch mixes rows
    assert not isinstance(f._last, SplitExecutable)


def test_symbolic_grad_errors():
    from hybridgrad.symbolic import SymbolError, grad

    x = Variable('x', shape=(3,))
    y = Variable('y', shape=(3,))
    with pytest.raises(SymbolError, match="pass grad_output"):
        grad(x * 2, [x])
    with pytest.raises(SymbolError, match="input 0 .* was not used"):
        grad((x * 2).sum(), [y])
    assert grad((x * 2).sum(), [y], allow_unused=True) == [None]
    with pytest.raises(SymbolError, match="shape is unknown"):
        grad(Variable('z') * 2, [x])
