"""Eager vs compiled (symbolic) execution: wall time and peak memory.

Cases: (a) a 20-op elementwise chain on 1M float32 values, (b) MLP inference at batch 1 and 256,
(c) MLP training steps (forward + backward + SGD-momentum update) at batch 256, and a CNN once
``hg.nn.Conv2d`` exists; (d) the stretch goal: a 64-layer MLP's compiled training step with
``remat='sqrt'`` against the compiled step without it (goals: time <= 1.4x, memory <= 0.25x).

Peak memory is measured with tracemalloc (NumPy reports its allocations to it): for eager code it
is the peak during one call; for compiled code it is the peak during one call *plus* the planned
buffers the compiled function holds between calls, so the comparison is fair. Times are the
best of several interleaved calls after a warm-up (the machine may be shared: memory figures
are exact, times are noisy; ``OPENBLAS_NUM_THREADS=1`` steadies them).

Run: ``python benchmarks/symbolic.py`` from the repository root (``--quick`` for fewer
repetitions).
Goals: compiled/eager peak memory <= 0.5 for training and <= 0.25 for inference; compiled time
<= eager everywhere and <= 0.5x for the elementwise chain.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

import numpy as np

# Measure the checkout this script is in (not whichever hybridgrad is installed): a script's own
# directory, not the current one, heads sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import hybridgrad as hg  # noqa: E402


def timed_pair(first, second, repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` times of two functions, calls interleaved so that load from other
    processes on a shared machine hits both alike (the minimum is the least disturbed run)."""
    first()
    second()
    samples: tuple[list, list] = ([], [])
    for _ in range(repeat):
        for function, bucket in ((first, samples[0]), (second, samples[1])):
            start = time.perf_counter()
            function()
            bucket.append(time.perf_counter() - start)
    return min(samples[0]), min(samples[1])


def peak_bytes(function) -> int:
    """Peak traced bytes of one steady-state call: the smaller of two measured calls after a
    warm-up, because a one-off allocation that the interpreter or NumPy keeps afterwards (seen
    once: 1.9 MB, retained, in the middle of a run of calls) is not the function's memory."""
    function()  # warm-up: lazy state (optimizer buffers, compiled plans) exists before measuring
    peaks = []
    for _ in range(2):
        tracemalloc.start()
        tracemalloc.reset_peak()
        function()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return min(peaks)


def held_bytes(compiled) -> int:
    """Bytes of planned buffers a compiled function keeps between calls."""
    plan = compiled.plan
    return 0 if plan is None else plan.planned_bytes


ROWS = []


def record(case, eager_fn, compiled_fn, compiled_obj, repeat, time_goal, memory_goal):
    eager_time, compiled_time = timed_pair(eager_fn, compiled_fn, repeat)
    eager_peak = peak_bytes(eager_fn)
    compiled_peak = peak_bytes(compiled_fn) + held_bytes(compiled_obj)
    ROWS.append((case, eager_time, compiled_time, eager_peak, compiled_peak, time_goal,
                 memory_goal))


# ----------------------------------------------------------------------------------------------


def chain(x):
    for i in range(5):
        x = x * 1.0001
        x = x + 0.5
        x = hg.tanh(x)
        x = x - 0.25 * (i + 1)
    return x


def bench_chain(repeat):
    data = hg.tensor(np.random.default_rng(0).standard_normal(1_000_000).astype(np.float32))
    traced = hg.jit.trace(chain, data)
    np.testing.assert_allclose(traced(data)._array, chain(data)._array, rtol=1e-5, atol=1e-6)
    with hg.no_grad():
        # Calls of a few ms: more samples, so that the best of them escapes other processes'
        # time slices on a shared machine as often as the longer cases' do.
        record("(a) 20-op chain, 1M float32", lambda: chain(data), lambda: traced(data),
               traced.compiled, repeat * 3, 0.5, None)


class Relu(hg.nn.Module):
    def forward(self, x):
        return hg.relu(x)


def mlp():
    hg.manual_seed(0)
    return hg.nn.Sequential(hg.nn.Linear(784, 512), Relu(), hg.nn.Linear(512, 512), Relu(),
                            hg.nn.Linear(512, 10))


def bench_inference(repeat):
    model = mlp().eval()
    for batch, split in ((1, True), (256, True), (256, False)):
        x = hg.randn(batch, 784)
        traced = hg.jit.trace(model, x, split_batch=split)
        suffix = "" if split else ", no split"
        with hg.no_grad():
            np.testing.assert_allclose(traced(x)._array, model(x)._array, rtol=1e-4, atol=1e-5)
            record(f"(b) MLP inference, batch {batch}{suffix}", lambda x=x: model(x),
                   lambda x=x, traced=traced: traced(x), traced.compiled,
                   repeat if batch > 1 else repeat * 5, 1.0, 0.25)


