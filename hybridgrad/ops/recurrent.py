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


# Internal gate layouts. LSTM gates are kept as (o, i, f, g) instead of PyTorch's (i, f, g, o):
# the three sigmoid gates are then one contiguous block in the forward, and the three gates the
# cell gradient multiplies (i, f, g) one block in the backward. Sigmoids are computed as
# 0.5 * tanh(x / 2) + 0.5 (no overflow), with the halving folded into copies of the weights, so
# one tanh covers every gate of a step.


def _lstm_rows(hidden: int):
    """PyTorch's weight rows in the internal (o, i, f, g) order."""
    return np.concatenate([np.arange(3 * hidden, 4 * hidden), np.arange(0, 3 * hidden)])


def _gate_scale(hidden: int, gate_count: int, sigmoid_gates: int, dtype):
    scale = np.ones(gate_count * hidden, dtype=dtype)
    scale[:sigmoid_gates * hidden] = 0.5
    return scale


def _project(x, w_ih, bias, out2d) -> None:
    """out2d (L*N, G) = x (L, N, I) @ w_ih^T + bias: one product for every time step."""
    length, batch, features = x.shape
    np.matmul(np.ascontiguousarray(x).reshape(length * batch, features),
              np.ascontiguousarray(w_ih.T), out=out2d)
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
    if mode == "LSTM":
        block = out[length + 1:]
        gates = block[:4 * length].reshape(length, batch, 4 * hidden)
        cells = block[4 * length:5 * length]
        tanh_cells = block[5 * length:]
        rows = _lstm_rows(hidden)
        scale = _gate_scale(hidden, 4, 3, dtype)
        _project(x, w_ih[rows] * scale[:, None], (b_ih + b_hh)[rows] * scale,
                 gates.reshape(length * batch, 4 * hidden))
        w_hh_t = np.ascontiguousarray((w_hh[rows] * scale[:, None]).T)
        recurrent = np.empty((batch, 4 * hidden), dtype=dtype)
        scratch = np.empty((batch, hidden), dtype=dtype)
        h, c = h0, c0
        for t in steps:
            step = gates[t]
            np.matmul(h, w_hh_t, out=recurrent)
            step += recurrent
            np.tanh(step, out=step)
            sigmoids = step[:, :3 * hidden]
            sigmoids *= 0.5
            sigmoids += 0.5
            o, i, f, g = (step[:, k * hidden:(k + 1) * hidden] for k in range(4))
            c_new = cells[t]
            np.multiply(f, c, out=c_new)
            np.multiply(i, g, out=scratch)
            c_new += scratch
            np.tanh(c_new, out=tanh_cells[t])
            np.multiply(o, tanh_cells[t], out=outputs[t])
            h, c = outputs[t], c_new
        out[length] = c
    elif mode == "GRU":
        block = out[length + 1:]
        gates = block[:3 * length].reshape(length, batch, 3 * hidden)
        hidden_n = block[3 * length:]
        scale = _gate_scale(hidden, 3, 2, dtype)
        # b_hr and b_hz join the projection; b_hn stays inside r * (W_hn h + b_hn).
        bias = b_ih.copy()
        bias[:2 * hidden] += b_hh[:2 * hidden]
        _project(x, w_ih * scale[:, None], bias * scale, gates.reshape(length * batch, 3 * hidden))
        w_hh_t = np.ascontiguousarray((w_hh * scale[:, None]).T)
        b_hn = b_hh[2 * hidden:]
        recurrent = np.empty((batch, 3 * hidden), dtype=dtype)
        scratch = np.empty((batch, hidden), dtype=dtype)
        h = h0
        for t in steps:
            step = gates[t]
            np.matmul(h, w_hh_t, out=recurrent)
            np.add(recurrent[:, 2 * hidden:], b_hn, out=hidden_n[t])
            rz = step[:, :2 * hidden]
            rz += recurrent[:, :2 * hidden]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, z, n = (step[:, k * hidden:(k + 1) * hidden] for k in range(3))
            np.multiply(r, hidden_n[t], out=scratch)
            n += scratch
            np.tanh(n, out=n)
            # h' = (1 - z) n + z h = n + z (h - n)
            h_new = outputs[t]
            np.subtract(h, n, out=h_new)
            h_new *= z
            h_new += n
            h = h_new
        out[length] = h
    else:
        _project(x, w_ih, b_ih + b_hh, outputs.reshape(length * batch, hidden))
        w_hh_t = np.ascontiguousarray(w_hh.T)
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


