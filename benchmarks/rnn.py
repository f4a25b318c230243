"""Recurrent training steps (Adam), hybridgrad eager and compiled, against PyTorch in the same run.

Cases (issue 19):

* ``lstm``: LSTM(32 -> 128) over 28 steps + linear to 10 classes on the last step, batch 64;
* ``gru``: the same with a GRU;
* ``crnn``: the captcha CRNN (conv blocks 16-32-64-96 with batch norm, 2-layer bidirectional
  LSTM 96, CTC over 20 steps, 37 classes), batch 64, 32 x 80 images.

Each step is timed in wall-clock milliseconds (``--clock cpu``: process CPU time); hybridgrad
eager, hybridgrad compiled (``hybridgrad.jit.train_step``) and PyTorch are interleaved step by
step (A, B, C, A, B, C...) and the median of ``--repeats`` rounds is printed with the ratio
hybridgrad / PyTorch. PyTorch is not a dependency of hybridgrad: without it the script says so
and prints hybridgrad's times.
Thread counts are set with ``hg.set_num_threads`` and ``torch.set_num_threads``.

Run: ``python benchmarks/rnn.py [--threads 1 2] [--cases lstm gru crnn] [--repeats 15]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import hybridgrad as hg  # noqa: E402
from hybridgrad.models.captcha import CRNN  # noqa: E402
from hybridgrad.nn import functional as NF  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - PyTorch is optional
    torch = None

BATCH = 64
CRNN_CHANNELS = (16, 32, 64, 96)


# ----------------------------------------------------------------------------------------------
# hybridgrad models.


class SequenceClassifier(hg.nn.Module):
    """A recurrent layer over (N, L, F) and a linear layer on the last step's output."""

    def __init__(self, kind: str, features: int = 32, hidden: int = 128, classes: int = 10):
        super().__init__()
        self.rnn = getattr(hg.nn, kind)(features, hidden, batch_first=True)
        self.head = hg.nn.Linear(hidden, classes)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


def _ctc_targets(rng, steps: int):
    lengths = np.full(BATCH, 4, dtype=np.int64)
    targets = rng.integers(1, 37, (BATCH, 4)).astype(np.int64)
    return targets, lengths, np.full(BATCH, steps, dtype=np.int64)


def hybridgrad_case(case: str, rng):
    """(model, loss_fn, inputs, targets) for a case."""
    hg.manual_seed(0)
    if case in ("lstm", "gru"):
        model = SequenceClassifier(case.upper())
        inputs = hg.tensor(rng.standard_normal((BATCH, 28, 32)).astype(np.float32))
        targets = hg.tensor(rng.integers(0, 10, BATCH))
        return model, NF.cross_entropy, inputs, targets
    model = CRNN(37, height=32, width=80, channels=CRNN_CHANNELS, hidden=96, dropout=0.2)
    inputs = hg.tensor(rng.standard_normal((BATCH, 1, 32, 80)).astype(np.float32))
    targets, lengths, input_lengths = _ctc_targets(rng, model.steps)

    def loss_fn(log_probs, _targets):
        # The targets are read as a constant: ctc_loss needs concrete labels, and a compiled
        # step traces its second argument as a symbol (the batch is the same at every step).
        loss = NF.ctc_loss(log_probs, targets, input_lengths, lengths, blank=0,
                           zero_infinity=True)
        return loss + (_targets[0, 0] * 0.0)  # a compiled step needs every input in its graph

    return model, loss_fn, inputs, hg.tensor(targets)


def hybridgrad_steps(case: str, rng) -> dict:
    """{'eager': step(), 'compiled': step() or an error message}."""
    steps = {}
    model, loss_fn, inputs, targets = hybridgrad_case(case, rng)
    optimizer = hg.optim.Adam(model.parameters(), lr=1e-3)

    def eager():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()

    steps["eager"] = eager
    model2, loss_fn2, inputs2, targets2 = hybridgrad_case(case, rng)
    optimizer2 = hg.optim.Adam(model2.parameters(), lr=1e-3)
    try:
        compiled = hg.jit.train_step(model2, loss_fn2, optimizer2)
        compiled(inputs2, targets2)
        steps["compiled"] = lambda: compiled(inputs2, targets2)
    except Exception as error:  # noqa: BLE001 - reported in the table
        steps["compiled"] = f"{type(error).__name__}: {str(error).splitlines()[0][:60]}"
    return steps


