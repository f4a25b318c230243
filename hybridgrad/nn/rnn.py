"""Recurrent layers with PyTorch's API: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells.

Parameter names, shapes, gate order and initialization follow PyTorch, so a PyTorch
``state_dict`` loads unchanged:

* ``weight_ih_l{k}`` (gates*hidden, input), ``weight_hh_l{k}`` (gates*hidden, hidden),
  ``bias_ih_l{k}``, ``bias_hh_l{k}``; the reverse direction adds the suffix ``_reverse``;
* LSTM gates are stacked ``i, f, g, o``; GRU gates ``r, z, n`` with
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``;
* every parameter starts as ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.

Each layer and direction is one fused primitive (``hybridgrad/ops/recurrent.py``): the input
projection of all time steps is one matrix product, each step one small product and an in-place
gate update, and the backward through time accumulates the weight gradients in one product per
weight at the end. Compiled graphs see one node per layer and direction. Cells run the same
kernel over a sequence of length one.

Example:
    >>> import hybridgrad as hg
    >>> lstm = hg.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    >>> output, (h_n, c_n) = lstm(hg.randn(5, 2, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((5, 2, 8), (4, 2, 4), (4, 2, 4))
"""

# ruff: noqa: A001, A002 - PyTorch names its tensor argument `input`
from __future__ import annotations

import math
import warnings

import numpy as np

from hybridgrad.nn.dropout import dropout as _dropout
from hybridgrad.nn.module import Module, Parameter
from hybridgrad.ops import api
from hybridgrad.ops.recurrent import recurrent_layer
from hybridgrad.ops.registry import SymbolicValue
from hybridgrad.tensor import Tensor, default_generator

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _zero_bias(weight) -> Tensor:
    """A constant zero bias for layers built with ``bias=False`` (the fused kernel takes one)."""
    return Tensor._wrap(np.zeros(weight.shape[0], dtype=weight.dtype))


def _cell_step(mode: str, cell, input, h, c=None):
    """One step of a cell: the fused layer over a sequence of length 1 on tensors; composed of
    primitives on symbols (tracing, ONNX export), so that an exported cell stays plain ONNX."""
    bias_ih, bias_hh = cell.bias_ih, cell.bias_hh
    if bias_ih is None:
        bias_ih = bias_hh = _zero_bias(cell.weight_ih)
    if isinstance(input, SymbolicValue) or isinstance(h, SymbolicValue):
        return _composed_step(mode, input, h, c, cell.weight_ih, cell.weight_hh, bias_ih,
                              bias_hh)
    output, h_n, c_n = recurrent_layer(api.unsqueeze(input, 0), h, h if c is None else c,
                                       cell.weight_ih, cell.weight_hh, bias_ih, bias_hh,
                                       mode=mode)
    return h_n, c_n


