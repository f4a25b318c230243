import json
import os
import struct
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import hybridgrad as hg
from hybridgrad.serialization import CheckpointError, read_metadata


def _model():
    hg.manual_seed(0)
    return hg.nn.Sequential(hg.nn.Linear(3, 4), hg.nn.Linear(4, 2))


def test_state_dict_round_trip_keeps_order_type_dtype(tmp_path):
    model = _model()
    path = tmp_path / "model.safetensors"
    hg.save(model.state_dict(), path)
    loaded = hg.load(path)
    assert isinstance(loaded, OrderedDict)
    assert list(loaded) == list(model.state_dict()) == ["0.weight", "0.bias", "1.weight",
                                                        "1.bias"]
    for key, value in model.state_dict().items():
        assert isinstance(loaded[key], hg.Tensor) and loaded[key].dtype == value.dtype
        assert np.array_equal(loaded[key]._array, value._array)
    other = hg.nn.Sequential(hg.nn.Linear(3, 4), hg.nn.Linear(4, 2))
    other.load_state_dict(loaded)
    x = hg.randn(5, 3)
    assert np.array_equal(other(x)._array, model(x)._array)


def test_flat_state_dict_is_plain_safetensors(tmp_path):
    model = _model()
    path = tmp_path / "model.safetensors"
    hg.save(model.state_dict(), path)
    raw = safetensors.numpy.load_file(str(path))  # what safetensors.torch.load_file sees
    assert sorted(raw) == sorted(model.state_dict())
    assert np.array_equal(raw["1.weight"], model.state_dict()["1.weight"]._array)


def test_pytorch_style_file_loads_into_matching_model(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"0.weight": rng.normal(size=(4, 3)).astype(np.float32),
               "0.bias": rng.normal(size=4).astype(np.float32),
               "1.weight": rng.normal(size=(2, 4)).astype(np.float32),
               "1.bias": rng.normal(size=2).astype(np.float32)}
    path = tmp_path / "torch.safetensors"
    safetensors.numpy.save_file(tensors, str(path), metadata={"format": "pt"})
    model = _model()
    model.load_state_dict(hg.load(path))
    x = rng.normal(size=(2, 3)).astype(np.float32)
    hidden = x @ tensors["0.weight"].T + tensors["0.bias"]
    expected = hidden @ tensors["1.weight"].T + tensors["1.bias"]
    assert np.allclose(model(hg.tensor(x))._array, expected, atol=1e-5)


def test_bf16_tensors_are_widened_to_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bits.tobytes())
    loaded = hg.load(path)["w"]
    assert loaded.dtype == np.float32 and loaded.tolist() == values.tolist()


