"""Compiled training with the library's own optimizers, losses and layers (hg.optim, nn losses,
Dropout): these run once those features are merged with this branch (they are written on other
branches), and check that the compiled step equals the eager loop step for step."""

from __future__ import annotations

import os

import numpy as np
import pytest

import hybridgrad as hg

# (Checked in this checkout's own tree: an editable install elsewhere could otherwise provide
# a hybridgrad.optim that does not belong with this checkout's hybridgrad.)
_HERE = os.path.dirname(hg.__file__)
if not (os.path.isdir(os.path.join(_HERE, "optim")) and hasattr(hg.nn, "CrossEntropyLoss")):
    pytest.skip("hg.optim and hg.nn.CrossEntropyLoss are merged from other branches",
                allow_module_level=True)
from hybridgrad import optim  # noqa: E402


def _model():
    hg.manual_seed(0)
    return hg.nn.Sequential(hg.nn.Linear(6, 16), _Relu(), hg.nn.Linear(16, 4))


class _Relu(hg.nn.Module):
    def forward(self, x):
        return hg.relu(x)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1),
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=True),
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.2),
    lambda p: optim.Adam(p, lr=0.01),
    lambda p: optim.Adam(p, lr=0.01, weight_decay=0.05),
    lambda p: optim.AdamW(p, lr=0.01),
])
def test_train_step_matches_the_library_optimizers(make):
    loss_fn = hg.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    eager, compiled = _model(), _model()
    eager_opt, compiled_opt = make(eager.parameters()), make(compiled.parameters())
    step = hg.jit.train_step(compiled, loss_fn, compiled_opt)
    for _ in range(5):
        x = hg.tensor(rng.standard_normal((8, 6)).astype(np.float32))
        t = hg.tensor(rng.integers(0, 4, 8))
        eager_opt.zero_grad()
        loss = loss_fn(eager(x), t)
        loss.backward()
        eager_opt.step()
        np.testing.assert_allclose(step(x, t).item(), loss.item(), rtol=1e-5)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-6)
    # The state is in the optimizer's own layout: an eager step can continue from it.
    eager_opt.zero_grad()
    compiled_opt.zero_grad()
    x = hg.tensor(rng.standard_normal((8, 6)).astype(np.float32))
    t = hg.tensor(rng.integers(0, 4, 8))
    for model, opt in ((eager, eager_opt), (compiled, compiled_opt)):
        loss_fn(model(x), t).backward()
        opt.step()
    for a, b in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-6)


def test_library_dropout_traces_in_training_mode_and_eval_traces():
    if not hasattr(hg.nn, "Dropout"):
        pytest.skip("hg.nn.Dropout is merged from another branch")
    model = hg.nn.Sequential(hg.nn.Linear(3, 3), hg.nn.Dropout(0.5))
    # Training mode: the mask is a random primitive drawn when the graph runs.
    traced = hg.jit.trace(model, hg.ones(2, 3))
    hg.manual_seed(5)
    expected = model(hg.ones(2, 3))._array
    hg.manual_seed(5)
    np.testing.assert_allclose(traced(hg.ones(2, 3))._array, expected, rtol=1e-6)
    model.eval()
    traced = hg.jit.trace(model, hg.ones(2, 3))
    np.testing.assert_allclose(traced(hg.ones(2, 3))._array, model(hg.ones(2, 3))._array, rtol=1e-6)
