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

from hybridgrad.ops import api
from hybridgrad.ops.registry import OpError, Spec, apply, promote, register

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _workspace_rows(mode: str, length: int) -> int:
    """Rows of (N, H) after the outputs and the final-state row: what the backward reads."""
    if mode == "LSTM":
        return 7 * length  # gates (4L), cell states, tanh(cell), outputs feature-major (L each)
    if mode == "GRU":
        return 5 * length  # r, z, n (3L), W_hn h + b_hn (L), outputs feature-major (L)
    return length  # outputs feature-major (they give the derivative of tanh / relu)


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


# Layout. Inside the kernels every step works feature-major: a state is (H, N) and a step's
# gates (G, N), so that each gate is one contiguous (H, N) block (elementwise NumPy on a strided
# (N, H) slice of an (N, G) row ran twice as slow). LSTM gates are kept as (o, i, f, g) instead
# of PyTorch's (i, f, g, o): the three sigmoid gates are one block in the forward. Sigmoids are
# 0.5 * tanh(x / 2) + 0.5 (no overflow), the halving folded into copies of the weights, so one
# tanh covers every gate of a step. The workspace rows of the result hold, feature-major:
# LSTM: gates (L, 4H, N), cells (L, H, N), tanh(cells) (L, H, N), outputs (L, H, N);
# GRU: gates (L, 3H, N), W_hn h + b_hn (L, H, N), outputs (L, H, N); RNN: outputs (L, H, N).


def _lstm_rows(xp, hidden: int):
    """PyTorch's weight rows in the internal (o, i, f, g) order."""
    return xp.concatenate([xp.arange(3 * hidden, 4 * hidden), xp.arange(0, 3 * hidden)])


def _gate_scale(xp, hidden: int, gate_count: int, sigmoid_gates: int, dtype):
    scale = xp.ones(gate_count * hidden, dtype=dtype)
    scale[:sigmoid_gates * hidden] = 0.5
    return scale


def _workspace(out, mode: str, length: int, batch: int, hidden: int) -> dict:
    """Views of the workspace rows (see the layout above)."""
    flat = out[length + 1:].reshape(-1)
    parts = {"LSTM": [("gates", 4), ("cells", 1), ("tanh_cells", 1), ("states", 1)],
             "GRU": [("gates", 3), ("hidden_n", 1), ("states", 1)]}.get(mode, [("states", 1)])
    views, offset = {}, 0
    for name, count in parts:
        size = length * count * hidden * batch
        views[name] = flat[offset:offset + size].reshape(length, count * hidden, batch)
        offset += size
    return views


def _project_t(xp, x, w_ih, bias, out) -> None:
    """out (L, G, N) = (x W_ih^T + bias) per step, feature-major: W_ih x_t^T for every step in
    one batched product (x's layout, time-major or a batch_first view, suits BLAS as it is)."""
    xp.matmul(w_ih, x.transpose(0, 2, 1), out=out)
    out += bias[:, None]