def _composed_step(mode: str, x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """One step written with primitives (PyTorch's gate equations): ``(h', c')``."""
    hidden = h.shape[-1]

    def gate(values, index):
        return values[..., index * hidden:(index + 1) * hidden]

    x_part = api.matmul(x, api.transpose(weight_ih, 0, 1)) + bias_ih
    h_part = api.matmul(h, api.transpose(weight_hh, 0, 1)) + bias_hh
    if mode == "LSTM":
        gates = x_part + h_part
        c = api.sigmoid(gate(gates, 1)) * c + api.sigmoid(gate(gates, 0)) * api.tanh(gate(gates, 2))
        return api.sigmoid(gate(gates, 3)) * api.tanh(c), c
    if mode == "GRU":
        r = api.sigmoid(gate(x_part, 0) + gate(h_part, 0))
        z = api.sigmoid(gate(x_part, 1) + gate(h_part, 1))
        n = api.tanh(gate(x_part, 2) + r * gate(h_part, 2))
        return (1.0 - z) * n + z * h, None
    pre = x_part + h_part
    return (api.tanh(pre) if mode == "RNN_TANH" else api.relu(pre)), None


def _uniform(shape: tuple, bound: float, dtype) -> Parameter:
    rng = default_generator()
    return Parameter(rng.uniform(-bound, bound, shape).astype(dtype))


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU` (PyTorch's RNNBase).

    ``mode`` is ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.

    Example:
        >>> import hybridgrad as hg
        >>> [k for k in hg.nn.GRU(2, 3, bidirectional=True).state_dict()][:5]
        ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse']
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"RNNBase: unknown mode {mode!r}; expected one of {list(_GATES)}")
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if int(input_size) <= 0 or int(hidden_size) <= 0:
            raise ValueError(f"{name}: input_size ({input_size}) and hidden_size ({hidden_size}) "
                             "must be positive")
        if int(num_layers) < 1:
            raise ValueError(f"{name}: num_layers must be at least 1, got {num_layers}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if float(dropout) > 0 and int(num_layers) == 1:
            warnings.warn(f"{name}: dropout={dropout} has no effect with num_layers=1 (dropout "
                          "acts between recurrent layers)", UserWarning, stacklevel=3)
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size (LSTM projections) is not supported")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.proj_size = 0
        self._name = name
        dtype = np.dtype(dtype or np.float32)
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * self.hidden_size
        bound = 1.0 / math.sqrt(self.hidden_size)
        self._flat_weights_names = []
        # Registration order = PyTorch's order = the order PyTorch draws the init from.
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * num_directions
            for direction in range(num_directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = [(f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                          (f"weight_hh_l{layer}{suffix}", (gate_size, self.hidden_size))]
                if self.bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (gate_size,)),
                               (f"bias_hh_l{layer}{suffix}", (gate_size,))]
                for param_name, shape in shapes:
                    setattr(self, param_name, _uniform(shape, bound, dtype))
                    self._flat_weights_names.append(param_name)

    def flatten_parameters(self) -> None:
        """No-op kept for PyTorch compatibility (there is no cuDNN weight buffer here)."""

    @property
    def all_weights(self) -> list:
        """Parameters grouped per layer and direction: ``[[w_ih, w_hh, b_ih, b_hh], ...]``."""
        per_group = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per_group]]
                for i in range(0, len(names), per_group)]

    def _weights(self, layer: int, direction: int):
        suffix = "_reverse" if direction == 1 else ""
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{suffix}"), get(f"weight_hh_l{layer}{suffix}"),
                get(f"bias_ih_l{layer}{suffix}"), get(f"bias_hh_l{layer}{suffix}"))

    def _check_hidden(self, value, expected: tuple, what: str, batched: bool):
        shape = tuple(value.shape)
        want = expected if batched else (expected[0], expected[2])
        if shape != want:
            raise ValueError(f"{self._name}: expected {what} of shape {want}, got {shape}")
        return value if batched else api.unsqueeze(value, 1)

    def forward(self, input, hx=None):
        """Run the whole sequence.

        ``input`` is (L, N, input_size), (N, L, input_size) with ``batch_first``, or unbatched
        (L, input_size). ``hx`` is the initial hidden state (num_layers * num_directions, N,
        hidden_size) (an ``(h_0, c_0)`` pair for LSTM); zeros when omitted.
        Returns ``(output, h_n)``, or ``(output, (h_n, c_n))`` for LSTM.
        """
        shape = tuple(input.shape)
        if len(shape) not in (2, 3):
            raise ValueError(f"{self._name}: expected a 2-D (unbatched) or 3-D input, got shape "
                             f"{shape}")
        if shape[-1] != self.input_size:
            raise ValueError(f"{self._name}: input has {shape[-1]} features (shape {shape}), "
                             f"expected input_size={self.input_size}")
        batched = len(shape) == 3
        if not batched:
            input = api.unsqueeze(input, 1)
        elif self.batch_first:
            input = api.transpose(input, 0, 1)
        length, batch = input.shape[0], input.shape[1]
        if length == 0:
            raise ValueError(f"{self._name}: the input sequence is empty (shape {shape})")
        num_directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * num_directions, batch, self.hidden_size)
        is_lstm = self.mode == "LSTM"
        if hx is None:
            zeros = Tensor._wrap(np.zeros(state_shape, dtype=input.dtype))
            h_0, c_0 = zeros, zeros
        elif is_lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
            h_0 = self._check_hidden(hx[0], state_shape, "h_0", batched)
            c_0 = self._check_hidden(hx[1], state_shape, "c_0", batched)
        else:
            h_0 = self._check_hidden(hx, state_shape, "hx", batched)
            c_0 = h_0

        # One fused primitive per layer and direction (hybridgrad/ops/recurrent.py).
        layer_input = input
        final_h, final_c = [], []
        for layer in range(self.num_layers):
            direction_outputs = []
            for direction in range(num_directions):
                index = layer * num_directions + direction
                weight_ih, weight_hh, bias_ih, bias_hh = self._weights(layer, direction)
                if bias_ih is None:
                    bias_ih = bias_hh = _zero_bias(weight_ih)
                output, h, c = recurrent_layer(layer_input, h_0[index], c_0[index], weight_ih,
                                               weight_hh, bias_ih, bias_hh, mode=self.mode,
                                               reverse=direction == 1)
                direction_outputs.append(output)
                final_h.append(h)
                final_c.append(c)
            layer_input = (direction_outputs[0] if num_directions == 1 else
                           api.cat(direction_outputs, dim=-1))
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, True)

        output = layer_input
        h_n = api.stack(final_h, 0)
        c_n = api.stack(final_c, 0) if is_lstm else None
        if not batched:
            output = api.squeeze(output, 1)
            h_n = api.squeeze(h_n, 1)
            c_n = api.squeeze(c_n, 1) if is_lstm else None
        elif self.batch_first:
            output = api.transpose(output, 0, 1)
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Example:
        >>> import hybridgrad as hg
        >>> rnn = hg.nn.RNN(3, 5, num_layers=2, batch_first=True)
        >>> output, h_n = rnn(hg.randn(2, 7, 3))
        >>> output.shape, h_n.shape
        ((2, 7, 5), (2, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or "
                             "'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory (gate order i, f, g, o as in PyTorch)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                            h' = o * tanh(c')

    Returns ``(output, (h_n, c_n))``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.LSTM(2, 3).weight_ih_l0.shape
        (12, 2)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gate order r, z, n as in PyTorch)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h

    Example:
        >>> import hybridgrad as hg
        >>> output, h_n = hg.nn.GRU(2, 3)(hg.randn(4, 1, 2))
        >>> output.shape, h_n.shape
        ((4, 1, 3), (1, 1, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Cells.


class RNNCellBase(Module):
    """Parameters shared by the cells: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.

    Example:
        >>> import hybridgrad as hg
        >>> list(hg.nn.GRUCell(2, 3).state_dict())
        ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dtype = np.dtype(dtype or np.float32)
        bound = 1.0 / math.sqrt(self.hidden_size)
        gate_size = num_chunks * self.hidden_size
        self.weight_ih = _uniform((gate_size, self.input_size), bound, dtype)
        self.weight_hh = _uniform((gate_size, self.hidden_size), bound, dtype)
        if bias:
            self.bias_ih = _uniform((gate_size,), bound, dtype)
            self.bias_hh = _uniform((gate_size,), bound, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _prepare(self, input, hx):
        shape = tuple(input.shape)
        name = type(self).__name__
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {shape}")
        batched = len(shape) == 2
        if not batched:
            input = api.unsqueeze(input, 0)
        batch = input.shape[0]
        states = hx if isinstance(hx, (tuple, list)) else (hx,)
        prepared = []
        for state in states:
            if state is None:
                state = Tensor._wrap(
                    np.zeros((batch, self.hidden_size), dtype=input.dtype))
            else:
                want = (batch, self.hidden_size) if batched else (self.hidden_size,)
                if tuple(state.shape) != want:
                    raise ValueError(f"{name}: expected hidden state of shape {want}, got "
                                     f"{tuple(state.shape)}")
                if not batched:
                    state = api.unsqueeze(state, 0)
            prepared.append(state)
        return input, prepared, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text + (", bias=False" if not self.bias else "")


class RNNCell(RNNCellBase):
    """One Elman step ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.RNNCell(3, 2)(hg.randn(4, 3)).shape
        (4, 2)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, (h,), batched = self._prepare(input, hx)
        h, _ = _cell_step("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", self,
                          input, h)
        return h if batched else api.squeeze(h, 0)


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` is ``(h, c)`` (zeros when omitted); returns ``(h', c')``.

    Example:
        >>> import hybridgrad as hg
        >>> h, c = hg.nn.LSTMCell(3, 2)(hg.randn(4, 3))
        >>> h.shape, c.shape
        ((4, 2), (4, 2))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input, hx=None):
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a tuple (h, c)")
        input, (h, c), batched = self._prepare(input, hx)
        h, c = _cell_step("LSTM", self, input, h, c)
        return (h, c) if batched else (api.squeeze(h, 0), api.squeeze(c, 0))


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n); returns ``h'``.

    Example:
        >>> import hybridgrad as hg
        >>> hg.nn.GRUCell(3, 2)(hg.randn(3)).shape
        (2,)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input, hx=None):
        input, (h,), batched = self._prepare(input, hx)
        h, _ = _cell_step("GRU", self, input, h)
        return h if batched else api.squeeze(h, 0)
