"""ONNX recurrent layers (RNN, GRU, LSTM) with ONNX's gate layouts, composed of matmuls and
elementwise operators, so they differentiate like any other graph.

Example:
    >>> from hybridgrad.onnx.ops import OPS
    >>> len(OPS) > 100
    True
"""

from __future__ import annotations

import builtins
from typing import Callable

import numpy as np

from hybridgrad.onnx.ops.activations import _elu
from hybridgrad.onnx.ops.core import UnsupportedError, _like, const, onnx_op
from hybridgrad.ops import api

# ----------------------------------------------------------------------------------------------
# Recurrent layers (RNN, GRU, LSTM) with ONNX's gate layouts, composed of matmuls and
# elementwise operators, so they differentiate like any other graph.


def _rnn_activation(name: str, alpha, beta) -> Callable:
    name_lower = name.lower()
    functions = {
        "sigmoid": api.sigmoid, "tanh": api.tanh, "relu": api.relu,
        "softsign": lambda v: v / (api.abs(v) + _like(1, v)),
        "softplus": api.softplus,
        "affine": lambda v: v * _like(1.0 if alpha is None else alpha, v)
        + _like(0.0 if beta is None else beta, v),
        "leakyrelu": lambda v: api.where(v >= _like(0, v), v,
                                       v * _like(0.01 if alpha is None else alpha, v)),
        "thresholdedrelu": lambda v: api.where(v > _like(1.0 if alpha is None else alpha, v),
                                             v, _like(0, v)),
        "scaledtanh": lambda v: api.tanh(v * _like(1.0 if beta is None else beta, v))
        * _like(1.0 if alpha is None else alpha, v),
        "hardsigmoid": lambda v: api.clamp(v * _like(0.2 if alpha is None else alpha, v)
                                         + _like(0.5 if beta is None else beta, v), 0.0, 1.0),
        "elu": lambda v: _elu(v, 1.0 if alpha is None else alpha),
    }
    if name_lower not in functions:
        raise UnsupportedError(f"recurrent activation {name!r} is not supported")
    return functions[name_lower]


_RNN_DEFAULTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_RNN_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _slice_gate(value, index: int, hidden: int):
    return api.getitem(value, (Ellipsis, slice(index * hidden, (index + 1) * hidden)))