def make_optimizer(params):
    return hg.optim.SGD(params, lr=0.01, momentum=0.9)


def cross_entropy(logits, targets):
    return -hg.gather(hg.log_softmax(logits, dim=1), 1, targets.reshape(-1, 1)).mean()


def bench_training(repeat, model_fn, name, shape):
    rng = np.random.default_rng(0)
    x = hg.tensor(rng.standard_normal(shape).astype(np.float32))
    t = hg.tensor(rng.integers(0, 10, shape[0]))
    eager_model, compiled_model = model_fn(), model_fn()
    eager_opt = make_optimizer(eager_model.parameters())
    compiled_opt = make_optimizer(compiled_model.parameters())

    def eager_step():
        eager_opt.zero_grad()
        loss = cross_entropy(eager_model(x), t)
        loss.backward()
        eager_opt.step()
        return loss

    step = hg.jit.train_step(compiled_model, cross_entropy, compiled_opt)
    first_eager, first_compiled = eager_step().item(), step(x, t).item()
    assert abs(first_eager - first_compiled) < 1e-4, (first_eager, first_compiled)
    # The first call ran a one-off graph (SGD's first step copies the gradient into the new
    # momentum buffer); measure the steady-state graph that every later call runs.
    step(x, t)
    record(f"(c) {name} training step, batch {shape[0]}", eager_step, lambda: step(x, t),
           step.compiled, repeat, 1.0, 0.5)


def bench_cnn(repeat):
    if not hasattr(hg.nn, "Conv2d"):
        print("(c) CNN training step: skipped (hg.nn.Conv2d is not on this branch yet)")
        return

    def cnn():
        hg.manual_seed(0)
        return hg.nn.Sequential(hg.nn.Conv2d(1, 8, 3, padding=1), Relu(), hg.nn.Flatten(),
                                hg.nn.Linear(8 * 28 * 28, 10))

    bench_training(repeat, cnn, "CNN", (256, 1, 28, 28))


class Tanh(hg.nn.Module):
    def forward(self, x):
        return hg.tanh(x)


def bench_remat(repeat, layers=64, width=256, batch=256):
    """(d) Rematerialisation (stretch goal): a deep tanh MLP's compiled training step with
    ``remat='sqrt'`` against the same compiled step without it ("eager" column)."""

    def deep():
        hg.manual_seed(0)
        modules = []
        for _ in range(layers):
            modules += [hg.nn.Linear(width, width), Tanh()]
        return hg.nn.Sequential(*modules, hg.nn.Linear(width, 10))

    def mse(y, t):
        return ((y - t) ** 2).mean()

    rng = np.random.default_rng(0)
    x = hg.tensor(rng.standard_normal((batch, width)).astype(np.float32))
    t = hg.tensor(rng.standard_normal((batch, 10)).astype(np.float32))
    plain_model, remat_model = deep(), deep()
    plain = hg.jit.train_step(plain_model, mse, make_optimizer(plain_model.parameters()))
    remat = hg.jit.train_step(remat_model, mse, make_optimizer(remat_model.parameters()),
                              remat="sqrt")
    assert abs(plain(x, t).item() - remat(x, t).item()) < 1e-6
    eager_time, compiled_time = timed_pair(lambda: plain(x, t), lambda: remat(x, t), repeat)
    plain_peak = peak_bytes(lambda: plain(x, t)) + held_bytes(plain.compiled)
    remat_peak = peak_bytes(lambda: remat(x, t)) + held_bytes(remat.compiled)
    ROWS.append((f"(d) {layers}-layer MLP train, remat vs not", eager_time, compiled_time,
                 plain_peak, remat_peak, 1.4, 0.25))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-remat", action="store_true",
                        help="skip (d), the 64-layer rematerialisation case (slowest)")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 10
    bench_chain(repeat)
    bench_inference(repeat)
    bench_training(repeat, mlp, "MLP", (256, 784))
    bench_cnn(repeat)
    if not args.no_remat:
        bench_remat(3)
    header = (f"{'case':36} {'eager ms':>9} {'compiled ms':>11} {'time x':>7} {'goal':>5}  "
              f"{'eager MiB':>9} {'compiled MiB':>12} {'mem x':>6} {'goal':>5}")
    print(f"load average: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(header)
    print("-" * len(header))
    for case, et, ct, em, cm, tgoal, mgoal in ROWS:
        mem_ratio = cm / em if em else float("nan")
        print(f"{case:36} {et * 1e3:9.3f} {ct * 1e3:11.3f} {ct / et:7.2f} "
              f"{'<=' + format(tgoal, '.2g'):>5}  {em / 2**20:9.2f} {cm / 2**20:12.2f} "
              f"{mem_ratio:6.2f} {'' if mgoal is None else '<=' + format(mgoal, '.2g'):>5}")


if __name__ == "__main__":
    main()
