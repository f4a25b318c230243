"""hg.autocast accepts mixed-precision requests; GradScaler follows PyTorch's scaling rules."""

import numpy as np

import hybridgrad as hg


def _setup():
    w = hg.nn.Parameter(hg.tensor([1.0, -2.0]))
    return w, hg.optim.SGD([w], lr=0.5)


def test_scaled_step_equals_the_unscaled_step():
    w, optimizer = _setup()
    scaler = hg.amp.GradScaler(init_scale=1024.0)
    loss = (w * w).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == loss.item() * 1024
    scaled.backward()
    scaler.step(optimizer)
    scaler.update()
    # Gradient 2w = [2, -4] after unscaling; w - 0.5 * grad = [0, 0].
    assert w.tolist() == [0.0, 0.0] and scaler.get_scale() == 1024.0


def test_inf_gradient_skips_the_step_and_backs_off():
    w, optimizer = _setup()
    scaler = hg.amp.GradScaler(init_scale=8.0, growth_interval=1)
    scaler.scale((w * float("inf")).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
    assert w.tolist() == [1.0, -2.0] and scaler.get_scale() == 4.0
    optimizer.zero_grad()
    scaler.scale(w.sum()).backward()
    scaler.unscale_(optimizer)
    np.testing.assert_allclose(w.grad.tolist(), [1.0, 1.0])
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 8.0  # grew after growth_interval good steps
    assert hg.amp.GradScaler(enabled=False).scale(hg.tensor([1.0, -2.0]).sum()).item() == -1.0


def test_autocast_forms_keep_dtypes():
    with hg.autocast(device_type="cpu", dtype=hg.bfloat16):
        assert (hg.ones(2) @ hg.ones(2)).dtype == np.float32
    with hg.amp.autocast("cpu", enabled=False):
        pass

    @hg.autocast("cpu")
    def forward(x):
        return x + 1

    assert forward(hg.ones(1)).tolist() == [2.0]