# ----------------------------------------------------------------------------------------------
# PyTorch models (same shapes).


def torch_step(case: str, rng):
    torch.manual_seed(0)
    nn = torch.nn
    if case in ("lstm", "gru"):
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = getattr(nn, case.upper())(32, 128, batch_first=True)
                self.head = nn.Linear(128, 10)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])

        model = Classifier()
        inputs = torch.tensor(rng.standard_normal((BATCH, 28, 32)).astype(np.float32))
        targets = torch.tensor(rng.integers(0, 10, BATCH))
        loss_fn = nn.functional.cross_entropy
    else:
        class TorchCRNN(nn.Module):
            def __init__(self):
                super().__init__()
                layers, previous = [], 1
                for block, count in enumerate(CRNN_CHANNELS):
                    pool = (2, 2) if block < 2 else (2, 1)
                    layers += [nn.Conv2d(previous, count, 3, padding=1, bias=False),
                               nn.BatchNorm2d(count), nn.ReLU(), nn.MaxPool2d(pool, pool)]
                    previous = count
                self.features = nn.Sequential(*layers)
                self.rnn = nn.LSTM(previous * 2, 96, num_layers=2, bidirectional=True,
                                   dropout=0.2)
                self.dropout = nn.Dropout(0.2)
                self.classifier = nn.Linear(192, 37)

            def forward(self, images):
                maps = self.features(images)
                n, c, h, t = maps.shape
                sequence = maps.permute(3, 0, 1, 2).reshape(t, n, c * h)
                output, _ = self.rnn(sequence)
                return self.classifier(self.dropout(output)).log_softmax(2)

        model = TorchCRNN()
        inputs = torch.tensor(rng.standard_normal((BATCH, 1, 32, 80)).astype(np.float32))
        padded, lengths, input_lengths = _ctc_targets(rng, 20)
        targets = torch.tensor(padded)

        def loss_fn(log_probs, padded_targets):
            return nn.functional.ctc_loss(log_probs, padded_targets, torch.tensor(input_lengths),
                                          torch.tensor(lengths), zero_infinity=True)

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()

    return step


# ----------------------------------------------------------------------------------------------


def interleaved_ms(functions: dict, repeats: int, clock=time.perf_counter) -> dict:
    """Median milliseconds of each callable, timed in interleaved rounds after a warm-up."""
    for function in functions.values():
        function()
        function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = clock()
            function()
            times[name].append(clock() - start)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cases", nargs="+", default=["lstm", "gru", "crnn"],
                        choices=["lstm", "gru", "crnn"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-torch", action="store_true", help="time hybridgrad alone")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall-clock time, or the process's CPU time (all threads: steadier "
                             "on a shared machine, but at 2 threads it sums both)")
    args = parser.parse_args(argv)
    use_torch = torch is not None and not args.no_torch
    if torch is None:
        print("PyTorch is not installed (it is not a dependency of hybridgrad): printing "
              "hybridgrad's times alone.")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"load average {load:.2f}; median of {args.repeats} interleaved steps, {args.clock} "
          "ms")
    header = f"{'case':6} {'threads':>7} {'eager':>9} {'compiled':>9}"
    if use_torch:
        header += f" {'torch':>9} {'eager/torch':>12} {'compiled/torch':>15}"
    print(header)
    for threads in args.threads:
        hg.set_num_threads(threads)
        if use_torch:
            torch.set_num_threads(threads)
        for case in args.cases:
            rng = np.random.default_rng(0)
            functions = hybridgrad_steps(case, rng)
            compiled_error = None
            if isinstance(functions["compiled"], str):
                compiled_error = functions.pop("compiled")
            if use_torch:
                functions["torch"] = torch_step(case, np.random.default_rng(0))
            ms = interleaved_ms(functions, args.repeats, clock)
            compiled = "-" if compiled_error else f"{ms['compiled']:9.2f}"
            line = f"{case:6} {threads:>7} {ms['eager']:9.2f} {compiled:>9}"
            if use_torch:
                ratio = "-" if compiled_error else f"{ms['compiled'] / ms['torch']:.2f}"
                line += f" {ms['torch']:9.2f} {ms['eager'] / ms['torch']:12.2f} {ratio:>15}"
            print(line + (f"   (compiled: {compiled_error})" if compiled_error else ""),
                  flush=True)


if __name__ == "__main__":
    main()
