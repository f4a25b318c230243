"""The fused recurrent primitives (``recurrent_layer``, ``recurrent_layer_backward``) against the
previous implementation (per-step composition of primitives, recorded by autograd) and float64
finite differences, over every combination of layers, directions, batch_first, initial states
and bias."""

import itertools

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.ops import api
from hybridgrad.ops.recurrent import recurrent_layer
from hybridgrad.ops.registry import apply
from hybridgrad.testing import gradcheck

MODES = ("LSTM", "GRU", "RNN_TANH", "RNN_RELU")


# The implementation before the fused kernels: one step composed of primitives.


def _linear_t(x, weight, bias):
    return api.matmul(x, api.transpose(weight, 0, 1)) + bias


def _composed_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    hidden = h.shape[-1]
    gate = lambda values, k: values[..., k * hidden:(k + 1) * hidden]  # noqa: E731
    if mode == "LSTM":
        gates = _linear_t(x, w_ih, b_ih) + _linear_t(h, w_hh, b_hh)
        i, f = api.sigmoid(gate(gates, 0)), api.sigmoid(gate(gates, 1))
        g, o = api.tanh(gate(gates, 2)), api.sigmoid(gate(gates, 3))
        c = f * c + i * g
        return o * api.tanh(c), c
    if mode == "GRU":
        x_part, h_part = _linear_t(x, w_ih, b_ih), _linear_t(h, w_hh, b_hh)
        r = api.sigmoid(gate(x_part, 0) + gate(h_part, 0))
        z = api.sigmoid(gate(x_part, 1) + gate(h_part, 1))
        n = api.tanh(gate(x_part, 2) + r * gate(h_part, 2))
        return (1.0 - z) * n + z * h, c
    pre = _linear_t(x, w_ih, b_ih) + _linear_t(h, w_hh, b_hh)
    return (api.tanh(pre) if mode == "RNN_TANH" else api.relu(pre)), c


def composed_forward(module, x, hx):
    """The module's forward as it was: time-major steps composed of primitives."""
    mode, layers = module.mode, module.num_layers
    directions = 2 if module.bidirectional else 1
    if module.batch_first:
        x = api.transpose(x, 0, 1)
    length, batch = x.shape[0], x.shape[1]
    zeros = hg.zeros(layers * directions, batch, module.hidden_size, dtype=x.dtype)
    if hx is None:
        h0 = c0 = zeros
    elif mode == "LSTM":
        h0, c0 = hx
    else:
        h0, c0 = hx, zeros
    steps_in = [x[t] for t in range(length)]
    final_h, final_c = [], []
    for layer in range(layers):
        per_direction = []
        for direction in range(directions):
            w_ih, w_hh, b_ih, b_hh = module._weights(layer, direction)
            if b_ih is None:
                b_ih = b_hh = hg.zeros(w_ih.shape[0], dtype=x.dtype)
            h, c = h0[layer * directions + direction], c0[layer * directions + direction]
            outputs = [None] * length
            order = range(length) if direction == 0 else range(length - 1, -1, -1)
            for t in order:
                h, c = _composed_step(mode, steps_in[t], h, c, w_ih, w_hh, b_ih, b_hh)
                outputs[t] = h
            per_direction.append(outputs)
            final_h.append(h)
            final_c.append(c)
        steps_in = (per_direction[0] if directions == 1 else
                    [api.cat(pair, dim=-1) for pair in zip(*per_direction)])
    output = api.stack(steps_in, 0)
    if module.batch_first:
        output = api.transpose(output, 0, 1)
    h_n = api.stack(final_h, 0)
    if mode == "LSTM":
        return output, (h_n, api.stack(final_c, 0))
    return output, h_n


def _build(mode, **options):
    if mode.startswith("RNN"):
        nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
        return hg.nn.RNN(nonlinearity=nonlinearity, dtype=hg.float64, **options)
    return getattr(hg.nn, mode)(dtype=hg.float64, **options)


def _flatten(result):
    output, state = result
    return [output, *state] if isinstance(state, tuple) else [output, state]


COMBINATIONS = list(itertools.product(MODES, (1, 2), (False, True), (False, True),
                                      (False, True), (True, False)))


