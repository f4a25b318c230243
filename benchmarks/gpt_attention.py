"""The GPT's fused paths against the generic ones, forward + backward, interleaved (A, B, A,
B...) with the best of several rounds, at nanoGPT's laptop shapes (batch 12, 4 heads, context 64,
128 channels):

* causal attention: ``scaled_dot_product_attention(is_causal=True)`` (a boolean mask built per
  call, turned into 0/-inf, plus the fully-masked-row guard, and the composite softmax) against
  the GPT's cached additive ``(context, context)`` constant and fused ``softmax_last``;
* GELU: the composite ``x * 0.5 * (erf(x / sqrt 2) + 1)`` against the fused ``gelu``
  primitive (:mod:`hybridgrad.ops.gpt_fused`).

Run: ``python benchmarks/gpt_attention.py`` (prints a table with the ratios and the load).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

import hybridgrad as hg
from hybridgrad.nn import functional as F
from hybridgrad.ops.gpt_fused import gelu, softmax_last

BATCH, HEADS, CONTEXT, CHANNELS = 12, 4, 64, 128


def _attention_cases():
    generator = np.random.default_rng(0)
    shape = (BATCH, HEADS, CONTEXT, CHANNELS // HEADS)
    q, k, v = (hg.tensor(generator.standard_normal(shape).astype(np.float32),
                         requires_grad=True) for _ in range(3))
    mask = hg.tensor(np.triu(np.full((CONTEXT, CONTEXT), -np.inf, np.float32), 1))
    scale = 1.0 / math.sqrt(CHANNELS // HEADS)

    def materialised():
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()

    def cached_constant():
        weights = softmax_last((q * scale) @ k.transpose(-2, -1) + mask)
        (weights @ v).sum().backward()

    return materialised, cached_constant


def _gelu_cases():
    x = hg.tensor(np.random.default_rng(1).standard_normal((BATCH, CONTEXT, 4 * CHANNELS))
                  .astype(np.float32), requires_grad=True)

    def composite():
        F.gelu(x).sum().backward()

    def fused():
        gelu(x).sum().backward()

    return composite, fused


def interleaved(first, second, rounds: int = 7, calls: int = 5) -> tuple[float, float]:
    """Best per-call seconds of each, timed alternately."""
    best = [float("inf"), float("inf")]
    first(), second()
    for _ in range(rounds):
        for index, function in enumerate((first, second)):
            start = time.perf_counter()
            for _ in range(calls):
                function()
            best[index] = min(best[index], (time.perf_counter() - start) / calls)
    return best[0], best[1]


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; shapes: batch {BATCH}, heads {HEADS}, "
          f"context {CONTEXT}, channels {CHANNELS}; forward + backward, best of 7 rounds")
    print(f"{'path':44s} {'ms':>8s} {'ms (kept)':>10s} {'speed-up':>9s}")
    for label, (generic, kept) in (
            ("causal attention: is_causal mask vs cached", _attention_cases()),
            ("GELU: composite erf vs fused primitive", _gelu_cases())):
        slow, fast = interleaved(generic, kept)
        print(f"{label:44s} {slow * 1e3:8.2f} {fast * 1e3:10.2f} {slow / fast:8.2f}x")


if __name__ == "__main__":
    main()