@onnx_op("RNN", "GRU", "LSTM")
def _recurrent(ctx):
    kind = ctx.op_type
    x, w, r = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2]
    bias, lengths, initial_h = ctx.input(3), ctx.static(4), ctx.input(5)
    initial_c = ctx.input(6) if kind == "LSTM" else None
    peephole = ctx.input(7) if kind == "LSTM" else None
    hidden = ctx.attr("hidden_size") or r.shape[-1]
    direction = ctx.attr("direction", "forward")
    directions = ["forward", "reverse"] if direction == "bidirectional" else [direction]
    layout = ctx.attr("layout", 0)
    clip = ctx.attr("clip")
    if kind == "LSTM" and ctx.attr("input_forget", 0):
        raise UnsupportedError(f"LSTM node {ctx.node.name!r}: input_forget=1 is not supported")
    if layout:
        x = api.transpose(x, 0, 1)
        initial_h = None if initial_h is None else api.transpose(initial_h, 0, 1)
        initial_c = None if initial_c is None else api.transpose(initial_c, 0, 1)
    steps, batch = x.shape[0], x.shape[1]
    names = ctx.attr("activations") or _RNN_DEFAULTS[kind] * len(directions)
    alphas, betas = ctx.attr("activation_alpha", []), ctx.attr("activation_beta", [])
    per_direction = len(_RNN_DEFAULTS[kind])
    gates = _RNN_GATES[kind]
    valid = None
    if lengths is not None:
        valid = (np.arange(steps)[:, None] < lengths.reshape(1, -1)).astype(bool)  # [T, B]
    outputs_y, outputs_h, outputs_c = [], [], []
    for d, name in enumerate(directions):
        acts = []
        for k in range(per_direction):
            index = d * per_direction + k
            acts.append(_rnn_activation(
                names[index], alphas[index] if index < len(alphas) else None,
                betas[index] if index < len(betas) else None))
        w_d, r_d = api.getitem(w, d), api.getitem(r, d)
        # Input projections of every time step in one matmul: [T, B, gates * hidden].
        projected = api.matmul(x, api.transpose(w_d, 0, 1))
        if bias is not None:
            b_d = api.getitem(bias, d)
            w_bias = api.getitem(b_d, slice(0, gates * hidden))
            r_bias = api.getitem(b_d, slice(gates * hidden, 2 * gates * hidden))
            projected = projected + w_bias
        else:
            r_bias = None
        r_t = api.transpose(r_d, 0, 1)
        h = api.getitem(initial_h, d) if initial_h is not None else const(
            np.zeros((batch, hidden), x.dtype))
        c = None
        if kind == "LSTM":
            c = api.getitem(initial_c, d) if initial_c is not None else const(
                np.zeros((batch, hidden), x.dtype))
            p_d = api.getitem(peephole, d) if peephole is not None else None
        order = range(steps - 1, -1, -1) if name == "reverse" else range(steps)
        ys = [None] * steps
        for t in order:
            x_t = api.getitem(projected, t)
            recurrent = api.matmul(h, r_t)
            if r_bias is not None:
                recurrent = recurrent + r_bias

            def gate_input(index, x_t=x_t, recurrent=recurrent):
                return _slice_gate(x_t, index, hidden) + _slice_gate(recurrent, index, hidden)

            def clipped(value):
                return api.clamp(value, -clip, clip) if clip is not None else value

            if kind == "RNN":
                new_h = acts[0](clipped(gate_input(0)))
                new_c = None
            elif kind == "GRU":
                z = acts[0](clipped(gate_input(0)))
                reset = acts[0](clipped(gate_input(1)))
                if ctx.attr("linear_before_reset", 0):
                    candidate = _slice_gate(x_t, 2, hidden) + reset * _slice_gate(
                        recurrent, 2, hidden)
                else:
                    # The candidate uses (reset * h) @ R_h instead of the shared h @ R.
                    r_h = _slice_gate(r_t, 2, hidden)
                    candidate = _slice_gate(x_t, 2, hidden) + api.matmul(reset * h, r_h)
                    if r_bias is not None:
                        candidate = candidate + _slice_gate(r_bias, 2, hidden)
                candidate = acts[1](clipped(candidate))
                new_h = (_like(1, z) - z) * candidate + z * h
                new_c = None
            else:
                i_in, o_in, f_in = gate_input(0), gate_input(1), gate_input(2)
                if p_d is not None:
                    i_in = i_in + _slice_gate(p_d, 0, hidden) * c
                    f_in = f_in + _slice_gate(p_d, 2, hidden) * c
                i_gate = acts[0](clipped(i_in))
                f_gate = acts[0](clipped(f_in))
                candidate = acts[1](clipped(gate_input(3)))
                new_c = f_gate * c + i_gate * candidate
                if p_d is not None:
                    o_in = o_in + _slice_gate(p_d, 1, hidden) * new_c
                o_gate = acts[0](clipped(o_in))
                new_h = o_gate * acts[2](new_c)
            if valid is not None:
                mask = const(valid[t].reshape(-1, 1))
                new_h = api.where(mask, new_h, h)
                ys[t] = api.where(mask, new_h, _like(0, new_h))
                if new_c is not None:
                    new_c = api.where(mask, new_c, c)
            else:
                ys[t] = new_h
            h, c = new_h, new_c
        outputs_y.append(api.stack(ys, 0))  # [T, B, H]
        outputs_h.append(h)
        outputs_c.append(c)
    y = api.stack(outputs_y, 1)  # [T, D, B, H]
    y_h = api.stack(outputs_h, 0)  # [D, B, H]
    results = [y, y_h]
    if kind == "LSTM":
        results.append(api.stack(outputs_c, 0))
    if layout:
        results[0] = api.permute(y, (2, 0, 1, 3))
        results[1:] = [api.transpose(v, 0, 1) for v in results[1:]]
    return results[:builtins.max(ctx.n_outputs, 1)]
