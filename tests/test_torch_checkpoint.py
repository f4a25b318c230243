"""hg.load on PyTorch zip checkpoints (written here by tools/torch_files.py, without PyTorch):
state dicts and tensors come back exactly; hostile pickles are refused by name before anything
runs; corrupt files end in a clear error."""

from __future__ import annotations

import io
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.serialization import CheckpointError
from hybridgrad.torch_checkpoint import (
    TorchCheckpointError,
    UnsafeCheckpointError,
    load_torch_checkpoint,
)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import torch_files as tf  # noqa: E402


def load_bytes(data: bytes):
    return load_torch_checkpoint(io.BytesIO(data))


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_state_dict_round_trip_every_dtype(tmp_path, byteorder):
    rng = np.random.default_rng(0)
    arrays = OrderedDict([
        ("fc.weight", rng.standard_normal((3, 4)).astype(np.float32)),
        ("fc.bias", rng.standard_normal(3)),
        ("half", rng.standard_normal(5).astype(np.float16)),
        ("bn.num_batches_tracked", np.array(7, dtype=np.int64)),
        ("ids", np.arange(6, dtype=np.int32).reshape(2, 3)),
        ("mask", np.array([True, False])),
        ("bytes", np.arange(4, dtype=np.uint8)),
        ("empty", np.zeros((0, 3), np.float32)),
    ])
    path = tmp_path / "model.pt"
    path.write_bytes(tf.state_dict_file(arrays, folder="model", byteorder=byteorder))
    loaded = hg.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(arrays)
    assert loaded._metadata == {"": {"version": 1}}
    for name, array in arrays.items():
        assert loaded[name].numpy().dtype == array.dtype
        np.testing.assert_array_equal(loaded[name].numpy(), array)


def test_loads_into_a_model_with_map_location_and_weights_only(tmp_path):
    model = hg.nn.Linear(2, 3)
    weight = np.arange(6, dtype=np.float32).reshape(3, 2)
    path = tmp_path / "linear.pth"
    path.write_bytes(tf.state_dict_file({"weight": weight, "bias": np.ones(3, np.float32)}))
    state = hg.load(str(path), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    assert model(hg.ones(1, 2)).tolist() == [[2.0, 6.0, 10.0]]
    with open(path, "rb") as handle:  # a file object, as torch.load(f) takes
        assert hg.load(handle, map_location=lambda s, loc: s)["bias"].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="map_location"):
        hg.load(path, map_location="tpu")


def test_strided_views_parameters_nested_containers_and_bfloat16():
    storages = {"0": np.arange(12, dtype=np.float32).tobytes(),
                # bfloat16 1.5 and -2.25: the high halves of their float32 patterns
                "1": np.array([0x3FC0, 0xC010], dtype="<u2").tobytes()}
    column = tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                     (tf.Storage("FloatStorage", "0", 12), 1, (3,), (4,), False, OrderedDict()))
    transposed = tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                         (tf.Storage("FloatStorage", "0", 12), 0, (4, 3), (1, 4), False,
                          OrderedDict()))
    bf16 = tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                   (tf.Storage("BFloat16Storage", "1", 2), 0, (2,), (1,), False, OrderedDict()))
    parameter = tf.Call(tf.Global("torch._utils", "_rebuild_parameter"),
                        (column, True, OrderedDict()))
    obj = {"column": column, "t": transposed, "bf16": bf16, "param": parameter,
           "size": tf.Call(tf.Global("torch", "Size"), ([3, 4],)), "epoch": 3, "lr": 0.5,
           "nested": [1, (2, "three"), None, True],
           "blob": tf.Call(tf.Global("_codecs", "encode"), ("abc", "latin1")),
           "dtype": tf.Global("torch", "float32")}
    loaded = load_bytes(tf.zip_file(tf.pickle_bytes(obj), storages))
    assert loaded["column"].tolist() == [1.0, 5.0, 9.0]
    assert loaded["t"].tolist() == np.arange(12.0).reshape(3, 4).T.tolist()
    assert loaded["bf16"].tolist() == [1.5, -2.25]
    assert isinstance(loaded["param"], hg.nn.Parameter) and loaded["param"].requires_grad
    assert loaded["size"] == (3, 4) and loaded["epoch"] == 3 and loaded["lr"] == 0.5
    assert loaded["nested"] == [1, (2, "three"), None, True] and loaded["blob"] == b"abc"
    assert loaded["dtype"] == np.float32


