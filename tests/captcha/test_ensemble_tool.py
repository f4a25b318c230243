"""tools/captcha_ensemble.py: averaging CRNN checkpoints frame by frame (docs/results.md)."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.data.captcha_cache import load_split
from hybridgrad.training.captcha import (
    build_model,
    load_checkpoint,
    resolve_config,
    save_weights,
    spec_of,
)


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("captcha_ensemble")


def test_average_is_the_log_of_the_mean_probability_frame_by_frame(tool):
    rng = np.random.default_rng(0)
    members = [np.log(rng.dirichlet(np.ones(5), size=(3, 2))) for _ in range(3)]
    got = tool.average_log_probs(members)
    expected = np.log(np.mean([np.exp(m) for m in members], axis=0))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.exp(got).sum(axis=2), 1.0, rtol=1e-6)
    # stable where exp underflows: -1000 and -1001 average to log((e^-1000 + e^-1001) / 2)
    far = tool.average_log_probs([np.full((1, 1, 1), -1000.0), np.full((1, 1, 1), -1001.0)])
    assert far[0, 0, 0] == pytest.approx(-1000 + np.log((1 + np.exp(-1)) / 2), abs=1e-3)


def _checkpoint(tmp_path, name, seed, **overrides):
    config = resolve_config(overrides, quick=True)
    hg.manual_seed(seed)
    path = str(tmp_path / f"{name}.safetensors")
    save_weights(build_model(config), config, path)
    return path


def test_members_are_scored_alone_and_the_ensemble_decodes_their_average(tool, tmp_path):
    first, second = _checkpoint(tmp_path, "a", 0), _checkpoint(tmp_path, "b", 1)
    result = tool.run([first, second], count=6, cache_dir=str(tmp_path / "cache"), log=None)
    assert [m["checkpoint"] for m in result["members"]] == [first, second]
    assert result["test"] == 6
    # The ensemble's reads are the greedy reads of the averaged frames.
    loaded = [load_checkpoint(p) for p in (first, second)]
    images, texts = load_split(spec_of(loaded[0][2]), "test", 6, seed=0,
                               cache_dir=str(tmp_path / "cache"))
    frames = [tool.frame_log_probs(model, images, config) for model, _, config in loaded]
    reads, _ = tool.ctc_decode(tool.average_log_probs(frames), loaded[0][1])
    assert result["ensemble"]["accuracy"] == np.mean([t == r for t, r in zip(texts, reads)])


def test_models_that_cannot_be_averaged_are_refused_by_name(tool, tmp_path):
    crnn = _checkpoint(tmp_path, "crnn", 0)
    onehot = _checkpoint(tmp_path, "onehot", 0, model="onehot")
    with pytest.raises(ValueError, match="onehot.safetensors is a 'onehot' model"):
        tool.run([crnn, onehot], count=2, cache_dir=str(tmp_path / "cache"), log=None)
    other_length = _checkpoint(tmp_path, "long", 0, length="5")
    with pytest.raises(ValueError, match="long.safetensors was trained on other captchas"):
        tool.run([crnn, other_length], count=2, cache_dir=str(tmp_path / "cache"), log=None)
    fewer_steps = _checkpoint(tmp_path, "steps", 0, wide_pools=3)
    with pytest.raises(ValueError, match="time steps"):
        tool.run([crnn, fewer_steps], count=2, cache_dir=str(tmp_path / "cache"), log=None)
