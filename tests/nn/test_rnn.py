"""RNN / LSTM / GRU against gate equations written independently in NumPy, plus gradchecks."""

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.testing import gradcheck

MODES = {
    "RNN_TANH": lambda **kw: hg.nn.RNN(nonlinearity="tanh", **kw),
    "RNN_RELU": lambda **kw: hg.nn.RNN(nonlinearity="relu", **kw),
    "LSTM": lambda **kw: hg.nn.LSTM(**kw),
    "GRU": lambda **kw: hg.nn.GRU(**kw),
}
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def reference_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step, written out gate by gate in PyTorch's documented order."""
    if mode == "LSTM":
        w_ii, w_if, w_ig, w_io = np.split(w_ih, 4)
        w_hi, w_hf, w_hg, w_ho = np.split(w_hh, 4)
        b_ii, b_if, b_ig, b_io = np.split(b_ih, 4)
        b_hi, b_hf, b_hg, b_ho = np.split(b_hh, 4)
        i = sigmoid(x @ w_ii.T + b_ii + h @ w_hi.T + b_hi)
        f = sigmoid(x @ w_if.T + b_if + h @ w_hf.T + b_hf)
        g = np.tanh(x @ w_ig.T + b_ig + h @ w_hg.T + b_hg)
        o = sigmoid(x @ w_io.T + b_io + h @ w_ho.T + b_ho)
        c = f * c + i * g
        return o * np.tanh(c), c
    if mode == "GRU":
        w_ir, w_iz, w_in = np.split(w_ih, 3)
        w_hr, w_hz, w_hn = np.split(w_hh, 3)
        b_ir, b_iz, b_in = np.split(b_ih, 3)
        b_hr, b_hz, b_hn = np.split(b_hh, 3)
        r = sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(x @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
        return (1 - z) * n + z * h, c
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0.0)), c


def reference_forward(mode, params, x, h0, c0, num_layers, bidirectional):
    """Time-major x (L, N, I) -> output (L, N, D*H), h_n, c_n."""
    directions = 2 if bidirectional else 1
    length = x.shape[0]
    layer_input = x
    h_n, c_n = [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh = params[f"weight_ih_{suffix}"], params[f"weight_hh_{suffix}"]
            b_ih = params.get(f"bias_ih_{suffix}", np.zeros(w_ih.shape[0]))
            b_hh = params.get(f"bias_hh_{suffix}", np.zeros(w_hh.shape[0]))
            h = h0[layer * directions + direction]
            c = c0[layer * directions + direction]
            out = np.zeros((length, x.shape[1], h.shape[-1]))
            order = range(length) if direction == 0 else reversed(range(length))
            for t in order:
                h, c = reference_step(mode, layer_input[t], h, c, w_ih, w_hh, b_ih, b_hh)
                out[t] = h
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_input = np.concatenate(outputs, axis=-1)
    return layer_input, np.stack(h_n), np.stack(c_n)


def numpy_params(module):
    return {name: p._array for name, p in module.named_parameters()}


@pytest.mark.parametrize("mode", list(MODES))
def test_parameter_names_shapes_and_init(mode):
    hg.manual_seed(0)
    hidden = 16
    layer = MODES[mode](input_size=3, hidden_size=hidden, num_layers=2, bidirectional=True)
    gates = GATES[mode] * hidden
    expected = []
    for k in range(2):
        for suffix in ("", "_reverse"):
            inputs = 3 if k == 0 else 2 * hidden
            expected += [(f"weight_ih_l{k}{suffix}", (gates, inputs)),
                         (f"weight_hh_l{k}{suffix}", (gates, hidden)),
                         (f"bias_ih_l{k}{suffix}", (gates,)), (f"bias_hh_l{k}{suffix}", (gates,))]
    assert [(k, tuple(v.shape)) for k, v in layer.state_dict().items()] == expected
    bound = 1 / np.sqrt(hidden)
    values = np.concatenate([p._array.ravel() for p in layer.parameters()])
    assert np.all(np.abs(values) <= bound)
    # Uniform on the whole interval, not a narrower one.
    assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    assert abs(values.mean()) < 0.1 * bound


def test_no_bias_has_no_bias_parameters():
    layer = hg.nn.GRU(2, 3, bias=False)
    assert list(layer.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]


CONFIGS = [
    dict(num_layers=2, bidirectional=True, batch_first=False, states=True, bias=True),
    dict(num_layers=1, bidirectional=False, batch_first=True, states=False, bias=True),
    dict(num_layers=2, bidirectional=False, batch_first=True, states=True, bias=False),
    dict(num_layers=1, bidirectional=True, batch_first=True, states=True, bias=True),
]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(
    f"{k}={v}" for k, v in c.items()))
