"""Training checkpoints round-trip every kind of state the trainer stores."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_keeps_shapes_types_and_big_integers(tmp_path):
    bn = hg.nn.BatchNorm2d(3)
    state = {"model_state": dict(bn.state_dict()), "step": 7,
             "optimizers": {"adam": {"state": {0: {"step": hg.tensor(3.0)}},
                                     "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999)}]}},
             "rng": str(2 ** 127 + 5), "array": np.arange(6.0).reshape(2, 3).T}
    path = tmp_path / "c.safetensors"
    save_checkpoint(state, str(path))
    back = load_checkpoint(str(path))
    for key, value in bn.state_dict().items():
        assert back["model_state"][key].shape == value.shape, key  # 0-d num_batches_tracked
    assert back["optimizers"]["adam"]["state"][0]["step"].shape == ()
    assert back["optimizers"]["adam"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["rng"] == str(2 ** 127 + 5) and back["step"] == 7
    np.testing.assert_array_equal(back["array"], state["array"])
    hg.nn.BatchNorm2d(3).load_state_dict(back["model_state"])


def test_weights_only_files_and_garbage_are_refused(tmp_path):
    weights = tmp_path / "w.safetensors"
    hg.save({"w": hg.ones(2)}, str(weights))
    with pytest.raises(CheckpointError, match="not a checkpoint written by"):
        load_checkpoint(str(weights))
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"\x00" * 3)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(str(garbage))
