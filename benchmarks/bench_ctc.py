"""CTC loss speed: the fused, batch-vectorised alpha-beta primitive against a per-sample,
per-state loop (the textbook recursion), both in NumPy, measured in the same run.

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_ctc.py [--quick]``.
Prints one row per problem size with the forward+backward time of each implementation and the
speed-up, and checks that both agree.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import hybridgrad as hg
from hybridgrad.nn.ctc import ctc_loss


def loop_ctc(log_probs, targets, input_lengths, target_lengths, blank=0):
    """Per-sample NLL and gradient w.r.t. log_probs with explicit loops over t and s."""
    steps, batch, classes = log_probs.shape
    losses = np.zeros(batch)
    grads = np.zeros_like(log_probs)
    for n in range(batch):
        label = [blank]
        for c in targets[n, :target_lengths[n]]:
            label += [int(c), blank]
        length, frames = len(label), input_lengths[n]
        alpha = np.full((frames, length), -np.inf)
        beta = np.full((frames, length), -np.inf)
        alpha[0, 0] = log_probs[0, n, label[0]]
        if length > 1:
            alpha[0, 1] = log_probs[0, n, label[1]]
        for t in range(1, frames):
            for s in range(length):
                terms = [alpha[t - 1, s]]
                if s >= 1:
                    terms.append(alpha[t - 1, s - 1])
                if s >= 2 and label[s] != blank and label[s] != label[s - 2]:
                    terms.append(alpha[t - 1, s - 2])
                alpha[t, s] = np.logaddexp.reduce(terms) + log_probs[t, n, label[s]]
        beta[frames - 1, length - 1] = 0.0
        if length > 1:
            beta[frames - 1, length - 2] = 0.0
        for t in range(frames - 2, -1, -1):
            for s in range(length):
                terms = [beta[t + 1, s] + log_probs[t + 1, n, label[s]]]
                if s + 1 < length:
                    terms.append(beta[t + 1, s + 1] + log_probs[t + 1, n, label[s + 1]])
                if s + 2 < length and label[s + 2] != blank and label[s + 2] != label[s]:
                    terms.append(beta[t + 1, s + 2] + log_probs[t + 1, n, label[s + 2]])
                beta[t, s] = np.logaddexp.reduce(terms)
        log_likelihood = np.logaddexp.reduce(alpha[frames - 1, max(length - 2, 0):])
        losses[n] = -log_likelihood
        occupancy = np.exp(alpha + beta - log_likelihood)
        for s in range(length):
            grads[:frames, n, label[s]] -= occupancy[:, s]
    return losses, grads


def hybridgrad_ctc(log_probs, targets, input_lengths, target_lengths):
    tensor = hg.tensor(log_probs, requires_grad=True)
    loss = ctc_loss(tensor, hg.tensor(targets), input_lengths, target_lengths, reduction="sum")
    loss.backward()
    return loss.item(), tensor.grad._array


def best_time(function, arguments, repeats):
    function(*arguments)   # warm-up (first-call allocations, imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*arguments)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    args = parser.parse_args()
    sizes = [(20, 4, 10, 4), (50, 16, 20, 10)] if args.quick else [
        (20, 4, 10, 4), (50, 16, 20, 10), (100, 32, 30, 20)]
    repeats = 1 if args.quick else 3
    rng = np.random.default_rng(0)
    print(f"{'T':>4} {'N':>4} {'C':>4} {'S':>4} {'fused ms':>10} {'loop ms':>10} {'speed-up':>9}")
    for steps, batch, classes, max_target in sizes:
        logits = rng.standard_normal((steps, batch, classes))
        log_probs = logits - np.logaddexp.reduce(logits, axis=2, keepdims=True)
        target_lengths = rng.integers(1, max_target + 1, batch)
        targets = rng.integers(1, classes, (batch, max_target))
        input_lengths = rng.integers(steps // 2 + max_target, steps + 1, batch)
        arguments = (log_probs, targets, input_lengths, target_lengths)
        fused_time, (loss, grad) = best_time(hybridgrad_ctc, arguments, repeats)
        loop_time, (losses, loop_grad) = best_time(loop_ctc, arguments, repeats)
        assert np.isclose(loss, losses.sum(), rtol=1e-9), (loss, losses.sum())
        assert np.allclose(grad, loop_grad, atol=1e-9)
        print(f"{steps:>4} {batch:>4} {classes:>4} {max_target:>4} {fused_time * 1e3:>10.2f} "
              f"{loop_time * 1e3:>10.1f} {loop_time / fused_time:>8.1f}x")


if __name__ == "__main__":
    main()
