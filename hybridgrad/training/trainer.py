"""The training loop behind ``hybridgrad train``: epochs of batches with a progress bar,
``metrics.jsonl``, curves and sample pictures, atomic checkpoints every epoch and on Ctrl-C, and
``resume`` that continues exactly as if the run had never stopped.

What makes a resumed run identical to an uninterrupted one: the checkpoint holds the model and
optimizer/scheduler states, the epoch and the batch within it, the loader's state (its shuffle
seed and position, so the same order continues after the batches already done),
``hg.default_generator()``'s state (dropout masks, GAN noise, VAE samples) and the running sums
behind the logged averages. Evaluation and pictures draw from forked random streams, so they
never shift the training's numbers. A Ctrl-C only sets a flag; the loop stops after the current
step, never in the middle of an optimizer update.

Example (needs MNIST):
    >>> from hybridgrad.models import get_spec
    >>> trainer = Trainer(get_spec("mlp"), get_spec("mlp").resolved_config(quick=True),
    ...                   out_dir="runs/mlp", progress=False)  # doctest: +SKIP
    >>> trainer.run()["test_accuracy"] > 0.5  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np

import hybridgrad as hg
from hybridgrad.models import ModelSpec, get_spec
from hybridgrad.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from hybridgrad.training.data import load_mnist, make_loader
from hybridgrad.training.distributed import distribute_task, shard_loader, synchronize_epoch
from hybridgrad.training.plots import plot_curves, read_metrics
from hybridgrad.training.tasks import TASKS

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.jsonl"


class WrongCheckpointError(Exception):
    """A checkpoint that does not hold the expected model; the message says what to do."""


def _spec_of(state: dict, path: str) -> ModelSpec:
    try:
        return get_spec(state["model"])
    except KeyError as error:
        raise WrongCheckpointError(f"{path} holds an unknown model ({error})") from None


def build_from_checkpoint(path: str, expected: str | None = None):
    """``(spec, config, model, state)`` from a training checkpoint, the weights loaded.

    Raises :class:`WrongCheckpointError` when the file holds another model than ``expected`` and
    :class:`hybridgrad.training.checkpoint.CheckpointError` when it is no checkpoint at all.

    Example:
        >>> try:
        ...     build_from_checkpoint("missing.safetensors", "cnn")
        ... except CheckpointError as error:
        ...     print(error)
        checkpoint 'missing.safetensors' does not exist
    """
    state = load_checkpoint(path)
    if "model" not in state or "model_state" not in state:
        raise CheckpointError(f"{path!r} is not a training checkpoint of hybridgrad train")
    if expected is not None and state["model"] != expected:
        raise WrongCheckpointError(
            f"{path} holds a {state['model']!r} model, not {expected!r}. Pass a checkpoint "
            f"written by 'hybridgrad train {expected}' (by default "
            f"runs/{expected}/{CHECKPOINT_NAME}), or use the command for {state['model']!r}.")
    spec = _spec_of(state, path)
    config = json.loads(state["config"])
    model = spec.builder(**config["model"])
    model.load_state_dict(state["model_state"])
    model.eval()
    return spec, config, model, state


def load_judge(path: str):
    """The trained CNN that scores generated digits, in eval mode.

    Example:
        >>> try:
        ...     load_judge("missing.safetensors")
        ... except CheckpointError as error:
        ...     print(error)
        checkpoint 'missing.safetensors' does not exist
    """
    return build_from_checkpoint(path, "cnn")[2]


def _rng_state() -> str:
    return json.dumps(hg.default_generator().bit_generator.state)


def _set_rng_state(text: str) -> None:
    hg.default_generator().bit_generator.state = json.loads(text)


class Trainer:
    """Train ``spec``'s model with ``config`` (from :meth:`ModelSpec.resolved_config`), writing
    into ``out_dir``: ``checkpoint.safetensors``, ``metrics.jsonl``, ``curves.png`` and the
    task's pictures.

    Args:
        spec: the registry entry.
        config: hyper-parameters (``seed`` included).
        out_dir: output folder.
        data_dir: MNIST root (``None``: ``$HYBRIDGRAD_DATA`` or the user cache).
        download: fetch MNIST when missing.
        judge: path of a trained CNN checkpoint scoring generated digits (CGAN, CVAE); ignored
            when missing.
        progress: show a tqdm progress bar.
        log_every: steps between ``"step"`` records in ``metrics.jsonl``.
        step_callback: ``fn(trainer)`` called after every step (tests use it to interrupt).
        checkpoint_every: also write the checkpoint every this many optimizer steps (0: only
            at the end of each epoch and on Ctrl-C); resuming from any of them is exact.
        epoch_callback: ``fn(trainer, record)`` called with every epoch's record.
        distributed: train as one rank of an MPI job (``mpirun``; see
            :mod:`hybridgrad.training.distributed`); only rank 0 writes files.

    Example:
        >>> from hybridgrad.models import get_spec
        >>> Trainer(get_spec("mlp"), {}, out_dir="runs/mlp").checkpoint_path
        'runs/mlp/checkpoint.safetensors'
    """

    def __init__(self, spec: ModelSpec, config: dict, out_dir: str, data_dir: str | None = None,
                 download: bool = False, judge: str | None = None, progress: bool = True,
                 log_every: int = 20, step_callback=None, epoch_callback=None,
                 distributed: bool = False, checkpoint_every: int = 0):
        self.spec, self.config, self.out_dir = spec, dict(config), out_dir
        self.data_dir, self.download, self.judge_path = data_dir, download, judge
        self.progress, self.log_every, self.step_callback = progress, log_every, step_callback
        self.epoch_callback = epoch_callback
        self.distributed, self.world_size, self.writes = distributed, 1, True
        if distributed:
            communicator = hg.distributed.init()
            self.world_size, self.writes = communicator.size, communicator.rank == 0
            self.progress = self.progress and self.writes
        self.checkpoint_every = int(checkpoint_every or 0)
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
        self.stop_requested = False
        # Set (by a step_callback: a time budget) to end the current epoch now, evaluate and
        # save as at an epoch's end, and stop; the epoch's record says "stopped_early".
        self.finish_requested = False
        self.epoch = self.step = self.global_step = 0
        self.task = None

    # ------------------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.out_dir, CHECKPOINT_NAME)

    @property
    def metrics_path(self) -> str:
        return os.path.join(self.out_dir, METRICS_NAME)

    def _setup(self) -> None:
        config = self.config
        hg.manual_seed(int(config["seed"]))
        if self.spec.dataset == "text":
            self._setup_text()
            return
        task_class = TASKS[self.spec.task]
        test_images = None
        if hasattr(task_class, "loaders"):
            # A task with its own data (captchas): a training loader with state_dict /
            # load_state_dict, and what its evaluate() reads each epoch.
            self.train_loader, self.test_loader = task_class.loaders(config)
        else:
            train_images, train_labels = load_mnist(True, self.data_dir,
                                                    config.get("train_subset"), self.download)
            test_images, test_labels = load_mnist(False, self.data_dir,
                                                  config.get("test_subset"), self.download)
            self.train_loader = make_loader(train_images, train_labels,
                                            int(config["batch_size"]), shuffle=True,
                                            seed=int(config["seed"]),
                                            drop_last=self.spec.task == "cgan")
            self.test_loader = make_loader(test_images, test_labels, 500, shuffle=False)
        if self.distributed:
            self.train_loader = shard_loader(self.train_loader, config)
        model = self.spec.builder(**config["model"])
        self.task = task_class(self.spec, config, model, len(self.train_loader))
        if self.distributed:
            distribute_task(self.task)
        if test_images is not None:
            self.task.preview = (test_images[:50], test_labels[:50])
        if self.judge_path and os.path.exists(self.judge_path):
            self.task.judge = load_judge(self.judge_path)
        self.sums: dict = {}  # running sums of the step scalars over the epoch
        self.window: dict = {}  # ... and since the last "step" record
        self.epoch_seconds = 0.0

    def _setup_text(self) -> None:
        # A language model: random context batches of a text (hybridgrad.data.text); one
        # "epoch" is eval_interval steps, evaluated on fixed batches of both splits.
        from hybridgrad.data.text import text_loaders

        self.train_loader, self.test_loader, _ = text_loaders(self.config, self.data_dir)
        model = self.spec.builder(**self.config["model"])
        self.task = TASKS[self.spec.task](self.spec, self.config, model, len(self.train_loader))
        self.sums, self.window, self.epoch_seconds = {}, {}, 0.0

    def _state(self) -> dict:
        task = self.task
        return {
            "model": self.spec.name,
            "config": json.dumps(self.config),
            "model_state": dict(task.model.state_dict()),
            "optimizers": {name: opt.state_dict() for name, opt in task.optimizers.items()},
            "schedulers": {name: sch.state_dict() for name, sch in task.schedulers.items()},
            "progress": {"epoch": self.epoch, "step": self.step, "global_step": self.global_step,
                         "finished": self.epoch >= int(self.config["epochs"])},
            "sums": json.dumps({"epoch": self.sums, "window": self.window,
                                "epoch_seconds": self.epoch_seconds}),
            "rng": _rng_state(),
            "loader": self.train_loader.state_dict(),
        }

    def save(self) -> str:
        """Write the checkpoint now (atomically); returns its path."""
        if self.writes:
            save_checkpoint(self._state(), self.checkpoint_path)
        return self.checkpoint_path

    def _restore(self, path: str) -> None:
        state = load_checkpoint(path)
        if state.get("model") != self.spec.name:
            raise WrongCheckpointError(
                f"{path} holds a {state.get('model')!r} model, not {self.spec.name!r}: resume "
                f"with 'hybridgrad train {state.get('model')} --resume {path}' or pass a "
                f"checkpoint of {self.spec.name!r}.")
        task = self.task
        task.model.load_state_dict(state["model_state"])
        for name, optimizer in task.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in task.schedulers.items():
            scheduler.load_state_dict(state["schedulers"][name])
        progress = state["progress"]
        self.epoch, self.step = int(progress["epoch"]), int(progress["step"])
        self.global_step = int(progress["global_step"])
        sums = json.loads(state["sums"])
        self.sums, self.window = sums["epoch"], sums["window"]
        self.epoch_seconds = float(sums["epoch_seconds"])
        self.train_loader.load_state_dict(state["loader"])
        _set_rng_state(state["rng"])
        # Forget what the interrupted run logged after its checkpoint.
        kept = [record for record in read_metrics(self.metrics_path)
                if record.get("step", 0) <= self.global_step]
        if self.writes:
            with open(self.metrics_path, "w", encoding="utf-8") as handle:
                for record in kept:
                    handle.write(json.dumps(record) + "\n")

    def _remove_stale_temporaries(self) -> None:
        # A process killed while writing its checkpoint leaves the temporary file of the atomic
        # write behind (the checkpoint itself is intact); clear those leftovers. Only the
        # process that writes checkpoints may do so (with distributed training: rank 0).
        if not getattr(self, "writes", True):
            return
        prefix = f".{CHECKPOINT_NAME}."
        for name in os.listdir(self.out_dir):
            if name.startswith(prefix) and name.endswith(".tmp"):
                try:
                    os.remove(os.path.join(self.out_dir, name))
                except OSError:
                    pass

    # ------------------------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        if not self.writes:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _on_sigint(self, signum, frame):
        if self.stop_requested:  # a second Ctrl-C: stop now, without the checkpoint
            raise KeyboardInterrupt
        self.stop_requested = True

    def _stop(self) -> None:
        path = self.save()
        raise KeyboardInterrupt(
            f"interrupted at epoch {self.epoch + 1}, batch {self.step}; checkpoint saved to "
            f"{path}; continue with: hybridgrad train {self.spec.name} --resume {path}")

    def run(self, resume: str | None = None) -> dict:
        """Train to ``config["epochs"]`` (continuing ``resume`` when given); returns the last
        epoch's record. Raises ``KeyboardInterrupt`` after saving the checkpoint on Ctrl-C."""
        os.makedirs(self.out_dir, exist_ok=True)
        self._remove_stale_temporaries()
        self._setup()
        if resume:
            self._restore(resume)
        elif os.path.exists(self.metrics_path) and self.writes:
            os.remove(self.metrics_path)
        if self.writes:
            with open(os.path.join(self.out_dir, "config.json"), "w",
                      encoding="utf-8") as handle:
                json.dump({"model": self.spec.name, **self.config}, handle, indent=2)
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, self._on_sigint) if in_main_thread else None
        try:
            return self._loop()
        finally:
            if in_main_thread:
                signal.signal(signal.SIGINT, previous)

    def _loop(self) -> dict:
        from tqdm import tqdm

        epochs = int(self.config["epochs"])
        last: dict = {}
        while self.epoch < epochs:
            batches = len(self.train_loader)
            bar = tqdm(total=batches, initial=self.step, unit="batch", leave=False,
                       desc=f"{self.spec.name} {self.epoch + 1}/{epochs}",
                       disable=not self.progress)
            started, window_started = time.perf_counter(), time.perf_counter()
            window_images = 0
            for images, labels in self.train_loader:
                scalars = self.task.train_step(images, labels)
                if self.task.scheduler_interval == "step":
                    for scheduler in self.task.schedulers.values():
                        scheduler.step()
                self.step += 1
                self.global_step += 1
                window_images += (self.task.items_per_batch(labels)
                                  if hasattr(self.task, "items_per_batch")
                                  else len(labels)) * self.world_size
                for name, value in scalars.items():
                    self.sums[name] = self.sums.get(name, 0.0) + value
                    self.window[name] = self.window.get(name, 0.0) + value
                self.sums["_count"] = self.sums.get("_count", 0) + 1
                self.window["_count"] = self.window.get("_count", 0) + 1
                if self.global_step % self.log_every == 0 or self.step == batches:
                    now = time.perf_counter()
                    count = self.window.pop("_count")
                    rate_name = f"{getattr(self.task, 'items_name', 'images')}_per_second"
                    record = {"kind": "step", "epoch": self.epoch + 1, "step": self.global_step,
                              **{name: total / count for name, total in self.window.items()},
                              rate_name: window_images / max(now - window_started, 1e-9)}
                    self._log(record)
                    short = {"images_per_second": "img/s", "tokens_per_second": "tok/s"}
                    bar.set_postfix({short.get(name, name):
                                     f"{value:.4g}" for name, value in record.items()
                                     if name not in ("kind", "epoch", "step")})
                    self.window, window_started, window_images = {}, now, 0
                bar.update(1)
                if (self.checkpoint_every and self.global_step % self.checkpoint_every == 0
                        and self.step < batches):  # the epoch's end saves anyway
                    self.save()
                if self.step_callback is not None:
                    self.step_callback(self)
                if self.stop_requested:
                    bar.close()
                    self.epoch_seconds += time.perf_counter() - started
                    self._stop()
                if self.finish_requested:
                    break
            bar.close()
            last = self._end_epoch(time.perf_counter() - started)
            if self.stop_requested:
                self._stop()
            if self.finish_requested:
                break
        return last

    def _end_epoch(self, seconds: float) -> dict:
        task = self.task
        if task.scheduler_interval == "epoch":
            for scheduler in task.schedulers.values():
                scheduler.step()
        if self.distributed:
            synchronize_epoch(self)
        count = self.sums.pop("_count", 0) or 1
        train = {f"train_{name}": total / count for name, total in self.sums.items()}
        metrics = task.evaluate(self.test_loader)
        self.epoch += 1
        record = {"kind": "epoch", "epoch": self.epoch, "step": self.global_step, **train,
                  **metrics, "seconds": self.epoch_seconds + seconds,
                  "lr": float(next(iter(task.optimizers.values())).param_groups[0]["lr"])}
        if self.finish_requested:
            record["stopped_early"] = True
        self._log(record)
        if self.writes:
            task.write_artifacts(self.out_dir, self.epoch)
        self.step, self.sums, self.window, self.epoch_seconds = 0, {}, {}, 0.0
        self.save()
        if self.writes:
            plot_curves(self.metrics_path, os.path.join(self.out_dir, "curves.png"),
                        title=f"hybridgrad train {self.spec.name}")
        if self.epoch_callback is not None:
            self.epoch_callback(self, record)
        return record


def describe(record: dict, spec: ModelSpec) -> str:
    """One line for an epoch record: the metric, whether it reaches the bar, the time.

    Example:
        >>> from hybridgrad.models import get_spec
        >>> describe({"epoch": 2, "test_accuracy": 0.991, "seconds": 30.0}, get_spec("cnn"))
        'epoch 2: test_accuracy 0.9910 (bar >= 0.99: reached), 30.0 s'
    """
    value = record.get(spec.metric)
    comparison, bar = spec.goal
    if value is None or (isinstance(value, float) and np.isnan(value)):
        verdict = f"{spec.metric} not computed (no judge CNN checkpoint)"
    else:
        state = "reached" if spec.meets_goal(value) else "not reached"
        verdict = f"{spec.metric} {value:.4f} (bar {comparison} {bar}: {state})"
    return f"epoch {record.get('epoch')}: {verdict}, {record.get('seconds', 0.0):.1f} s"