def _forward(xp, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse):
    """Run the layer; see the module docstring for the layout of the result."""
    spec = _layer_shape(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse)
    dtype = spec.dtype
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = (
        xp.asarray(a, dtype=dtype) for a in (x, h0, c0, w_ih, w_hh, b_ih, b_hh))
    length, batch, _ = x.shape
    hidden = h0.shape[1]
    out = xp.empty(spec.shape, dtype=dtype)
    work = _workspace(out, mode, length, batch, hidden)
    states = work["states"]
    steps = range(length - 1, -1, -1) if reverse else range(length)
    h = xp.ascontiguousarray(h0.T)
    if mode == "LSTM":
        gates, cells, tanh_cells = work["gates"], work["cells"], work["tanh_cells"]
        rows = _lstm_rows(xp, hidden)
        scale = _gate_scale(xp, hidden, 4, 3, dtype)
        _project_t(xp, x, w_ih[rows] * scale[:, None], (b_ih + b_hh)[rows] * scale, gates)
        w_hh_step = xp.ascontiguousarray(w_hh[rows] * scale[:, None])
        recurrent = xp.empty((4 * hidden, batch), dtype=dtype)
        scratch = xp.empty((hidden, batch), dtype=dtype)
        c = xp.ascontiguousarray(c0.T)
        for t in steps:
            step = gates[t]
            xp.matmul(w_hh_step, h, out=recurrent)
            step += recurrent
            xp.tanh(step, out=step)
            sigmoids = step[:3 * hidden]
            sigmoids *= 0.5
            sigmoids += 0.5
            o, i, f, g = (step[k * hidden:(k + 1) * hidden] for k in range(4))
            c_new = cells[t]
            xp.multiply(f, c, out=c_new)
            xp.multiply(i, g, out=scratch)
            c_new += scratch
            xp.tanh(c_new, out=tanh_cells[t])
            xp.multiply(o, tanh_cells[t], out=states[t])
            h, c = states[t], c_new
        out[length] = c.T
    elif mode == "GRU":
        gates, hidden_n = work["gates"], work["hidden_n"]
        scale = _gate_scale(xp, hidden, 3, 2, dtype)
        # b_hr and b_hz join the projection; b_hn stays inside r * (W_hn h + b_hn).
        bias = b_ih.copy()
        bias[:2 * hidden] += b_hh[:2 * hidden]
        _project_t(xp, x, w_ih * scale[:, None], bias * scale, gates)
        w_hh_step = xp.ascontiguousarray(w_hh * scale[:, None])
        b_hn = b_hh[2 * hidden:, None]
        recurrent = xp.empty((3 * hidden, batch), dtype=dtype)
        scratch = xp.empty((hidden, batch), dtype=dtype)
        for t in steps:
            step = gates[t]
            xp.matmul(w_hh_step, h, out=recurrent)
            xp.add(recurrent[2 * hidden:], b_hn, out=hidden_n[t])
            rz = step[:2 * hidden]
            rz += recurrent[:2 * hidden]
            xp.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, z, n = (step[k * hidden:(k + 1) * hidden] for k in range(3))
            xp.multiply(r, hidden_n[t], out=scratch)
            n += scratch
            xp.tanh(n, out=n)
            # h' = (1 - z) n + z h = n + z (h - n)
            h_new = states[t]
            xp.subtract(h, n, out=h_new)
            h_new *= z
            h_new += n
            h = h_new
        out[length] = h.T
    else:
        _project_t(xp, x, w_ih, b_ih + b_hh, states)
        recurrent = xp.empty((hidden, batch), dtype=dtype)
        for t in steps:
            step = states[t]
            xp.matmul(w_hh, h, out=recurrent)
            step += recurrent
            if mode == "RNN_TANH":
                xp.tanh(step, out=step)
            else:
                xp.maximum(step, 0, out=step)
            h = step
        out[length] = h.T
    out[:length] = states.transpose(0, 2, 1)
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


def _steps_major(xp, sequence, first, reverse):
    """(F, L*N): column t*N + n holds what step t read from the step before it (``first``,
    (F, N), for the first processed step), for the weight products over all steps."""
    features, batch = sequence.shape[1], sequence.shape[2]
    length = sequence.shape[0]
    result = xp.empty((features, length, batch), dtype=sequence.dtype)
    moved = sequence.transpose(1, 0, 2)
    if reverse:
        result[:, :-1] = moved[:, 1:]
        result[:, -1] = first
    else:
        result[:, 1:] = moved[:, :-1]
        result[:, 0] = first
    return result.reshape(features, length * batch)


