"""Tokens per second of GPT sampling with and without the key/value cache, at context 64 (the
tiny preset's model) and 256 (the small preset's), interleaved (cached, uncached, cached...)
with the best of several rounds. Untrained weights: the speed does not depend on them.

Run: ``python benchmarks/gpt_sampling.py [--tokens N]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import hybridgrad as hg
from hybridgrad.models.gpt import GPT

CONFIGS = {64: {"n_layer": 4, "n_head": 4, "n_embd": 128},
           256: {"n_layer": 6, "n_head": 6, "n_embd": 384}}


def tokens_per_second(model, tokens: int, use_cache: bool) -> float:
    start = time.perf_counter()
    model.generate([[0]], tokens, 0.8, 50, np.random.default_rng(0), use_cache=use_cache)
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=None,
                        help="tokens per measurement (default: the context length)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; batch 1, temperature 0.8, top-k 50, "
          f"best of {args.rounds} interleaved rounds")
    print(f"{'context':>8s} {'model':>14s} {'tokens':>7s} {'cached tok/s':>13s} "
          f"{'uncached tok/s':>15s} {'speed-up':>9s}")
    for context, config in CONFIGS.items():
        hg.manual_seed(0)
        model = GPT(vocab_size=65, block_size=context, **config)
        tokens = args.tokens or context - 1  # within the context: the two give the same text
        best = {True: 0.0, False: 0.0}
        for _ in range(args.rounds):
            for use_cache in (True, False):
                best[use_cache] = max(best[use_cache],
                                      tokens_per_second(model, tokens, use_cache))
        shape = f"{config['n_layer']}x{config['n_embd']}"
        print(f"{context:8d} {shape:>14s} {tokens:7d} {best[True]:13.1f} {best[False]:15.1f} "
              f"{best[True] / best[False]:8.2f}x")


if __name__ == "__main__":
    main()