@pytest.mark.parametrize("mode,layers,bidirectional,batch_first,initial,bias", COMBINATIONS)
def test_fused_equals_composed_forward_and_gradients(mode, layers, bidirectional, batch_first,
                                                    initial, bias):
    hg.manual_seed(11)
    module = _build(mode, input_size=3, hidden_size=4, num_layers=layers,
                    bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    length, batch = 5, 2
    directions = 2 if bidirectional else 1
    x = hg.randn(*((batch, length, 3) if batch_first else (length, batch, 3)),
                 dtype=hg.float64, requires_grad=True)
    hx = None
    if initial:
        state = (layers * directions, batch, 4)
        hx = hg.randn(*state, dtype=hg.float64, requires_grad=True)
        if mode == "LSTM":
            hx = (hx, hg.randn(*state, dtype=hg.float64, requires_grad=True))
    leaves = [x, *list(module.parameters())]
    if initial:
        leaves += list(hx) if mode == "LSTM" else [hx]
    rng = np.random.default_rng(3)
    results = []
    for forward in (module, lambda a, b: composed_forward(module, a, b)):
        outputs = _flatten(forward(x, hx))
        loss = sum((value * hg.tensor(rng.standard_normal(value.shape))).sum()
                   for value in outputs)
        rng = np.random.default_rng(3)  # the same projections for both
        grads = hg.autograd.grad(loss, leaves)
        results.append(([v.detach().numpy() for v in outputs],
                        [g.detach().numpy() for g in grads]))
    (fused_out, fused_grads), (composed_out, composed_grads) = results
    for got, expected in zip(fused_out, composed_out):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    for got, expected in zip(fused_grads, composed_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("mode,reverse", list(itertools.product(MODES, (False, True))))
def test_recurrent_layer_gradcheck(mode, reverse):
    # Finite differences of the primitive itself, every input, with the final states used.
    rng = np.random.default_rng(7)
    length, batch, features, hidden = 3, 2, 2, 3
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden
    shapes = [(length, batch, features), (batch, hidden), (batch, hidden), (gates, features),
              (gates, hidden), (gates,), (gates,)]
    inputs = [hg.tensor(rng.standard_normal(s) * 0.7, requires_grad=True) for s in shapes]
    if mode == "RNN_RELU":  # keep pre-activations away from the kink at 0
        inputs[5] = hg.tensor(np.abs(rng.standard_normal(gates)) + 0.5, requires_grad=True)

    def run(*values):
        output, h_n, c_n = recurrent_layer(*values, mode=mode, reverse=reverse)
        return (output, h_n) if c_n is None else (output, h_n, c_n)

    # c0 is read by LSTM only; for the others its gradient is checked to be zero.
    assert gradcheck(run, inputs)


def test_final_state_row_of_gru_gets_its_gradient():
    # Row L of a GRU/RNN result is the final hidden state again: a gradient there reaches it.
    rng = np.random.default_rng(8)
    inputs = [hg.tensor(rng.standard_normal(s), requires_grad=True)
              for s in [(3, 2, 2), (2, 3), (2, 3), (9, 2), (9, 3), (9,), (9,)]]
    assert gradcheck(lambda *v: apply("recurrent_layer", *v, mode="GRU", reverse=True)[3],
                     inputs)


def test_second_derivative_refuses_with_a_clear_error():
    layer = hg.nn.LSTM(2, 3, dtype=hg.float64)
    x = hg.randn(4, 1, 2, dtype=hg.float64, requires_grad=True)
    output, _ = layer(x)
    (grad_x,) = hg.autograd.grad(output.sum(), [x], create_graph=True)
    with pytest.raises(NotImplementedError, match="recurrent_layer_backward: the second "
                                                  "derivative"):
        grad_x.sum().backward()


def test_bad_shapes_name_the_operator():
    with pytest.raises(hg.ops.OpError, match=r"recurrent_layer \(LSTM\): w_hh has shape"):
        recurrent_layer(hg.zeros(2, 1, 3), hg.zeros(1, 4), hg.zeros(1, 4), hg.zeros(16, 3),
                        hg.zeros(12, 4), hg.zeros(16), hg.zeros(16), mode="LSTM")
    with pytest.raises(hg.ops.OpError, match="unknown mode 'LSTMX'"):
        recurrent_layer(hg.zeros(2, 1, 3), hg.zeros(1, 4), hg.zeros(1, 4), hg.zeros(16, 3),
                        hg.zeros(16, 4), hg.zeros(16), hg.zeros(16), mode="LSTMX")


def test_float32_layer_matches_float64_and_stays_float32():
    hg.manual_seed(2)
    wide = hg.nn.LSTM(3, 5, num_layers=2, bidirectional=True, dtype=hg.float64)
    narrow = hg.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    narrow.load_state_dict({k: v.astype(np.float32) for k, v in
                            ((k, v.detach().numpy()) for k, v in wide.state_dict().items())})
    x = np.random.default_rng(1).standard_normal((6, 2, 3))
    got, (h_n, _) = narrow(hg.tensor(x.astype(np.float32)))
    expected, _ = wide(hg.tensor(x))
    assert got.dtype == np.float32 and h_n.dtype == np.float32
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), atol=1e-5)


