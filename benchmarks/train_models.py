"""Eager against compiled training steps of the zoo models (issue 19 item 2): which compile with
``hybridgrad.jit.train_step``, and the step time and memory of each way.

Every model gets its registry defaults (full size), a fixed random batch of its task's shape and
its task's loss and optimizer (Adam; the classifiers' cross-entropy, the VAE's negative ELBO, the
captcha readers' CTC or one-hot loss). Eager and compiled steps are interleaved and the median
process CPU time of ``--repeats`` steps is printed, with the compiled/eager ratio, and the peak
memory (``tracemalloc``, which sees NumPy's arrays) from building the model and its optimizer
(and compiling) through two steps: weights, optimizer state, a compiled graph's planned buffers
and each step's temporaries. A model that does not compile prints the reason. The CGAN (two
alternating updates) and the CVAE (the label is a second input of the model) do not fit
``train_step(model, loss_fn, optimizer)``'s one model input and one loss, and are listed so.

Run: ``python benchmarks/train_models.py [--threads 1] [--repeats 5] [--models mlp cnn ...]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import hybridgrad as hg  # noqa: E402
from hybridgrad.models import REGISTRY  # noqa: E402
from hybridgrad.models.vae import negative_elbo  # noqa: E402
from hybridgrad.nn import losses  # noqa: E402

NOT_ONE_LOSS = {"cgan": "two alternating updates (discriminator, generator)",
                "cvae": "the label is a second input of the model"}


def _case(name: str, rng):
    """(build_model, loss_fn(output, target), inputs, targets) for one zoo model."""
    spec = REGISTRY[name]
    config = spec.resolved_config()
    batch = int(config["batch_size"])

    def build():
        hg.manual_seed(0)
        return spec.builder(**config["model"])

    if spec.task == "classifier":
        images = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        return build, losses.cross_entropy, hg.tensor(images), hg.tensor(rng.integers(0, 10,
                                                                                      batch))
    if spec.task == "vae":
        images = rng.random((batch, 1, 28, 28)).astype(np.float32)

        def elbo(outputs, targets):
            logits, mu, log_var = outputs
            return negative_elbo(logits, targets, mu, log_var)

        return build, elbo, hg.tensor(images), hg.tensor(images)
    # captcha: a CRNN with CTC (the targets are read as a constant: ctc_loss needs concrete
    # labels) or the one-hot CNN.
    from hybridgrad.training import captcha

    settings = captcha.resolve_config({"model": config["model"]["model"]})
    codec = captcha.make_codec(settings)
    height, width = captcha.input_size(settings)
    images = hg.tensor(rng.uniform(-1, 1, (batch, 1, height, width)).astype(np.float32))
    texts = ["".join(rng.choice(list(codec.charset), 4)) for _ in range(batch)]

    def captcha_loss(output, targets):
        loss = captcha.loss_of(lambda _: output, None, texts, codec, settings)
        return loss + targets[0] * 0.0  # a compiled step needs every input in its graph

    return (lambda: (hg.manual_seed(0), captcha.build_model(settings))[1], captcha_loss, images,
            hg.tensor(np.zeros(batch, np.float32)))


def _peak_mb(build, loss_fn, inputs, targets, compiled: bool) -> float:
    """Peak megabytes traced from building the model (and compiling) through two steps."""
    tracemalloc.start()
    try:
        model = build()
        optimizer = hg.optim.Adam(model.parameters(), lr=1e-3)
        if compiled:
            step = hg.jit.train_step(model, loss_fn, optimizer)
            for _ in range(2):
                step(inputs, targets)
        else:
            for _ in range(2):
                optimizer.zero_grad()
                loss_fn(model(inputs), targets).backward()
                optimizer.step()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=sorted(REGISTRY))
    args = parser.parse_args(argv)
    hg.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f}; {args.threads} thread(s); median process CPU ms of "
          f"{args.repeats} interleaved steps")
    print(f"{'model':8} {'eager':>9} {'compiled':>9} {'compiled/eager':>15} "
          f"{'peak MB eager':>14} {'compiled':>9}")
    for name in args.models:
        if name in NOT_ONE_LOSS:
            print(f"{name:8} {'-':>9} {'-':>9} {'-':>15}   (not a train_step: "
                  f"{NOT_ONE_LOSS[name]})")
            continue
        build, loss_fn, inputs, targets = _case(name, np.random.default_rng(0))
        model = build()
        optimizer = hg.optim.Adam(model.parameters(), lr=1e-3)

        def eager(model=model, optimizer=optimizer, loss_fn=loss_fn, inputs=inputs,
                  targets=targets):
            model.train()
            optimizer.zero_grad()
            loss_fn(model(inputs), targets).backward()
            optimizer.step()

        steps = {"eager": eager}
        other = build()
        try:
            compiled = hg.jit.train_step(other, loss_fn, hg.optim.Adam(other.parameters(),
                                                                       lr=1e-3))
            compiled(inputs, targets)
            steps["compiled"] = (lambda compiled=compiled, inputs=inputs, targets=targets:
                                 compiled(inputs, targets))
            reason = ""
        except Exception as error:  # noqa: BLE001 - reported in the table
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:70]}"
        times = {key: [] for key in steps}
        for function in steps.values():
            function()
        for _ in range(args.repeats):
            for key, function in steps.items():
                start = time.process_time()
                function()
                times[key].append(time.process_time() - start)
        ms = {key: statistics.median(values) * 1000 for key, values in times.items()}
        peak = {key: _peak_mb(build, loss_fn, inputs, targets, key == "compiled")
                for key in steps}
        if reason:
            print(f"{name:8} {ms['eager']:9.1f} {'-':>9} {'-':>15} {peak['eager']:14.1f} "
                  f"{'-':>9}   (does not compile: {reason})", flush=True)
        else:
            print(f"{name:8} {ms['eager']:9.1f} {ms['compiled']:9.1f} "
                  f"{ms['compiled'] / ms['eager']:15.2f} {peak['eager']:14.1f} "
                  f"{peak['compiled']:9.1f}", flush=True)


if __name__ == "__main__":
    main()
