"""Fused recurrent layers: one primitive runs a whole layer and direction over the sequence.

Composed of per-step primitives, an LSTM step is a dozen operators, each recorded, each with its
own backward and its own temporary arrays: the training step took 1.8x PyTorch's time eagerly
and 3x compiled (issue 19). Here one primitive per layer and direction does what PyTorch's CPU
kernel does:

* the input projection ``x W_ih^T + b_ih (+ b_hh)`` of every time step is one matrix product
  into a preallocated (L, N, gates*H) buffer;
* each step adds one small product ``h W_hh^T`` and updates the gates in place in that buffer;
* the backward through time runs the same loop in reverse with one small product per step
  (``dgates W_hh``), and the weight gradients are single products over all steps at the end.

Primitives (``mode`` is ``'LSTM'``, ``'GRU'``, ``'RNN_TANH'`` or ``'RNN_RELU'``):

``recurrent_layer(x (L, N, I), h0 (N, H), c0 (N, H), w_ih, w_hh, b_ih, b_hh, mode, reverse)``
    returns one array ``(rows, N, H)``: rows ``0..L-1`` are the outputs ``h_t`` (``out[:L]``,
    a contiguous view), row ``L`` is the final cell state (LSTM; the final hidden state for the
    others), and the rows after it are what the backward needs (gate activations, cell states),
    so that the autograd node keeps them without a side table. ``c0`` is ignored except for
    LSTM (pass ``h0`` again). Use :func:`recurrent_layer` to get ``(output, h_n, c_n)``.
``recurrent_layer_backward(grad, out, x, h0, c0, w_ih, w_hh, mode, reverse, input_grad)``
    returns every gradient packed in one flat array (see :func:`gradient_layout`). Its own
    derivative is not implemented: differentiating it raises (``tests/nn/test_rnn_fused.py``
    asserts the error).

Gate order is PyTorch's: ``i, f, g, o`` (LSTM) and ``r, z, n`` (GRU, with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad.ops.recurrent import recurrent_layer
    >>> x, h0 = hg.randn(5, 2, 3), hg.zeros(2, 4)
    >>> w_ih, w_hh, b = hg.randn(16, 3), hg.randn(16, 4), hg.zeros(16)
    >>> output, h_n, c_n = recurrent_layer(x, h0, h0, w_ih, w_hh, b, b, mode="LSTM")
    >>> output.shape, h_n.shape, c_n.shape
    ((5, 2, 4), (2, 4), (2, 4))
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.ops import api as F
from hybridgrad.ops.registry import OpError, Spec, apply, promote, register

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _workspace_rows(mode: str, length: int) -> int:
    """Rows of (N, H) after the outputs and the final-state row: what the backward reads."""
    if mode == "LSTM":
        return 6 * length  # i, f, g, o activations (4L), cell states (L), tanh(cell) (L)
    if mode == "GRU":
        return 4 * length  # r, z, n activations (3L), W_hn h + b_hn (L)
    return 0  # the outputs themselves give the derivative of tanh / relu


def _check_mode(mode: str) -> None:
    if mode not in GATES:
        raise OpError(f"recurrent_layer: unknown mode {mode!r}; expected one of {list(GATES)}")


def _layer_shape(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse):
    _check_mode(mode)
    if len(x.shape) != 3 or len(h0.shape) != 2:
        raise OpError(f"recurrent_layer ({mode}): expected an input (L, N, I) and a state (N, H), "
                      f"got input {tuple(x.shape)} and state {tuple(h0.shape)}")
    length, batch, features = x.shape
    hidden = h0.shape[1]
    gates = GATES[mode] * hidden
    expected = {"h0": (batch, hidden), "c0": (batch, hidden), "w_ih": (gates, features),
                "w_hh": (gates, hidden), "b_ih": (gates,), "b_hh": (gates,)}
    given = {"h0": h0, "c0": c0, "w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
    for name, value in given.items():
        if tuple(value.shape) != expected[name]:
            raise OpError(f"recurrent_layer ({mode}): {name} has shape {tuple(value.shape)}, "
                          f"expected {expected[name]} for input {tuple(x.shape)} and hidden "
                          f"size {hidden}")
    if length == 0:
        raise OpError(f"recurrent_layer ({mode}): the input sequence is empty ({tuple(x.shape)})")
    rows = length + 1 + _workspace_rows(mode, length)
    dtype = promote(*(v.dtype for v in (x, h0, c0, w_ih, w_hh, b_ih, b_hh)))
    return Spec((rows, batch, hidden), dtype)


def _sigmoid_(values) -> None:
    """In-place logistic function, as 0.5 * tanh(x / 2) + 0.5 (no overflow for large |x|)."""
    values *= 0.5
    np.tanh(values, out=values)
    values *= 0.5
    values += 0.5


def _project(x, w_ih, bias, out2d) -> None:
    """out2d (L*N, G) = x (L, N, I) @ w_ih^T + bias: one product for every time step."""
    length, batch, features = x.shape
    np.matmul(np.ascontiguousarray(x).reshape(length * batch, features), w_ih.T, out=out2d)
    out2d += bias


def _forward(xp, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse):
    """Run the layer; see the module docstring for the layout of the result."""
    spec = _layer_shape(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse)
    dtype = spec.dtype
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = (
        np.asarray(a, dtype=dtype) for a in (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    length, batch, _ = x.shape
    hidden = h0.shape[1]
    out = np.empty(spec.shape, dtype=dtype)
    outputs = out[:length]
    steps = range(length - 1, -1, -1) if reverse else range(length)
    w_hh_t = w_hh.T
    if mode == "LSTM":
        block = out[length + 1:]
        gates = block[:4 * length].reshape(length, batch, 4 * hidden)
        cells = block[4 * length:5 * length]
        tanh_cells = block[5 * length:]
        _project(x, w_ih, b_ih + b_hh, gates.reshape(length * batch, 4 * hidden))
        recurrent = np.empty((batch, 4 * hidden), dtype=dtype)
        scratch = np.empty((batch, hidden), dtype=dtype)
        h, c = h0, c0
        for t in steps:
            step = gates[t]
            np.matmul(h, w_hh_t, out=recurrent)
            step += recurrent
            _sigmoid_(step[:, :2 * hidden])
            np.tanh(step[:, 2 * hidden:3 * hidden], out=step[:, 2 * hidden:3 * hidden])
            _sigmoid_(step[:, 3 * hidden:])
            c_new = cells[t]
            np.multiply(step[:, hidden:2 * hidden], c, out=c_new)
            np.multiply(step[:, :hidden], step[:, 2 * hidden:3 * hidden], out=scratch)
            c_new += scratch
            np.tanh(c_new, out=tanh_cells[t])
            np.multiply(step[:, 3 * hidden:], tanh_cells[t], out=outputs[t])
            h, c = outputs[t], c_new
        out[length] = c
    elif mode == "GRU":
        block = out[length + 1:]
        gates = block[:3 * length].reshape(length, batch, 3 * hidden)
        hidden_n = block[3 * length:]
        _project(x, w_ih, b_ih, gates.reshape(length * batch, 3 * hidden))
        recurrent = np.empty((batch, 3 * hidden), dtype=dtype)
        h = h0
        for t in steps:
            step = gates[t]
            np.matmul(h, w_hh_t, out=recurrent)
            recurrent += b_hh
            rz = step[:, :2 * hidden]
            rz += recurrent[:, :2 * hidden]
            _sigmoid_(rz)
            hidden_n[t] = recurrent[:, 2 * hidden:]
            n = step[:, 2 * hidden:]
            n += step[:, :hidden] * hidden_n[t]
            np.tanh(n, out=n)
            # h' = (1 - z) n + z h = n + z (h - n)
            h_new = outputs[t]
            np.subtract(h, n, out=h_new)
            h_new *= step[:, hidden:2 * hidden]
            h_new += n
            h = h_new
        out[length] = h
    else:
        _project(x, w_ih, b_ih + b_hh, outputs.reshape(length * batch, hidden))
        recurrent = np.empty((batch, hidden), dtype=dtype)
        h = h0
        for t in steps:
            step = outputs[t]
            np.matmul(h, w_hh_t, out=recurrent)
            step += recurrent
            if mode == "RNN_TANH":
                np.tanh(step, out=step)
            else:
                np.maximum(step, 0, out=step)
            h = step
        out[length] = h
    return out


def gradient_layout(mode: str, length: int, batch: int, features: int, hidden: int) -> list:
    """(name, shape) of each gradient packed by ``recurrent_layer_backward``, in order.

    Example:
        >>> [name for name, _ in gradient_layout("GRU", 5, 2, 3, 4)]
        ['x', 'h0', 'c0', 'w_ih', 'w_hh', 'b_ih', 'b_hh']
    """
    gates = GATES[mode] * hidden
    return [("x", (length, batch, features)), ("h0", (batch, hidden)), ("c0", (batch, hidden)),
            ("w_ih", (gates, features)), ("w_hh", (gates, hidden)), ("b_ih", (gates,)),
            ("b_hh", (gates,))]


def _backward_shape(grad, out, x, h0, c0, w_ih, w_hh, mode, reverse, input_grad):
    length, batch, features = x.shape
    total = sum(math.prod(shape) for _, shape in
                gradient_layout(mode, length, batch, features, h0.shape[1]))
    return Spec((total,), out.dtype)


def _previous_states(outputs, reverse):
    """(h_prev for steps 1.. in the processing order as one block, the block's steps)."""
    if reverse:
        return outputs[1:], slice(0, -1), -1  # step t reads h_{t+1}; the last one reads h0
    return outputs[:-1], slice(1, None), 0


def _backward(xp, grad, out, x, h0, c0, w_ih, w_hh, mode, reverse, input_grad):
    """Backward through time; every gradient lands in one flat array (``gradient_layout``)."""
    dtype = out.dtype
    x, h0, c0, w_ih, w_hh, grad = (np.asarray(a, dtype=dtype)
                                   for a in (x, h0, c0, w_ih, w_hh, grad))
    length, batch, features = x.shape
    hidden = h0.shape[1]
    gate_count = GATES[mode]
    size = gate_count * hidden
    layout = gradient_layout(mode, length, batch, features, hidden)
    flat = np.zeros(sum(math.prod(shape) for _, shape in layout), dtype=dtype)
    views, offset = {}, 0
    for name, shape in layout:
        count = math.prod(shape)
        views[name] = flat[offset:offset + count].reshape(shape)
        offset += count
    outputs = out[:length]
    grad_outputs = grad[:length]
    if mode != "LSTM" and grad[length].any():
        # Row L of an RNN or GRU is the final hidden state, the last processed output again.
        grad_outputs = grad_outputs.copy()
        grad_outputs[0 if reverse else length - 1] += grad[length]
    steps = range(length) if reverse else range(length - 1, -1, -1)
    first = length - 1 if reverse else 0  # the step that reads h0 / c0
    # Pre-activation gradients of every step: (L, N, G), the operand of the weight products.
    dgates = np.empty((length, batch, size), dtype=dtype)
    dh = np.empty((batch, hidden), dtype=dtype)
    dh_next = np.zeros((batch, hidden), dtype=dtype)
    scratch = np.empty((batch, hidden), dtype=dtype)
    if mode == "LSTM":
        block = out[length + 1:]
        gates = block[:4 * length].reshape(length, batch, 4 * hidden)
        cells = block[4 * length:5 * length]
        tanh_cells = block[5 * length:]
        dc = np.array(grad[length], dtype=dtype)
        for t in steps:
            np.add(grad_outputs[t], dh_next, out=dh)
            step, d = gates[t], dgates[t]
            i, f, g, o = (step[:, k * hidden:(k + 1) * hidden] for k in range(4))
            di, df, dg, do = (d[:, k * hidden:(k + 1) * hidden] for k in range(4))
            # do = dh * tanh(c) * o (1 - o)
            np.multiply(dh, tanh_cells[t], out=do)
            np.subtract(1, o, out=scratch)
            scratch *= o
            do *= scratch
            # dc += dh * o * (1 - tanh(c)^2)
            np.square(tanh_cells[t], out=scratch)
            np.subtract(1, scratch, out=scratch)
            scratch *= o
            scratch *= dh
            dc += scratch
            c_prev = c0 if t == first else cells[t + 1 if reverse else t - 1]
            # di = dc * g * i (1 - i); df = dc * c_prev * f (1 - f); dg = dc * i * (1 - g^2)
            np.subtract(1, i, out=scratch)
            scratch *= i
            np.multiply(dc, g, out=di)
            di *= scratch
            np.subtract(1, f, out=scratch)
            scratch *= f
            np.multiply(dc, c_prev, out=df)
            df *= scratch
            np.square(g, out=scratch)
            np.subtract(1, scratch, out=scratch)
            scratch *= i
            np.multiply(dc, scratch, out=dg)
            dc *= f
            np.matmul(d, w_hh, out=dh_next)
        views["c0"][...] = dc
        hidden_side = dgates
    elif mode == "GRU":
        block = out[length + 1:]
        gates = block[:3 * length].reshape(length, batch, 3 * hidden)
        hidden_n = block[3 * length:]
        # The hidden side's n-gradient is r * (input side's n-gradient): its own buffer.
        hidden_side = np.empty_like(dgates)
        for t in steps:
            np.add(grad_outputs[t], dh_next, out=dh)
            step, d, dh_side = gates[t], dgates[t], hidden_side[t]
            r, z, n = (step[:, k * hidden:(k + 1) * hidden] for k in range(3))
            dr, dz, dn = (d[:, k * hidden:(k + 1) * hidden] for k in range(3))
            h_prev = h0 if t == first else outputs[t + 1 if reverse else t - 1]
            # dz_pre = dh (h_prev - n) z (1 - z)
            np.subtract(h_prev, n, out=dz)
            dz *= dh
            np.subtract(1, z, out=scratch)
            scratch *= z
            dz *= scratch
            # dn_pre = dh (1 - z) (1 - n^2)
            np.subtract(1, z, out=dn)
            dn *= dh
            np.square(n, out=scratch)
            np.subtract(1, scratch, out=scratch)
            dn *= scratch
            # dr_pre = dn_pre (W_hn h + b_hn) r (1 - r)
            np.multiply(dn, hidden_n[t], out=dr)
            np.subtract(1, r, out=scratch)
            scratch *= r
            dr *= scratch
            dh_side[:, :2 * hidden] = d[:, :2 * hidden]
            np.multiply(dn, r, out=dh_side[:, 2 * hidden:])
            np.matmul(dh_side, w_hh, out=dh_next)
            np.multiply(dh, z, out=scratch)
            dh_next += scratch
    else:
        for t in steps:
            d = dgates[t]
            np.add(grad_outputs[t], dh_next, out=d)
            if mode == "RNN_TANH":
                np.square(outputs[t], out=scratch)
                np.subtract(1, scratch, out=scratch)
                d *= scratch
            else:
                d *= outputs[t] > 0
            np.matmul(d, w_hh, out=dh_next)
        hidden_side = dgates
    views["h0"][...] = dh_next
    rows = length * batch
    # Weight gradients: one product over all steps each.
    previous, later, head = _previous_states(outputs, reverse)
    hidden_2d = hidden_side.reshape(rows, size)
    w_hh_grad = views["w_hh"]
    if length > 1:
        np.matmul(hidden_side[later].reshape(rows - batch, size).T,
                  previous.reshape(rows - batch, hidden), out=w_hh_grad)
        w_hh_grad += hidden_side[head].T @ h0
    else:
        np.matmul(hidden_side[0].T, h0, out=w_hh_grad)
    np.add.reduce(hidden_2d, axis=0, out=views["b_hh"])
    input_2d = dgates.reshape(rows, size)
    np.add.reduce(input_2d, axis=0, out=views["b_ih"])
    np.matmul(input_2d.T, np.ascontiguousarray(x).reshape(rows, features), out=views["w_ih"])
    if input_grad:
        np.matmul(input_2d, w_ih, out=views["x"].reshape(rows, features))
    return flat


def _layer_vjp(grad, inputs, out, needs, mode, reverse):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = inputs
    packed = apply("recurrent_layer_backward", grad, out, x, h0, c0, w_ih, w_hh, mode=mode,
                   reverse=reverse, input_grad=bool(needs[0]))
    length, batch, features = tuple(x.shape)
    grads, offset = [], 0
    for needed, (name, shape) in zip(
            needs, gradient_layout(mode, length, batch, features, tuple(h0.shape)[1])):
        count = math.prod(shape)
        if needed and not (name == "c0" and mode != "LSTM"):
            grads.append(F.reshape(F.getitem(packed, (slice(offset, offset + count),)), shape))
        else:
            grads.append(None)
        offset += count
    return tuple(grads)


def _backward_vjp(grad, inputs, out, needs, **attrs):
    raise NotImplementedError(
        "recurrent_layer_backward: the second derivative of a fused recurrent layer is not "
        "implemented (the first-order backward through time is fused); differentiate a "
        "composition of per-step operators for higher orders")


register("recurrent_layer", gradcheck="tests/nn/test_rnn_fused.py", shape=_layer_shape,
         vjp=_layer_vjp, promotes=True, float_only=True,
         formula="{mode}({x}, {h0}, {c0})",
         derivatives=("backward through time",) * 7,
         arg_names=("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"))(_forward)
register("recurrent_layer_backward", gradcheck="tests/nn/test_rnn_fused.py",
         shape=_backward_shape, vjp=_backward_vjp, promotes=False, float_only=True,
         formula="bptt({grad})", derivatives=("not implemented",) * 7,
         arg_names=("grad", "out", "x", "h0", "c0", "w_ih", "w_hh"))(_backward)


def recurrent_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode: str, reverse: bool = False):
    """One recurrent layer and direction over a time-major sequence, as one primitive.

    Returns ``(output (L, N, H), h_n (N, H), c_n (N, H) or None)``. ``c0`` is read by LSTM only.

    Example:
        >>> import hybridgrad as hg
        >>> x = hg.ones(3, 1, 2)
        >>> w_ih, w_hh, b = hg.ones(2, 2), hg.zeros(2, 2), hg.zeros(2)
        >>> output, h_n, _ = recurrent_layer(x, hg.zeros(1, 2), hg.zeros(1, 2), w_ih, w_hh, b, b,
        ...                                  mode="RNN_RELU")
        >>> output[:, 0, 0].tolist(), h_n.tolist()
        ([2.0, 2.0, 2.0], [[2.0, 2.0]])
    """
    _check_mode(mode)
    packed = apply("recurrent_layer", x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode=mode,
                   reverse=bool(reverse))
    length = tuple(x.shape)[0]
    output = F.getitem(packed, (slice(0, length),))
    h_n = F.getitem(output, (0 if reverse else length - 1,))
    c_n = F.getitem(packed, (length,)) if mode == "LSTM" else None
    return output, h_n, c_n
