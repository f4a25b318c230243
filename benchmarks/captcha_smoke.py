"""Short captcha trainings in parallel processes: does each loss fall and accuracy rise?

Runs one training per ``MODEL:LENGTH`` (default the four of docs/results.md) in its own process
with ``--threads`` BLAS threads each, stops each after ``--minutes`` of training, evaluates on
``--test-size`` held-out captchas and prints a table. Not the quality bars (those are in
docs/results.md, section "Captcha"): a check that learning starts, sized to the time given.

    OPENBLAS_NUM_THREADS=1 python benchmarks/captcha_smoke.py --minutes 5 --out runs/smoke
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# The checkout's hybridgrad, not an installed one (the script lives in benchmarks/).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _child(args) -> None:
    from hybridgrad.training.captcha import train

    model, length = args.child.split(":")
    config = {"model": model, "length": length, "train_size": args.train_size,
              "val_size": args.val_size, "test_size": args.test_size, "epochs": args.epochs,
              "batch_size": args.batch_size, "max_minutes": args.minutes,
              "cache_dir": args.cache_dir or os.path.join(args.out, "cache")}
    out = os.path.join(args.out, f"{model}-{length}")
    train(config, out, log=lambda line: print(line, flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", default=["crnn:4-6", "onehot:4-6", "crnn:4",
                                                    "onehot:4"])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=12800)
    parser.add_argument("--val-size", type=int, default=200)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default="runs/captcha-smoke")
    parser.add_argument("--cache-dir", default=None, help="captcha cache (default OUT/cache)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    os.makedirs(args.out, exist_ok=True)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(args.threads),
           "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    started = time.time()
    children = []
    for run in args.runs:
        log = open(os.path.join(args.out, run.replace(":", "-") + ".log"), "w")
        command = [sys.executable, __file__, "--child", run] + [
            f"--{key.replace('_', '-')}={value}" for key, value in vars(args).items()
            if key not in ("runs", "child", "threads") and value is not None]
        children.append((run, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                               env=env), log))
    for _, process, log in children:
        process.wait()
        log.close()
    print(f"| run | steps (planned) | train s | final train loss | test accuracy | "
          f"characters | by length |  ({time.time() - started:.0f} s in all)")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for run, process, _ in children:
        model, length = run.split(":")
        path = os.path.join(args.out, f"{model}-{length}")
        try:
            with open(os.path.join(path, "result.json")) as handle:
                result = json.load(handle)
            with open(os.path.join(path, "metrics.jsonl")) as handle:
                last = [json.loads(line) for line in handle][-1]
        except (OSError, ValueError, IndexError):
            print(f"| {run} | failed (exit {process.returncode}), see {path}.log | | | | | |")
            continue
        print(f"| {run} | {result['steps']} ({result['planned_steps']}) | "
              f"{result['train_seconds']} | {last['train_loss']:.3f} | "
              f"{result['test_accuracy']:.3f} | {result['test_char_accuracy']:.3f} | "
              f"{result['accuracy_by_length']} |")


if __name__ == "__main__":
    main()
