"""Module behaviour on the layers of this package: parameter order, PyTorch's state_dict keys,
strict loading errors, train/eval, apply, zero_grad."""

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad import nn


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5),
    )


PYTORCH_KEYS = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                "1.num_batches_tracked", "4.weight", "4.bias"]
# The shapes torch.nn would give the same model.
PYTORCH_SHAPES = [(4, 1, 3, 3), (4,), (4,), (4,), (4,), (4,), (), (5, 36), (5,)]


def test_named_parameters_order_and_state_dict_keys():
    model = small_cnn()
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    state = model.state_dict()
    assert list(state) == PYTORCH_KEYS
    assert [tuple(v.shape) for v in state.values()] == PYTORCH_SHAPES
    assert state["1.num_batches_tracked"].dtype == np.int64


def test_forward_shape():
    assert small_cnn()(hg.randn(2, 1, 8, 8)).shape == (2, 5)


def test_load_state_dict_round_trip():
    a, b = small_cnn(), small_cnn()
    a(hg.randn(3, 1, 8, 8))  # changes running stats
    b.load_state_dict({k: v.numpy() for k, v in a.state_dict().items()})
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(x._array, y._array, err_msg=name)
    a.eval(), b.eval()
    x = hg.randn(2, 1, 8, 8)
    np.testing.assert_array_equal(a(x)._array, b(x)._array)


def test_strict_load_lists_missing_unexpected_and_wrong_shapes():
    model = small_cnn()
    state = dict(model.state_dict())
    del state["1.running_var"]
    state["9.weight"] = np.zeros(2)
    state["0.weight"] = np.zeros((4, 1, 5, 5), dtype=np.float32)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "1.running_var" in message and "9.weight" in message
    assert "0.weight" in message and "(4, 1, 5, 5)" in message and "(4, 1, 3, 3)" in message


def test_non_strict_load_reports_keys():
    model = small_cnn()
    state = dict(model.state_dict())
    del state["4.bias"]
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["4.bias"] and result.unexpected_keys == ["extra"]


def test_train_eval_reaches_every_layer_and_changes_batchnorm():
    model = small_cnn()
    model.eval()
    assert all(not m.training for m in model.modules())
    x = hg.randn(4, 1, 8, 8)
    before = model[1].running_mean.tolist()
    model(x)
    assert model[1].running_mean.tolist() == before
    model.train()
    assert all(m.training for m in model.modules())
    model(x)
    assert model[1].running_mean.tolist() != before


def test_apply_reinitialises_convolutions():
    model = small_cnn()

    def reset(module):
        if isinstance(module, nn.Conv2d):
            nn.init.zeros_(module.weight)

    assert model.apply(reset) is model
    assert model[0].weight._array.sum() == 0 and model[4].weight._array.sum() != 0


def test_zero_grad():
    model = small_cnn()
    model(hg.randn(2, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad._array.sum() == 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_conv_gradients_flow_to_all_parameters():
    model = small_cnn()
    model(hg.randn(2, 1, 8, 8)).sum().backward()
    assert np.abs(model[0].weight.grad._array).sum() > 0
    assert model[0].weight.grad.shape == model[0].weight.shape
    assert model[1].weight.grad.dtype == np.float32


def test_tiny_cnn_learns_bar_orientation():
    # End to end: conv, batch norm, max pool, linear and manual SGD fit a task they must learn
    # (horizontal vs vertical bars at random positions, with noise).
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.3, (64, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 2, 64)
    for image, label, where in zip(images, labels, rng.integers(1, 7, 64)):
        if label:
            image[0, :, where] += 1.0
        else:
            image[0, where, :] += 1.0
    hg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    x, y = hg.tensor(images), hg.tensor(labels)

    def loss_fn():
        log_probs = hg.log_softmax(model(x), dim=1)
        return -hg.gather(log_probs, 1, y.reshape(-1, 1)).mean()

    first = loss_fn().item()
    for _ in range(60):
        model.zero_grad()
        loss = loss_fn()
        loss.backward()
        for parameter in model.parameters():
            parameter._array -= 0.1 * parameter.grad._array
    model.eval()
    accuracy = (model(x)._array.argmax(1) == labels).mean()
    assert loss.item() < 0.3 * first and accuracy > 0.95
