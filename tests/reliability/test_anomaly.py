"""Anomaly mode names the first operator whose forward or backward produced NaN/Inf, with its
input shapes and the user's line that created it."""

import re

import numpy as np
import pytest

import hybridgrad as hg

THIS_FILE = re.escape(__file__)


def _line_of(marker: str) -> int:
    with open(__file__, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if marker in line and "_line_of" not in line:
                return number
    raise AssertionError(marker)


def test_forward_nan_names_op_shapes_and_user_line():
    x = hg.tensor([[1.0, -1.0, 2.0]], requires_grad=True)
    with hg.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            hg.log(x)  # MARK-forward
    message = str(info.value)
    assert message.startswith("log: forward produced NaN/Inf (inputs: shape (1, 3) float32)")
    assert "the result holds NaN" in message
    assert f"{__file__}:{_line_of('MARK-forward')}" in message


def test_backward_inf_names_op_created_in_user_code_through_a_layer():
    x = hg.tensor([0.0, 4.0], requires_grad=True)
    with hg.autograd.detect_anomaly():
        hidden = x * 2.0
        root = hg.sqrt(hidden)  # MARK-backward
        loss = root.sum()
        with pytest.raises(FloatingPointError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("sqrt: backward produced NaN/Inf (inputs: shape (2,) float32)")
    assert f"{__file__}:{_line_of('MARK-backward')}" in message


def test_location_skips_frames_inside_hybridgrad():
    # log_softmax of -inf everywhere is NaN; the op is created inside hybridgrad.nn.functional,
    # and the location reported is this file, not the library.
    logits = hg.tensor([[-np.inf, -np.inf]], requires_grad=True)
    with hg.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            hg.nn.functional.log_softmax(logits, dim=1)  # MARK-layer
    message = str(info.value)
    assert "hybridgrad/nn" not in message.split("created at")[1]
    assert f"{__file__}:{_line_of('MARK-layer')}" in message


def test_first_bad_operator_is_named_not_a_later_one():
    x = hg.tensor([-1.0], requires_grad=True)
    with hg.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            y = hg.sqrt(x)  # NaN here first
            hg.exp(y * 1000.0)
    assert str(info.value).startswith("sqrt: forward")


def test_set_anomaly_aliases_and_off_by_default():
    assert not hg.autograd.is_anomaly_enabled()
    x = hg.tensor([1.0], requires_grad=True)
    y = x * 2.0
    assert y.grad_fn.created_at is None  # nothing recorded when the mode is off
    assert np.isnan(hg.log(hg.tensor([-1.0]))._array).all()  # no error when the mode is off
    for switch in (hg.set_anomaly, hg.autograd.set_detect_anomaly):
        switch(True)
        try:
            assert hg.is_anomaly_enabled()
            y = x * 2.0
            assert y.grad_fn.created_at.startswith(__file__)
            with pytest.raises(FloatingPointError, match="log: forward"):
                hg.log(hg.tensor([-1.0]))
        finally:
            switch(False)
        assert not hg.is_anomaly_enabled()


def test_finite_computation_passes_and_matches():
    x = hg.tensor([0.5, 2.0], requires_grad=True)
    with hg.autograd.detect_anomaly():
        loss = (hg.log(x) * hg.sqrt(x)).sum()
        loss.backward()
    expected = 1 / np.sqrt([0.5, 2.0]) + np.log([0.5, 2.0]) / (2 * np.sqrt([0.5, 2.0]))
    np.testing.assert_allclose(x.grad._array, expected, rtol=1e-6)