def _backward(xp, grad, out, x, h0, c0, w_ih, w_hh, mode, reverse, input_grad):
    """Backward through time; every gradient lands in one flat array (``gradient_layout``)."""
    dtype = out.dtype
    x, h0, c0, w_ih, w_hh, grad = (xp.asarray(a, dtype=dtype)
                                   for a in (x, h0, c0, w_ih, w_hh, grad))
    length, batch, features = x.shape
    hidden = h0.shape[1]
    size = GATES[mode] * hidden
    layout = gradient_layout(mode, length, batch, features, hidden)
    flat = xp.zeros(sum(math.prod(shape) for _, shape in layout), dtype=dtype)
    views, offset = {}, 0
    for name, shape in layout:
        count = math.prod(shape)
        views[name] = flat[offset:offset + count].reshape(shape)
        offset += count
    work = _workspace(out, mode, length, batch, hidden)
    states = work["states"]
    # dh of every step, feature-major: the output's gradient, plus (added as the loop reaches
    # it) what the following step sends back through W_hh.
    dh_all = xp.ascontiguousarray(grad[:length].transpose(0, 2, 1))
    if mode != "LSTM" and grad[length].any():
        # Row L of an RNN or GRU is the final hidden state, the last processed output again.
        dh_all[0 if reverse else length - 1] += grad[length].T
    order = list(range(length) if reverse else range(length - 1, -1, -1))
    h0_t = xp.ascontiguousarray(h0.T)
    # Pre-activation gradients of every step (L, G, N): the operand of the weight products.
    dgates = xp.empty((length, size, batch), dtype=dtype)
    grad_h0 = xp.empty((hidden, batch), dtype=dtype)
    recurrent = xp.empty((hidden, batch), dtype=dtype)
    scratch = xp.empty((hidden, batch), dtype=dtype)
    factor = xp.empty((hidden, batch), dtype=dtype)
    rows = _lstm_rows(xp, hidden) if mode == "LSTM" else slice(None)
    w_hh_t = xp.ascontiguousarray(w_hh[rows].T)  # (H, G) in the internal gate order
    hidden_side = dgates
    if mode == "LSTM":
        gates, cells, tanh_cells = work["gates"], work["cells"], work["tanh_cells"]
        c0_t = xp.ascontiguousarray(c0.T)
        dc = xp.ascontiguousarray(grad[length].T)
        for position, t in enumerate(order):
            dh, step, d = dh_all[t], gates[t], dgates[t]
            o, i, f, g = (step[k * hidden:(k + 1) * hidden] for k in range(4))
            d_o, d_i, d_f, d_g = (d[k * hidden:(k + 1) * hidden] for k in range(4))
            tanh_c = tanh_cells[t]
            last = position + 1 == length
            # dc += dh o (1 - tanh(c)^2)
            xp.square(tanh_c, out=scratch)
            xp.subtract(1, scratch, out=scratch)
            scratch *= o
            scratch *= dh
            dc += scratch
            # do = dh tanh(c) o (1 - o)
            xp.subtract(1, o, out=factor)
            factor *= o
            xp.multiply(dh, tanh_c, out=d_o)
            d_o *= factor
            # di = dc g i (1 - i)
            xp.subtract(1, i, out=factor)
            factor *= i
            factor *= g
            xp.multiply(dc, factor, out=d_i)
            # df = dc c_prev f (1 - f)
            xp.subtract(1, f, out=factor)
            factor *= f
            factor *= c0_t if last else cells[order[position + 1]]
            xp.multiply(dc, factor, out=d_f)
            # dg = dc i (1 - g^2)
            xp.square(g, out=factor)
            xp.subtract(1, factor, out=factor)
            factor *= i
            xp.multiply(dc, factor, out=d_g)
            dc *= f
            if last:
                xp.matmul(w_hh_t, d, out=grad_h0)
            else:
                xp.matmul(w_hh_t, d, out=recurrent)
                dh_all[order[position + 1]] += recurrent
        views["c0"][...] = dc.T
    elif mode == "GRU":
        gates, hidden_n = work["gates"], work["hidden_n"]
        # dz = dh (h_prev - n) z (1 - z); dn = dh (1 - z)(1 - n^2); dr = dn hn r (1 - r);
        # the hidden side's n-gradient is dn * r, the direct path to h_prev dh * z.
        hidden_side = xp.empty_like(dgates)
        for position, t in enumerate(order):
            dh, step, side, d = dh_all[t], gates[t], hidden_side[t], dgates[t]
            r, z, n = (step[k * hidden:(k + 1) * hidden] for k in range(3))
            d_r, d_z, d_hn = (side[k * hidden:(k + 1) * hidden] for k in range(3))
            d_n = d[2 * hidden:]
            last = position + 1 == length
            h_prev = h0_t if last else states[order[position + 1]]
            xp.subtract(1, z, out=scratch)                # 1 - z
            xp.multiply(dh, scratch, out=d_n)             # dh (1 - z)
            scratch *= z                                  # z (1 - z)
            xp.subtract(h_prev, n, out=d_z)
            d_z *= dh
            d_z *= scratch
            xp.square(n, out=factor)
            xp.subtract(1, factor, out=factor)
            d_n *= factor
            xp.subtract(1, r, out=factor)
            factor *= r
            factor *= hidden_n[t]
            xp.multiply(d_n, factor, out=d_r)
            xp.multiply(d_n, r, out=d_hn)
            d[:2 * hidden] = side[:2 * hidden]
            target = grad_h0 if last else dh_all[order[position + 1]]
            if last:
                xp.matmul(w_hh_t, side, out=grad_h0)
            else:
                xp.matmul(w_hh_t, side, out=recurrent)
                target += recurrent
            xp.multiply(dh, z, out=scratch)
            target += scratch
    else:
        for position, t in enumerate(order):
            d = dgates[t]
            if mode == "RNN_TANH":
                xp.square(states[t], out=factor)
                xp.subtract(1, factor, out=factor)
            else:
                xp.greater(states[t], 0, out=factor)
            xp.multiply(dh_all[t], factor, out=d)
            if position + 1 == length:
                xp.matmul(w_hh_t, d, out=grad_h0)
            else:
                xp.matmul(w_hh_t, d, out=recurrent)
                dh_all[order[position + 1]] += recurrent
    views["h0"][...] = grad_h0.T
    # Weight gradients: one product over all steps each, on (G, L*N) step-major copies.
    flat_rows = length * batch
    hidden_2d = xp.ascontiguousarray(hidden_side.transpose(1, 0, 2)).reshape(size, flat_rows)
    previous = _steps_major(xp, states, h0_t, reverse)
    views["w_hh"][rows] = hidden_2d @ previous.T
    views["b_hh"][rows] = hidden_2d.sum(axis=1)
    if mode == "GRU":
        input_2d = xp.ascontiguousarray(dgates.transpose(1, 0, 2)).reshape(size, flat_rows)
        views["b_ih"][...] = input_2d.sum(axis=1)
    else:
        input_2d = hidden_2d
        views["b_ih"][...] = views["b_hh"]
    x_2d = xp.ascontiguousarray(x).reshape(flat_rows, features)
    views["w_ih"][rows] = input_2d @ x_2d
    if input_grad:
        xp.matmul(input_2d.T, w_ih[rows], out=views["x"].reshape(flat_rows, features))
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
            grads.append(api.reshape(api.getitem(packed, (slice(offset, offset + count),)), shape))
        else:
            grads.append(None)
        offset += count
    return tuple(grads)