def _shifted(sequence, first, reverse):
    """The value each step reads from the step before it: ``first`` for the first processed
    step, else the neighbouring row of ``sequence`` (L, N, H); one (L, N, H) array."""
    shifted = np.empty_like(sequence)
    if reverse:
        shifted[:-1] = sequence[1:]
        shifted[-1] = first
    else:
        shifted[1:] = sequence[:-1]
        shifted[0] = first
    return shifted


def _backward(xp, grad, out, x, h0, c0, w_ih, w_hh, mode, reverse, input_grad):
    """Backward through time; every gradient lands in one flat array (``gradient_layout``)."""
    dtype = out.dtype
    x, h0, c0, w_ih, w_hh, grad = (np.asarray(a, dtype=dtype)
                                   for a in (x, h0, c0, w_ih, w_hh, grad))
    length, batch, features = x.shape
    hidden = h0.shape[1]
    size = GATES[mode] * hidden
    layout = gradient_layout(mode, length, batch, features, hidden)
    flat = np.zeros(sum(math.prod(shape) for _, shape in layout), dtype=dtype)
    views, offset = {}, 0
    for name, shape in layout:
        count = math.prod(shape)
        views[name] = flat[offset:offset + count].reshape(shape)
        offset += count
    outputs = out[:length]
    # dh of every step: the output's gradient, plus (added as the loop reaches it) what the
    # following step sends back through W_hh.
    dh_all = np.array(grad[:length], dtype=dtype)
    if mode != "LSTM" and grad[length].any():
        # Row L of an RNN or GRU is the final hidden state, the last processed output again.
        dh_all[0 if reverse else length - 1] += grad[length]
    order = list(range(length) if reverse else range(length - 1, -1, -1))
    # Pre-activation gradients of every step: (L, N, G), the operand of the weight products.
    dgates = np.empty((length, batch, size), dtype=dtype)
    recurrent = np.empty((batch, hidden), dtype=dtype)
    scratch = np.empty((batch, hidden), dtype=dtype)
    rows = None
    if mode == "LSTM":
        rows = _lstm_rows(hidden)
        w_hh_step = np.ascontiguousarray(w_hh[rows])
        block = out[length + 1:]
        gates = block[:4 * length].reshape(length, batch, 4, hidden)
        cells = block[4 * length:5 * length]
        tanh_cells = block[5 * length:]
        o, i, f, g = (gates[:, :, k] for k in range(4))
        dgates4 = dgates.reshape(length, batch, 4, hidden)
        dc = np.array(grad[length], dtype=dtype)
        factor = np.empty((batch, hidden), dtype=dtype)
        # Each step's factors are computed from its (N, H) rows, which stay in cache: computing
        # them for all steps at once made large strided temporaries and ran slower.
        for position, t in enumerate(order):
            dh = dh_all[t]
            d_o, d_i, d_f, d_g = (dgates4[t, :, k] for k in range(4))
            o_t, i_t, f_t, g_t, tanh_c = o[t], i[t], f[t], g[t], tanh_cells[t]
            # dc += dh o (1 - tanh(c)^2)
            np.square(tanh_c, out=scratch)
            np.subtract(1, scratch, out=scratch)
            scratch *= o_t
            scratch *= dh
            dc += scratch
            # do = dh tanh(c) o (1 - o)
            np.subtract(1, o_t, out=factor)
            factor *= o_t
            np.multiply(dh, tanh_c, out=d_o)
            d_o *= factor
            # di = dc g i (1 - i)
            np.subtract(1, i_t, out=factor)
            factor *= i_t
            factor *= g_t
            np.multiply(dc, factor, out=d_i)
            # df = dc c_prev f (1 - f)
            np.subtract(1, f_t, out=factor)
            factor *= f_t
            factor *= c0 if position + 1 == length else cells[order[position + 1]]
            np.multiply(dc, factor, out=d_f)
            # dg = dc i (1 - g^2)
            np.square(g_t, out=factor)
            np.subtract(1, factor, out=factor)
            factor *= i_t
            np.multiply(dc, factor, out=d_g)
            dc *= f_t
            if position + 1 < length:
                np.matmul(dgates[t], w_hh_step, out=recurrent)
                dh_all[order[position + 1]] += recurrent
            else:
                np.matmul(dgates[t], w_hh_step, out=views["h0"])
        views["c0"][...] = dc
        hidden_side = dgates
    elif mode == "GRU":
        block = out[length + 1:]
        gates = block[:3 * length].reshape(length, batch, 3, hidden)
        hidden_n = block[3 * length:]
        r, z, n = (gates[:, :, k] for k in range(3))
        # dz = dh (h_prev - n) z (1 - z); dn = dh (1 - z)(1 - n^2); dr = dn hn r (1 - r);
        # the hidden side's n-gradient is dn * r, the direct path to h_prev dh * z.
        hidden_side = np.empty_like(dgates)
        sides = hidden_side.reshape(length, batch, 3, hidden)
        input_n = np.empty((length, batch, hidden), dtype=dtype)
        factor = np.empty((batch, hidden), dtype=dtype)
        for position, t in enumerate(order):
            dh = dh_all[t]
            r_t, z_t, n_t = r[t], z[t], n[t]
            last = position + 1 == length
            h_prev = h0 if last else outputs[order[position + 1]]
            d_r, d_z, d_hn = sides[t, :, 0], sides[t, :, 1], sides[t, :, 2]
            d_n = input_n[t]
            np.subtract(1, z_t, out=scratch)              # 1 - z
            np.multiply(dh, scratch, out=d_n)             # dh (1 - z)
            scratch *= z_t                                # z (1 - z)
            np.subtract(h_prev, n_t, out=d_z)
            d_z *= dh
            d_z *= scratch
            np.square(n_t, out=factor)
            np.subtract(1, factor, out=factor)
            d_n *= factor
            np.subtract(1, r_t, out=factor)
            factor *= r_t
            factor *= hidden_n[t]
            np.multiply(d_n, factor, out=d_r)
            np.multiply(d_n, r_t, out=d_hn)
            target = views["h0"] if last else dh_all[order[position + 1]]
            np.matmul(hidden_side[t], w_hh, out=recurrent)
            target += recurrent
            np.multiply(dh, z_t, out=scratch)
            target += scratch
        dgates[:, :, :2 * hidden] = hidden_side[:, :, :2 * hidden]
        dgates[:, :, 2 * hidden:] = input_n
    else:
        factor = np.empty((batch, hidden), dtype=dtype)
        for position, t in enumerate(order):
            d = dgates[t]
            if mode == "RNN_TANH":
                np.square(outputs[t], out=factor)
                np.subtract(1, factor, out=factor)
            else:
                np.greater(outputs[t], 0, out=factor)
            np.multiply(dh_all[t], factor, out=d)
            target = views["h0"] if position + 1 == length else dh_all[order[position + 1]]
            np.matmul(d, w_hh, out=recurrent)
            target += recurrent
        hidden_side = dgates
    if mode == "LSTM":
        # Undo the internal gate order: row k of an internal gradient is PyTorch's row rows[k].
        w_hh_grad = np.empty((size, hidden), dtype=dtype)
        b_grad = np.empty(size, dtype=dtype)
        w_ih_grad = np.empty((size, features), dtype=dtype)
    else:
        w_hh_grad, b_grad, w_ih_grad = views["w_hh"], views["b_hh"], views["w_ih"]
    flat_rows = length * batch
    # Weight gradients: one product over all steps each.
    previous = _shifted(outputs, h0, reverse).reshape(flat_rows, hidden)
    np.matmul(hidden_side.reshape(flat_rows, size).T, previous, out=w_hh_grad)
    np.add.reduce(hidden_side.reshape(flat_rows, size), axis=0, out=b_grad)
    if mode == "LSTM":
        views["w_hh"][rows] = w_hh_grad
        views["b_hh"][rows] = b_grad
    input_2d = dgates.reshape(flat_rows, size)
    if mode == "GRU":
        np.add.reduce(input_2d, axis=0, out=views["b_ih"])
    else:
        views["b_ih"][...] = views["b_hh"]
    np.matmul(input_2d.T, np.ascontiguousarray(x).reshape(flat_rows, features), out=w_ih_grad)
    if mode == "LSTM":
        views["w_ih"][rows] = w_ih_grad
    if input_grad:
        w_ih_step = w_ih[rows] if mode == "LSTM" else w_ih
        np.matmul(input_2d, w_ih_step, out=views["x"].reshape(flat_rows, features))
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
