"""One rank of the distributed tests, started by ``mpirun -n 2 python _worker.py MODE OUT``.

Modes:
- ``train``: a small CNN trained for a few steps with DistributedSampler + DistributedOptimizer
  (momentum SGD); each rank writes its final weights to ``OUT/rank{r}.safetensors`` and a JSON
  report (allreduce calls, object exchange results, sampler defaults) to ``OUT/rank{r}.json``.
  The parent test replays the same run in one process with twice the batch size.
- ``ddp``: the same with DistributedDataParallel + plain SGD, several small buckets.
- ``fail``: rank 1 raises; rank 0 waits in a barrier that rank 1 never reaches.
- ``mismatch``: rank 1 builds a differently shaped model.
- ``early``: rank 1 returns normally while rank 0 waits in a barrier (a 2-second timeout).
- ``resume``: ``hybridgrad train``'s Trainer, distributed: a run interrupted after 3 steps and
  resumed from its checkpoint, and an uninterrupted run (``OUT/straight``, ``OUT/resumed``).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

import hybridgrad as hg
from hybridgrad import distributed as dist

SAMPLES, BATCH, EPOCHS, SEED = 48, 4, 2, 3


def make_model(width: int = 4) -> hg.nn.Module:
    return hg.nn.Sequential(
        hg.nn.Conv2d(1, width, 3, padding=1), hg.nn.ReLU(), hg.nn.MaxPool2d(2),
        hg.nn.Flatten(), hg.nn.Linear(width * 4 * 4, 3))


def make_data() -> hg.data.TensorDataset:
    rng = np.random.default_rng(11)
    images = rng.standard_normal((SAMPLES, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 3, SAMPLES)
    return hg.data.TensorDataset(hg.tensor(images), hg.tensor(labels))


def train(model, step_fn, batch_size: int, num_replicas: int, rank: int) -> None:
    """The training loop shared by the ranks and by the single-process reference."""
    data = make_data()
    sampler = dist.DistributedSampler(data, num_replicas=num_replicas, rank=rank, seed=SEED)
    loader = hg.data.DataLoader(data, batch_size=batch_size, sampler=sampler)
    for _ in range(EPOCHS):
        for images, labels in loader:
            loss = hg.nn.functional.cross_entropy(model(images), labels)
            step_fn(loss)


def run_train(out: str, use_ddp: bool) -> None:
    comm = dist.init()
    hg.manual_seed(comm.rank)  # different initial weights per rank: the broadcast must fix them
    model = make_model()
    report = {}
    saved = model
    if use_ddp:
        wrapped = dist.DistributedDataParallel(model, bucket_cap_mb=0.0002)
        optimizer = hg.optim.SGD(model.parameters(), lr=0.1)
        averager, saved = wrapped.averager, wrapped

        def step(loss):
            optimizer.zero_grad()
            loss.backward()
            wrapped.allreduce_gradients()
            optimizer.step()
        train(wrapped, step, BATCH, None, None)
    else:
        dist.broadcast_parameters(model)
        optimizer = dist.DistributedOptimizer(
            hg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        averager = optimizer.averager

        def step(loss):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train(model, step, BATCH, None, None)
    report["buckets"] = len(averager.buckets)
    report["calls"] = averager.calls
    report["steps"] = EPOCHS * SAMPLES // (BATCH * comm.size)
    report["objects"] = comm.allgather_object({"rank": comm.rank})
    report["broadcast"] = comm.broadcast_object("from rank 0" if comm.rank == 0 else None)
    total = dist.all_reduce(hg.tensor([float(comm.rank + 1)]))
    report["sum"] = total.item()
    report["rank"], report["size"] = dist.get_rank(), dist.get_world_size()
    sampler = dist.DistributedSampler(range(10))
    report["sampler"] = [sampler.rank, sampler.num_replicas, list(sampler)]
    hg.save(saved.state_dict(), os.path.join(out, f"rank{comm.rank}.safetensors"))
    with open(os.path.join(out, f"rank{comm.rank}.json"), "w") as file:
        json.dump(report, file)
    dist.save_on_main({"step": hg.tensor(report["steps"])}, os.path.join(out, "main.safetensors"))


def run_resume(out: str) -> None:
    from hybridgrad.models import get_spec
    from hybridgrad.training import Trainer

    spec = get_spec("mlp")
    config = spec.resolved_config(quick=True, overrides={
        "train_subset": 256, "test_subset": 64, "epochs": 2, "model": {"dropout": 0.0}})
    config["seed"] = 5
    Trainer(spec, config, os.path.join(out, "straight"), progress=False,
            distributed=True).run()

    def interrupt(trainer):
        if trainer.global_step == 3:
            trainer.stop_requested = True

    resumed = os.path.join(out, "resumed")
    try:
        Trainer(spec, config, resumed, progress=False, step_callback=interrupt,
                distributed=True).run()
        raise AssertionError("the run was not interrupted")
    except KeyboardInterrupt:
        pass
    checkpoint = os.path.join(resumed, "checkpoint.safetensors")
    Trainer(spec, config, resumed, progress=False, distributed=True).run(resume=checkpoint)


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    if mode in ("train", "ddp"):
        run_train(out, use_ddp=mode == "ddp")
    elif mode == "fail":
        comm = dist.init()
        if comm.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        comm.barrier()  # never completes: only the abort can end this rank
    elif mode == "early":
        comm = dist.init(timeout=2.0)
        if comm.rank == 0:
            comm.barrier()  # rank 1 never comes: only the watchdog can end this
    elif mode == "resume":
        run_resume(out)
    elif mode == "mismatch":
        comm = dist.init()
        dist.broadcast_parameters(make_model(width=4 + comm.rank))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
