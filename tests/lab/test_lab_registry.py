"""The experiment registry and the measurement helpers that can be checked against
hand-computed values."""

import numpy as np
import pytest

from hybridgrad import lab
from hybridgrad.lab import gan_vs_vae, normalization


def test_every_experiment_is_registered_with_claims():
    expected = {"normalization", "loss", "one-hot", "positional-encoding", "attention",
                "paradigms", "epochs-batches", "cnn-depth-width", "iris", "gan-vs-vae", "ctc"}
    assert set(lab.names()) == expected
    for name in lab.names():
        zh, en = lab.claim(name)
        assert zh and en, name
        assert callable(lab.get(name).run)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(KeyError, match="did you mean 'one-hot'"):
        lab.get("one_hot")


def test_diversity_and_sharpness_by_hand():
    images = np.zeros((4, 1, 4, 4))
    images[1] = 1.0  # label 0: one black, one white image -> RMS distance 1
    labels = np.array([0, 0, 1, 1])  # label 1: two identical images -> 0
    assert gan_vs_vae.diversity(images, labels) == pytest.approx(0.5)
    dot = np.zeros((1, 1, 3, 3))
    dot[0, 0, 1, 1] = 1.0  # the Laplacian at the one interior pixel is -4
    assert gan_vs_vae.sharpness(dot) == pytest.approx(16.0)
    assert gan_vs_vae.sharpness(np.full((1, 1, 5, 5), 0.3)) == 0.0
    assert gan_vs_vae.saturation(np.array([0.05, 0.5, 0.95, 0.2])) == 0.5


def test_saturated_share_thresholds():
    values = np.array([0.01, 0.03, 0.5, 0.97, 0.99])
    assert normalization.saturated_share(values, "sigmoid") == pytest.approx(2 / 5)
    assert normalization.saturated_share(np.array([-0.97, 0.95, 0.0]), "tanh") == \
        pytest.approx(1 / 3)


def test_jsonable():
    value = lab.jsonable({(1, 2): np.float64(0.5), "a": [np.int64(3), np.array([True])]})
    assert value == {"(1, 2)": 0.5, "a": [3, [True]]}
    assert type(value["a"][0]) is int