def test_forward_matches_numpy_reference(mode, config):
    hg.manual_seed(1)
    rng = np.random.default_rng(2)
    length, batch, features, hidden = 4, 3, 2, 3
    layer = MODES[mode](input_size=features, hidden_size=hidden, num_layers=config["num_layers"],
                        bidirectional=config["bidirectional"], batch_first=config["batch_first"],
                        bias=config["bias"], dtype=hg.float64)
    directions = 2 if config["bidirectional"] else 1
    x = rng.standard_normal((length, batch, features))
    h0 = rng.standard_normal((config["num_layers"] * directions, batch, hidden))
    c0 = rng.standard_normal(h0.shape)
    x_in = x.transpose(1, 0, 2) if config["batch_first"] else x
    if not config["states"]:
        h0, c0 = np.zeros_like(h0), np.zeros_like(c0)
        result = layer(hg.tensor(x_in))
    elif mode == "LSTM":
        result = layer(hg.tensor(x_in), (hg.tensor(h0), hg.tensor(c0)))
    else:
        result = layer(hg.tensor(x_in), hg.tensor(h0))
    output, states = result
    expected_out, expected_h, expected_c = reference_forward(
        mode, numpy_params(layer), x, h0, c0, config["num_layers"], config["bidirectional"])
    if config["batch_first"]:
        expected_out = expected_out.transpose(1, 0, 2)
    if mode == "LSTM":
        h_n, c_n = states
        np.testing.assert_allclose(c_n.detach().numpy(), expected_c, rtol=1e-10, atol=1e-12)
    else:
        h_n = states
    assert output.shape == expected_out.shape
    np.testing.assert_allclose(output.detach().numpy(), expected_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy(), expected_h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_unbatched_input_equals_batch_of_one(mode):
    layer = MODES[mode](input_size=2, hidden_size=3, num_layers=2, bidirectional=True,
                        dtype=hg.float64)
    x = hg.randn(5, 2, dtype=hg.float64)
    out_unbatched, states_unbatched = layer(x)
    out_batched, states_batched = layer(x.unsqueeze(1))
    assert out_unbatched.shape == (5, 6)
    np.testing.assert_allclose(out_unbatched.detach().numpy(), out_batched.detach().numpy()[:, 0])
    h_u = states_unbatched[0] if mode == "LSTM" else states_unbatched
    h_b = states_batched[0] if mode == "LSTM" else states_batched
    assert h_u.shape == (4, 3)
    np.testing.assert_allclose(h_u.detach().numpy(), h_b.detach().numpy()[:, 0])


def test_dropout_between_layers_only_in_training():
    hg.manual_seed(3)
    layer = hg.nn.GRU(2, 3, num_layers=2, dropout=1.0, dtype=hg.float64)
    x1, x2 = hg.randn(4, 2, 2, dtype=hg.float64), hg.randn(4, 2, 2, dtype=hg.float64)
    # dropout=1 zeroes everything layer 0 passes on, so the output no longer depends on x.
    out1, _ = layer(x1)
    out2, h_n = layer(x2)
    np.testing.assert_allclose(out1.detach().numpy(), out2.detach().numpy())
    # ...but layer 0's final state still does (dropout acts between layers, not on h_n).
    assert not np.allclose(layer(x1)[1].detach().numpy()[0], h_n.detach().numpy()[0])
    layer.eval()
    params = numpy_params(layer)
    zeros = np.zeros((2, 2, 3))
    expected, _, _ = reference_forward("GRU", params, x1.detach().numpy(), zeros, zeros, 2, False)
    np.testing.assert_allclose(layer(x1)[0].detach().numpy(), expected, rtol=1e-10)


def test_dropout_is_not_applied_after_the_last_layer():
    with pytest.warns(UserWarning, match="no effect"):
        layer = hg.nn.LSTM(2, 3, num_layers=1, dropout=0.9, dtype=hg.float64)
    x = hg.randn(3, 1, 2, dtype=hg.float64)
    first, second = layer(x)[0].detach().numpy(), layer(x)[0].detach().numpy()
    np.testing.assert_allclose(first, second)


@pytest.mark.parametrize("mode", list(MODES))
def test_gradcheck_inputs_and_states(mode):
    hg.manual_seed(4)
    layer = MODES[mode](input_size=2, hidden_size=2, num_layers=2, bidirectional=True,
                        dtype=hg.float64)
    x = hg.randn(3, 2, 2, dtype=hg.float64, requires_grad=True)
    h0 = hg.randn(4, 2, 2, dtype=hg.float64, requires_grad=True)
    if mode == "LSTM":
        c0 = hg.randn(4, 2, 2, dtype=hg.float64, requires_grad=True)
        assert gradcheck(lambda a, b, c: (lambda r: (r[0], r[1][0], r[1][1]))(layer(a, (b, c))),
                         [x, h0, c0])
    else:
        assert gradcheck(lambda a, b: layer(a, b), [x, h0])


@pytest.mark.parametrize("mode", list(MODES))
def test_gradcheck_parameters(mode):
    hg.manual_seed(5)
    layer = MODES[mode](input_size=2, hidden_size=2, bidirectional=True, batch_first=True,
                        dtype=hg.float64)
    x = hg.randn(2, 3, 2, dtype=hg.float64)
    params = list(layer.parameters())
    assert gradcheck(lambda *_: layer(x)[0], params)


def test_backward_reaches_every_parameter():
    layer = hg.nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    output, (h_n, c_n) = layer(hg.randn(4, 2, 2))
    (output.sum() + h_n.sum() + c_n.sum()).backward()
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None and parameter.grad.shape == parameter.shape, name
        assert np.abs(parameter.grad.detach().numpy()).sum() > 0, name


def test_load_pytorch_style_state_dict():
    # A checkpoint saved under PyTorch's names and shapes loads unchanged.
    rng = np.random.default_rng(6)
    source = hg.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    checkpoint = {k: rng.standard_normal(v.shape).astype(np.float32)
                  for k, v in source.state_dict().items()}
    target = hg.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    target.load_state_dict(checkpoint)
    np.testing.assert_array_equal(target.weight_hh_l1_reverse.detach().numpy(),
                                  checkpoint["weight_hh_l1_reverse"])


# ----------------------------------------------------------------------------------------------
# Cells.


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_reference_step(name):
    rng = np.random.default_rng(7)
    cell = getattr(hg.nn, name)(3, 4, dtype=hg.float64)
    mode = {"RNNCell": "RNN_TANH", "LSTMCell": "LSTM", "GRUCell": "GRU"}[name]
    assert [(k, v.shape) for k, v in cell.state_dict().items()] == [
        ("weight_ih", (GATES[mode] * 4, 3)), ("weight_hh", (GATES[mode] * 4, 4)),
        ("bias_ih", (GATES[mode] * 4,)), ("bias_hh", (GATES[mode] * 4,))]
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    p = numpy_params(cell)
    expected_h, expected_c = reference_step(mode, x, h, c, p["weight_ih"], p["weight_hh"],
                                            p["bias_ih"], p["bias_hh"])
    if name == "LSTMCell":
        got_h, got_c = cell(hg.tensor(x), (hg.tensor(h), hg.tensor(c)))
        np.testing.assert_allclose(got_c.detach().numpy(), expected_c, rtol=1e-12)
    else:
        got_h = cell(hg.tensor(x), hg.tensor(h))
    np.testing.assert_allclose(got_h.detach().numpy(), expected_h, rtol=1e-12)
    # Unbatched input and default zero state.
    unbatched = cell(hg.tensor(x[0]))
    unbatched_h = unbatched[0] if name == "LSTMCell" else unbatched
    zero = np.zeros(4)
    assert unbatched_h.shape == (4,)
    np.testing.assert_allclose(unbatched_h.detach().numpy(), reference_step(
        mode, x[0], zero, zero, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])[0],
        rtol=1e-12)