HOSTILE = [
    ("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
    ("subprocess", "Popen"), ("builtins", "getattr"), ("torch.nn.modules.linear", "Linear"),
    ("__main__", "Net"), ("numpy", "load"), ("torch", "load"),
]


@pytest.mark.parametrize("module,name", HOSTILE)
def test_hostile_globals_are_refused_before_anything_runs(tmp_path, module, name):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    payload = tf.Call(tf.Global(module, name), (command,))
    data = tf.zip_file(tf.pickle_bytes({"weight": payload}), {})
    path = tmp_path / "evil.pt"
    path.write_bytes(data)
    with pytest.raises(UnsafeCheckpointError, match=rf"{module}\.{name}") as error:
        hg.load(path)
    assert "weights_only" in str(error.value) and str(path) in str(error.value)
    assert not marker.exists()


def test_real_side_effect_marker_with_the_instance_opcodes(tmp_path):
    # INST / OBJ / STACK_GLOBAL spell the same call differently; none may get through.
    marker = tmp_path / "ran"
    command = f"touch {marker}".encode()
    inst = b"\x80\x02(X" + len(command).to_bytes(4, "little") + command + b"ios\nsystem\n."
    stack_global = (b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00" + b"\x8c\x02os\x8c\x06system"
                    b"\x93X" + len(command).to_bytes(4, "little") + command + b"\x85R.")
    for pickled in (inst, stack_global):
        with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
            load_bytes(tf.zip_file(pickled, {}))
    assert not marker.exists()


def test_build_on_anything_but_a_state_dict_is_refused():
    storages = {"0": np.zeros(1, np.float32).tobytes()}
    built = tf.Build(tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                             (tf.Storage("FloatStorage", "0", 1), 0, (1,), (1,), False,
                              OrderedDict())), {"_array": 1})
    with pytest.raises(UnsafeCheckpointError, match="state of a Tensor"):
        load_bytes(tf.zip_file(tf.pickle_bytes(built), storages))


def _tensor_over(numel_declared: int, size: tuple, stride: tuple, offset: int = 0,
                 stored: int = 4):
    storages = {"0": np.zeros(stored, np.float32).tobytes()}
    call = tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                   (tf.Storage("FloatStorage", "0", numel_declared), offset, size, stride,
                    False, OrderedDict()))
    return tf.zip_file(tf.pickle_bytes(call), storages)


MISSING_STORAGE = tf.Call(tf.Global("torch._utils", "_rebuild_tensor_v2"),
                          (tf.Storage("FloatStorage", "9", 1), 0, (1,), (1,), False,
                           OrderedDict()))


@pytest.mark.parametrize("data,message", [
    (_tensor_over(10**15, (4,), (1,)), "declares 1000000000000000 elements"),
    (_tensor_over(4, (10**12,), (1,)), "reaches element"),
    (_tensor_over(4, (2, 2), (2, 1), offset=1), "reaches element"),
    (_tensor_over(4, (2,), (-1,)), "invalid tensor layout"),
    (tf.zip_file(tf.pickle_bytes(MISSING_STORAGE), {}), "data/9 is missing"),
    (tf.zip_file(b"\x80\x02]q", {}), "pickle is unreadable"),
    (tf.zip_file(b"\x80\x02B\xff\xff\xff\x7f.", {}), "pickle is unreadable"),
    (b"PK\x03\x04" + b"\x00" * 40, "zip directory is unreadable"),
    (tf.zip_file(tf.pickle_bytes(1), {})[:-30], "zip directory is unreadable"),
], ids=["huge-numel", "huge-size", "past-end", "negative-stride", "missing-storage",
        "truncated-pickle", "huge-bytes", "no-directory", "truncated-zip"])
def test_corrupt_files_fail_quickly_with_a_clear_error(data, message):
    start = time.perf_counter()
    with pytest.raises(TorchCheckpointError, match=message):
        load_bytes(data)
    assert time.perf_counter() - start < 1.0


def test_bit_flips_and_truncations_end_in_the_project_error():
    rng = np.random.default_rng(1)
    seed = tf.state_dict_file({"w": np.ones((4, 4), np.float32), "b": np.zeros(4, np.int64)})
    for _ in range(200):
        data = bytearray(seed)
        if rng.random() < 0.5:
            data = data[:rng.integers(len(data))]
        else:
            for index in rng.integers(0, len(data), size=4):
                data[index] ^= 1 << int(rng.integers(8))
        try:
            load_bytes(bytes(data))
        except CheckpointError:
            pass


def test_legacy_format_and_non_checkpoints_are_named(tmp_path):
    legacy = tmp_path / "old.pt"
    legacy.write_bytes(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")
    with pytest.raises(TorchCheckpointError, match="legacy format"):
        hg.load(legacy)
    with pytest.raises(TorchCheckpointError, match="no <folder>/data.pkl"):
        load_bytes(tf.zip_file(b"", {}).replace(b"archive/data.pkl", b"archive/other.pk"))


def test_save_to_a_file_object_and_whole_modules_refused():
    buffer = io.BytesIO()
    hg.save({"w": hg.ones(2)}, buffer)
    buffer.seek(0)
    assert hg.load(buffer)["w"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match=r"whole module Linear.*state_dict\(\)"):
        hg.save(hg.nn.Linear(1, 1), io.BytesIO())
