"""LSTM speed: hybridgrad's LSTM against reference strategies measured in the same run.

Rows (per sequence length L, batch 32, 32 inputs, 64 hidden, one layer):

* ``numpy forward``: a plain NumPy LSTM forward (no autograd) - the floor for the forward pass;
* ``hg forward (no_grad)``: hg.nn.LSTM under no_grad (one input projection per layer);
* ``hg train step``: forward + backward as hg.nn.LSTM does it (per-step input projections);
* ``sliced train step``: forward + backward with one (L, N, 4H) projection sliced per step
  (the alternative the layer avoids while recording a graph).

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_rnn.py [--lengths 50 200] [--repeat 5]``
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_of

import hybridgrad as hg
from hybridgrad.nn.rnn import _linear_t, _lstm_step
from hybridgrad.ops import api


def numpy_forward(x, w_ih, w_hh, b_ih, b_hh):
    length, batch, _ = x.shape
    hidden = w_hh.shape[1]
    h = np.zeros((batch, hidden), dtype=x.dtype)
    c = np.zeros_like(h)
    projected = x @ w_ih.T + b_ih
    out = np.empty((length, batch, hidden), dtype=x.dtype)
    for t in range(length):
        gates = projected[t] + h @ w_hh.T + b_hh
        i, f, g, o = np.split(gates, 4, axis=1)
        i, f, o = (1 / (1 + np.exp(-v)) for v in (i, f, o))
        c = f * c + i * np.tanh(g)
        h = o * np.tanh(c)
        out[t] = h
    return out


def measure(lstm, length: int, batch: int, repeat: int) -> tuple:
    features, hidden = lstm.input_size, lstm.hidden_size
    w_ih, w_hh, b_ih, b_hh = lstm._weights(0, 0)
    x = hg.randn(length, batch, features)

    def train_step():
        output, _ = lstm(x)
        output.sum().backward()

    def sliced_step():
        projected = _linear_t(x, w_ih, b_ih)
        h = c = hg.zeros(batch, hidden)
        outputs = []
        for t in range(length):
            h, c = _lstm_step(projected[t], h, c, w_hh, b_hh)
            outputs.append(h)
        api.stack(outputs, 0).sum().backward()

    def no_grad_forward():
        with hg.no_grad():
            lstm(x)

    arrays = [t._array for t in (w_ih, w_hh, b_ih, b_hh)]
    reference = best_of(lambda: numpy_forward(x._array, *arrays), repeat)
    return (reference, best_of(no_grad_forward, repeat), best_of(train_step, repeat),
            best_of(sliced_step, repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    hg.manual_seed(0)
    lstm = hg.nn.LSTM(32, 64)
    print(f"{'L':>5} {'numpy fwd':>10} {'hg fwd':>10} {'hg train':>10} {'sliced':>10} "
          f"{'fwd/numpy':>10} {'sliced/hg':>10}")
    for length in args.lengths:
        reference, forward, train, sliced = measure(lstm, length, 32, args.repeat)
        print(f"{length:>5} {reference * 1e3:>8.1f}ms {forward * 1e3:>8.1f}ms "
              f"{train * 1e3:>8.1f}ms {sliced * 1e3:>8.1f}ms {forward / reference:>10.2f} "
              f"{sliced / train:>10.2f}")


if __name__ == "__main__":
    main()