def test_relu_cell_and_cell_gradcheck():
    cell = hg.nn.RNNCell(2, 3, nonlinearity="relu", dtype=hg.float64)
    x = hg.tensor([[0.5, -1.0]], dtype=hg.float64)
    p = numpy_params(cell)
    expected = np.maximum(x.detach().numpy() @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"], 0)
    np.testing.assert_allclose(cell(x).detach().numpy(), expected)
    lstm = hg.nn.LSTMCell(2, 2, dtype=hg.float64)
    xs = hg.randn(2, 2, dtype=hg.float64, requires_grad=True)
    h = hg.randn(2, 2, dtype=hg.float64, requires_grad=True)
    c = hg.randn(2, 2, dtype=hg.float64, requires_grad=True)
    assert gradcheck(lambda a, b, d: lstm(a, (b, d)), [xs, h, c])
    gru = hg.nn.GRUCell(2, 2, dtype=hg.float64)
    assert gradcheck(lambda a, b, *_: gru(a, b), [xs, h] + list(gru.parameters()))


def test_clear_errors():
    layer = hg.nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="input_size=3"):
        layer(hg.randn(5, 2, 7))
    with pytest.raises(ValueError, match="h_0"):
        layer(hg.randn(5, 2, 3), (hg.zeros(2, 2, 4), hg.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity"):
        hg.nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="GRUCell"):
        hg.nn.GRUCell(2, 3)(hg.randn(4, 5))


@pytest.mark.parametrize("mode", list(MODES))
def test_inference_path_equals_training_path(mode):
    # Without a graph the layer uses one input projection per layer; with one, per-step ones.
    layer = MODES[mode](input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                        batch_first=True, dtype=hg.float64)
    x = hg.randn(2, 5, 3, dtype=hg.float64)
    recorded = layer(x)
    with hg.no_grad():
        plain = layer(x)
    flat = (lambda r: [r[0], *r[1]]) if mode == "LSTM" else (lambda r: list(r))
    assert flat(recorded)[0].requires_grad and not flat(plain)[0].requires_grad
    for a, b in zip(flat(recorded), flat(plain)):
        np.testing.assert_allclose(a._array, b._array, rtol=1e-12, atol=1e-14)
