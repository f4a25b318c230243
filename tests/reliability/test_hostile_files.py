"""Hostile files: truncated, bit-flipped and crafted IDX, safetensors and ONNX inputs end in a
normal result or the project's own error, quickly, without large allocations. The long fuzz run
is tools/fuzz_files.py."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad import limits
from hybridgrad.data.mnist import IDXError, read_idx
from hybridgrad.onnx import OnnxImportError
from hybridgrad.serialization import CheckpointError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import fuzz_files  # noqa: E402

FAST = settings(max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", autouse=True)
def small_limits():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HYBRIDGRAD_MAX_ALLOC", "256M")
        patch.setenv("HYBRIDGRAD_MAX_LOOP_ITERATIONS", "10000")
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def seeds(folder):
    return {"idx": fuzz_files.idx_seeds(), "onnx": fuzz_files.onnx_seeds(),
            "safetensors": fuzz_files.safetensors_seeds(folder),
            "torch": fuzz_files.torch_seeds()}


RUNNERS = {"idx": fuzz_files.run_idx, "safetensors": fuzz_files.run_safetensors,
           "onnx": fuzz_files.run_onnx, "torch": fuzz_files.run_torch}


def _check(fmt, name, data, folder):
    outcome, detail = fuzz_files.classify(RUNNERS[fmt], name, data, folder)
    assert outcome in ("ok", "clean error"), f"{fmt} {name}: {outcome}: {detail}"
    return outcome


@pytest.mark.parametrize("fmt", ["idx", "safetensors", "onnx", "torch"])
def test_seeds_load(fmt, seeds, folder):
    for name, data in seeds[fmt]:
        assert _check(fmt, name, data, folder) == "ok", name


@pytest.mark.parametrize("fmt,name,data", [
    (fmt, name, data) for fmt, crafted in (("idx", fuzz_files.idx_crafted()),
                                           ("safetensors", fuzz_files.safetensors_crafted()),
                                           ("onnx", fuzz_files.onnx_crafted()),
                                           ("torch", fuzz_files.torch_crafted()))
    for name, data in crafted], ids=lambda value: value if isinstance(value, str) and len(
        value) < 60 else "")
def test_crafted_inputs_fail_cleanly(fmt, name, data, folder):
    _check(fmt, name, data, folder)


@pytest.mark.parametrize("fmt", ["idx", "safetensors", "onnx", "torch"])
@FAST
@given(choice=st.integers(0, 10 ** 6), mutation_seed=st.integers(0, 2 ** 32 - 1),
       rounds=st.integers(1, 3))
def test_mutated_inputs_end_in_result_or_clean_error(fmt, seeds, folder, choice, mutation_seed,
                                                     rounds):
    name, data = seeds[fmt][choice % len(seeds[fmt])]
    rng = random.Random(mutation_seed)
    for _ in range(rounds):
        data = fuzz_files.mutate(data, rng)
    _check(fmt, name, data, folder)


@pytest.mark.parametrize("fmt", ["safetensors", "onnx", "torch"])
@FAST
@given(choice=st.integers(0, 10 ** 6), mutation_seed=st.integers(0, 2 ** 32 - 1),
       rounds=st.integers(1, 3))
def test_structure_mutations_end_in_result_or_clean_error(fmt, seeds, folder, choice,
                                                          mutation_seed, rounds):
    # Mutations that keep the container well-formed (JSON header, protobuf), so the checks
    # behind the parser and the ONNX operators themselves are reached.
    name, data = seeds[fmt][choice % len(seeds[fmt])]
    rng = random.Random(mutation_seed)
    for _ in range(rounds):
        data = fuzz_files.mutate_structure(fmt, data, rng)
    _check(fmt, name, data, folder)


@FAST
@given(cut=st.integers(0, 10 ** 6))
def test_every_truncation_of_a_checkpoint_is_a_checkpoint_error(seeds, folder, cut):
    name, data = seeds["safetensors"][0]
    cut %= len(data)
    path = os.path.join(folder, "cut.safetensors")
    with open(path, "wb") as handle:
        handle.write(data[:cut])
    with pytest.raises(CheckpointError, match="cut.safetensors"):
        hg.load(path)


def test_idx_declared_size_checked_against_limit_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(fuzz_files.idx_bytes(np.zeros((3, 4, 4), np.uint8)))
    assert read_idx(path).shape == (3, 4, 4)
    monkeypatch.setenv("HYBRIDGRAD_MAX_ALLOC", "16")
    with pytest.raises(IDXError, match="over the limit of 16 bytes.*HYBRIDGRAD_MAX_ALLOC"):
        read_idx(path)


def test_checkpoint_declared_sizes_are_bounded_by_the_file(tmp_path):
    # safetensors declares every byte range; each must lie inside the file, so what is
    # allocated is bounded by the file's real size (no separate limit needed).
    path = tmp_path / "w.safetensors"
    path.write_bytes(fuzz_files.safetensors_raw(
        {"w": {"dtype": "F64", "shape": [2 ** 30], "data_offsets": [0, 2 ** 33]}}, bytes(8)))
    with pytest.raises(CheckpointError, match="ends at byte 8589934592 of the data section, "
                                              "which holds only 8 bytes"):
        hg.load(path)


def test_onnx_limit_messages_name_node_and_setting(folder):
    crafted = dict(fuzz_files.onnx_crafted())
    for op in ("ConstantOfShape", "Expand", "Tile"):
        with pytest.raises(OnnxImportError, match=f"{op} node .*over the limit of 268435456"):
            fuzz_files.run_onnx("unchecked-big", crafted[f"unchecked-big-{op}.onnx"], folder)
    with pytest.raises(OnnxImportError, match="initializer 'W'.*over the limit"):
        fuzz_files.run_onnx("unchecked-x", crafted["unchecked-lying-initializer.onnx"], folder)
    with pytest.raises(OnnxImportError, match="Loop node .*10000 iterations"):
        fuzz_files.run_onnx("x", crafted["endless-loop.onnx"], folder)
    with pytest.raises(OnnxImportError, match="input 'b' is not computed by any earlier node"):
        fuzz_files.run_onnx("unchecked-x", crafted["unchecked-cycle.onnx"], folder)


def test_onnx_initializer_with_too_little_data(folder):
    import onnx
    from onnx import TensorProto, helper

    liar = onnx.TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4], float_data=[1.0])
    graph = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              [liar])
    data = helper.make_model(graph).SerializeToString()
    with pytest.raises(OnnxImportError, match="declares shape \\(4,\\) \\(4 values\\) but holds 1"):
        hg.onnx.load(data, check=False)


def test_limits_parse_and_override(monkeypatch):
    assert limits.parse_size("1.5K") == 1536
    monkeypatch.setenv("HYBRIDGRAD_MAX_ALLOC", "1G")
    assert limits.max_alloc_bytes() == 1024 ** 3
    assert limits.exceeds((2 ** 28 + 1,), 4) and not limits.exceeds((2 ** 28,), 4)
    monkeypatch.setenv("HYBRIDGRAD_MAX_ALLOC", "lots")
    with pytest.raises(ValueError, match="HYBRIDGRAD_MAX_ALLOC"):
        limits.max_alloc_bytes()


def test_onnx_graph_output_never_computed():
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    module = hg.onnx.load(helper.make_model(graph), check=False)
    with pytest.raises(OnnxImportError, match=r"outputs \['y'\] are not computed by any node"):
        module(hg.ones(1))
