"""tools/captcha_o_vs_0.py: the isolated O-versus-0 experiment behind docs/results.md."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("captcha_o_vs_0")


def test_glyphs_are_deterministic_single_characters_of_both_classes(tool):
    images, labels = tool.render(40, seed=5)
    again, labels_again = tool.render(40, seed=5)
    other, _ = tool.render(40, seed=6)
    assert images.shape == (40, 64, 80) and images.dtype == np.uint8
    assert (images == again).all() and (labels == labels_again).all()
    assert not (images == other).all()
    assert set(labels.tolist()) == {0, 1}        # both O and 0 drawn


def test_a_smoke_run_reports_accuracy_and_both_error_directions(tool):
    result = tool.run(train=64, test=32, epochs=1, factors=(2,), log=None)
    report = result["2"]
    assert report["input"] == "32x40" and report["test"] == 32
    errors = report["O_read_as_0"] + report["0_read_as_O"]
    assert report["accuracy"] == 1 - errors / 32