def _backward_vjp(grad, inputs, out, needs, **attrs):
    raise NotImplementedError(
        "recurrent_layer_backward: the second derivative of a fused recurrent layer is not "
        "implemented (the first-order backward through time is fused); differentiate a "
        "composition of per-step operators for higher orders")


# Facts for the compiler and its memory planner (tests/ops/test_registry_facts.py): both results
# are fresh arrays; neither splits by rows of its first input (the batch is axis 1 of x, and the
# result packs the outputs with the workspace); the loops allocate their own buffers.
_FACTS = {"rows": "a time loop over axis 0; the batch is axis 1 and the result packs outputs "
                  "with the backward's workspace",
          "out_kernel": "the forward and backward loops allocate their own workspace"}

register("recurrent_layer", gradcheck="tests/nn/test_rnn_fused.py", shape=_layer_shape,
         vjp=_layer_vjp, promotes=True, float_only=True, aliasing="fresh", why_not=_FACTS,
         formula="{mode}({x}, {h0}, {c0})",
         derivatives=("backward through time",) * 7,
         arg_names=("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"))(_forward)
register("recurrent_layer_backward", gradcheck="tests/nn/test_rnn_fused.py",
         shape=_backward_shape, vjp=_backward_vjp, promotes=False, float_only=True,
         aliasing="fresh", why_not=_FACTS,
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
    output = api.getitem(packed, (slice(0, length),))
    h_n = api.getitem(output, (0 if reverse else length - 1,))
    c_n = api.getitem(packed, (length,)) if mode == "LSTM" else None
    return output, h_n, c_n