class _Classifier(hg.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.rnn = _build(kind, input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                          batch_first=True)
        self.head = hg.nn.Linear(8, 3, dtype=hg.float64)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_compiled_training_step_equals_eager(kind, monkeypatch):
    # The recurrent layer is one node of the compiled graph, with the same kernels.
    models = []
    for _ in range(2):
        hg.manual_seed(5)
        models.append(_Classifier(kind))
    eager, compiled = models
    x = hg.tensor(np.random.default_rng(0).standard_normal((4, 5, 3)))
    target = hg.tensor(np.array([0, 1, 2, 1]))
    loss_fn = hg.nn.functional.cross_entropy
    eager_optimizer = hg.optim.Adam(eager.parameters(), lr=0.01)
    step = hg.jit.train_step(compiled, loss_fn, hg.optim.Adam(compiled.parameters(), lr=0.01))
    calls = {"recurrent_layer": 0, "recurrent_layer_backward": 0}
    for name in calls:
        op = hg.ops.REGISTRY[name]
        monkeypatch.setattr(op, "forward", lambda *a, _f=op.forward, _n=name, **k: (
            calls.__setitem__(_n, calls[_n] + 1), _f(*a, **k))[1])
    for _ in range(3):
        eager_optimizer.zero_grad()
        loss_fn(eager(x), target).backward()
        eager_optimizer.step()
        before = dict(calls)
        step(x, target)
        # One forward and one backward node per layer and direction (2 x 2) in the graph.
        assert {k: calls[k] - before[k] for k in calls} == {
            "recurrent_layer": 4, "recurrent_layer_backward": 4}
    for (name, a), (_, b) in zip(eager.named_parameters(), compiled.named_parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-10,
                                   err_msg=name)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_export_to_onnx_and_match_onnxruntime(name, tmp_path):
    # Traced cells are composed of plain primitives (the fused layer has no ONNX counterpart).
    onnxruntime = pytest.importorskip("onnxruntime")
    hg.manual_seed(3)
    cell = getattr(hg.nn, name)(3, 4)
    x = hg.randn(2, 3)
    path = str(tmp_path / "cell.onnx")
    hg.onnx.export(lambda value: (lambda out: out[0] if isinstance(out, tuple) else out)(
        cell(value)), x, path)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    expected = cell(x)
    expected = expected[0] if isinstance(expected, tuple) else expected
    np.testing.assert_allclose(got, expected.detach().numpy(), atol=1e-5)


def test_the_fused_primitive_is_refused_by_the_exporter_with_the_reason():
    x, h = hg.randn(3, 1, 2), hg.zeros(1, 2)
    weights = [hg.randn(8, 2), hg.randn(8, 2), hg.zeros(8), hg.zeros(8)]
    with pytest.raises(hg.onnx.ExportError, match="export the nn.RNN/LSTM/GRU module"):
        hg.onnx.export(lambda value: recurrent_layer(value, h, h, *weights, mode="LSTM")[0], x,
                       None)