def test_nested_checkpoint_round_trip(tmp_path):
    model = _model()
    optimizer_state = {"state": {0: {"step": hg.tensor(3.0), "exp_avg": hg.zeros(4, 3)}},
                       "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0, 1]}]}
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer_state, "epoch": 3,
                  "config": {"name": "mlp", "hidden": [4], "dropout": None, "flag": True,
                             "best": float("inf"), "nan": float("nan")},
                  "mask": np.arange(4, dtype=np.int32), "__odd__": "dunder key"}
    path = tmp_path / "ckpt.safetensors"
    hg.save(checkpoint, path, metadata={"commit": "abc"})
    loaded = hg.load(path)
    assert loaded["epoch"] == 3 and loaded["__odd__"] == "dunder key"
    assert loaded["config"]["hidden"] == [4] and loaded["config"]["dropout"] is None
    assert loaded["config"]["flag"] is True and loaded["config"]["best"] == float("inf")
    assert np.isnan(loaded["config"]["nan"])
    group = loaded["optimizer"]["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and group["params"] == [0, 1]
    assert list(loaded["optimizer"]["state"]) == [0]  # int key survives
    assert loaded["optimizer"]["state"][0]["step"].item() == 3.0
    assert isinstance(loaded["mask"], np.ndarray) and loaded["mask"].dtype == np.int32
    assert isinstance(loaded["model"], OrderedDict)
    model.load_state_dict(loaded["model"])
    keys = set(safetensors.numpy.load_file(str(path)))
    assert {"model.0.weight", "optimizer.state.0.exp_avg", "mask"} <= keys
    assert read_metadata(path) == {"commit": "abc"}


def test_shared_tensor_saved_once_and_loaded_shared(tmp_path):
    weight = hg.ones(3)
    hg.save({"encoder": {"w": weight}, "decoder": {"w": weight}}, tmp_path / "s.safetensors")
    loaded = hg.load(tmp_path / "s.safetensors")
    assert loaded["encoder"]["w"] is loaded["decoder"]["w"]
    assert len(safetensors.numpy.load_file(str(tmp_path / "s.safetensors"))) == 1


def test_colliding_dotted_keys_are_kept_apart(tmp_path):
    obj = {"a.b": hg.ones(1), "a": {"b": hg.zeros(1)}}
    hg.save(obj, tmp_path / "c.safetensors")
    loaded = hg.load(tmp_path / "c.safetensors")
    assert loaded["a.b"].item() == 1 and loaded["a"]["b"].item() == 0


def test_unsupported_values_are_refused_without_writing(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="'config.fn'"):
        hg.save({"config": {"fn": print}}, path)
    with pytest.raises(TypeError, match="str to str"):
        hg.save({}, path, metadata={"epoch": 3})
    with pytest.raises(ValueError, match="reserved"):
        hg.save({}, path, metadata={"hybridgrad.structure": "x"})
    assert not path.exists()


def test_loaded_tensors_are_writable(tmp_path):
    hg.save({"w": hg.ones(2)}, tmp_path / "w.safetensors")
    loaded = hg.load(tmp_path / "w.safetensors")["w"]
    loaded._array[0] = 5.0
    assert loaded.tolist() == [5.0, 1.0]


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, failing):
    path = tmp_path / "ckpt.safetensors"
    hg.save({"epoch": 1, "w": hg.ones(3)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated failure in {failing}")

    if failing == "write":
        import hybridgrad.serialization as serialization

        real = serialization.os.fdopen

        class Broken:
            def __init__(self, handle, mode):
                self.file = real(handle, mode)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.file.close()

            def write(self, data):
                self.file.write(data[: len(data) // 2])  # half written, then the disk fails
                raise OSError("simulated failure in write")

        monkeypatch.setattr(serialization.os, "fdopen", Broken)
    else:
        monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="simulated failure"):
        hg.save({"epoch": 2, "w": hg.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert hg.load(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary left behind


@pytest.mark.parametrize("cut", [0, 5, 8, 20, -1, -7])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    path = tmp_path / "ckpt.safetensors"
    hg.save({"model": _model().state_dict(), "epoch": 1}, path)
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(CheckpointError) as info:
        hg.load(path)
    assert str(path) in str(info.value)


def test_foreign_and_corrupt_files_are_clear_errors(tmp_path):
    foreign = tmp_path / "image.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(CheckpointError, match="image.png.*header length"):
        hg.load(foreign)
    text = tmp_path / "notes.txt"
    header = b"this is not json"
    text.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(CheckpointError, match="notes.txt.*not JSON"):
        hg.load(text)
    bad = tmp_path / "bad.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    with pytest.raises(CheckpointError, match=r"bad.safetensors.*'w'.*needs 16 bytes"):
        hg.load(bad)
    with pytest.raises(FileNotFoundError):
        hg.load(tmp_path / "missing.safetensors")


def test_load_never_unpickles(tmp_path):
    import pickle

    path = tmp_path / "pickle.pt"
    path.write_bytes(pickle.dumps({"w": [1, 2]}))
    with pytest.raises(CheckpointError):
        hg.load(path)


WRITER = """
import sys
import numpy as np
import hybridgrad as hg
path = sys.argv[1]
epoch = 0
while True:
    epoch += 1
    hg.save({"epoch": epoch, "w": hg.full((512, 1024), float(epoch))}, path)
    print(epoch, flush=True)
"""


@pytest.mark.slow
def test_killed_writer_never_leaves_a_broken_checkpoint(tmp_path):
    """Crash-safety harness: SIGKILL a process that saves in a loop; the file always loads."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "ckpt.safetensors"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = np.random.default_rng(0)
    root = os.path.dirname(os.path.dirname(os.path.abspath(hg.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for _ in range(8):
        process = subprocess.Popen([sys.executable, str(script), str(path)],
                                   stdout=subprocess.PIPE, text=True, env=env)
        process.stdout.readline()  # at least one checkpoint exists
        time.sleep(float(rng.uniform(0, 0.3)))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        checkpoint = hg.load(path)
        assert checkpoint["epoch"] >= 1
        assert np.all(checkpoint["w"]._array == checkpoint["epoch"])


def test_save_into_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        hg.save({"w": hg.ones(1)}, tmp_path / "nowhere" / "c.safetensors")
