"""``hybridgrad train MODEL``: train one of the notes' models on MNIST.

Examples::

    hybridgrad train cgan                      # the notes' CGAN, default settings
    hybridgrad train cnn --epochs 5 --lr 1e-3 --out runs/cnn5
    hybridgrad train mlp --quick               # a seconds-long smoke run on 512 images
    hybridgrad train vit --set model.pool=mean --set model.positions=sinusoidal
    hybridgrad train cgan --resume runs/cgan/checkpoint.safetensors
    hybridgrad train gpt --preset tiny         # character-level GPT on Tiny Shakespeare
    hybridgrad train gpt --data poems.txt --set model.n_layer=2
    mpirun -n 2 hybridgrad train cnn --distributed   # data-parallel on 2 processes (MPI)

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> parser.parse_args(["train", "cnn", "--epochs", "2"]).epochs
    2
"""

from __future__ import annotations

import inspect
import json
import os
import sys

from hybridgrad.cli import CommandError


def register(subparsers) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser(
        "train", help="train a model (mlp, cnn, vit, cgan, vae, cvae) on MNIST",
        description="Train one of the notes' models on MNIST. Writes checkpoint.safetensors "
        "(every epoch and on Ctrl-C), metrics.jsonl, curves.png and sample pictures into "
        "--out (default runs/MODEL). The defaults are the settings meant to reach each model's "
        "quality bar ('hybridgrad list').")
    parser.add_argument("model", help="model name (see 'hybridgrad list')")
    parser.add_argument("--epochs", type=int, help="number of epochs (with --resume: the new "
                        "total)")
    parser.add_argument("--batch-size", type=int, help="training batch size")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--out", help="output folder (default runs/MODEL)")
    parser.add_argument("--data-dir", help="folder holding the MNIST IDX files (default "
                        "$HYBRIDGRAD_DATA/mnist, else the user cache, else the copy embedded in "
                        "the package)")
    parser.add_argument("--download", action="store_true", help="download MNIST when no copy is "
                        "found (an installation without the embedded copy)")
    parser.add_argument("--resume", metavar="CKPT", help="continue a run from its checkpoint "
                        "(exactly as if it had not stopped)")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run: a small "
                        "subset, a tiny model, one epoch")
    parser.add_argument("--judge", metavar="CKPT", help="CNN checkpoint that scores generated "
                        "digits (cgan, cvae; default runs/cnn/checkpoint.safetensors beside "
                        "--out, else the CNN shipped with hybridgrad)")
    parser.add_argument("--preset", help="a named configuration (gpt: tiny, the default, or "
                        "small)")
    parser.add_argument("--data", metavar="FILE.txt", help="gpt: train on this UTF-8 text "
                        "instead of the packaged Tiny Shakespeare")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="overrides",
                        help="override a hyper-parameter, e.g. --set model.width=64 "
                        "(repeatable)")
    parser.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                        help="also write the checkpoint every N optimizer steps (default: only "
                        "at the end of each epoch and on Ctrl-C); resuming stays exact")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--compile", action="store_true", help="run each training step as one "
                        "compiled graph (hybridgrad.jit.train_step): mlp, cnn, vit")
    parser.add_argument("--eager", action="store_true", help="run each training step eagerly "
                        "(the default)")
    parser.add_argument("--distributed", action="store_true", help="data-parallel training as "
                        "one process of an MPI job: start with 'mpirun -n N hybridgrad train "
                        "MODEL --distributed' (--batch-size stays the global batch, split over "
                        "the N processes; rank 0 writes --out). See docs/distributed.md")
    from hybridgrad.commands import own_commands

    for module in own_commands():  # models with their own options (captcha)
        module.add_train_options(parser)
    parser.set_defaults(handler=run)


def _config(args, spec) -> dict:
    from hybridgrad.training.helpers import parse_overrides

    overrides = parse_overrides(args.overrides)
    for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size),
                       ("lr", args.lr), ("seed", args.seed)):
        if value is not None:
            overrides[key] = value
    if getattr(args, "data", None) is not None:
        if "data" not in spec.config:
            raise CommandError(f"--data is for the language model (gpt); {spec.name} reads "
                               f"MNIST (see --data-dir).")
        overrides["data"] = args.data
    try:
        config = spec.resolved_config(quick=args.quick, overrides=overrides,
                                      preset=getattr(args, "preset", None))
    except KeyError as error:
        raise CommandError(f"{error.args[0]}.") from None
    config.setdefault("seed", 0)
    config["quick"] = bool(args.quick)
    unknown = sorted(set(overrides) - set(spec.config) - {"seed"})
    parameters = inspect.signature(spec.builder).parameters
    unknown += [f"model.{key}" for key in overrides.get("model", {}) if key not in parameters]
    if unknown:
        raise CommandError(f"unknown hyper-parameter(s) {', '.join(unknown)} for {spec.name}; "
                           f"the settings are {', '.join(sorted(set(spec.config) - {'model'}))} "
                           f"and model.{{{', '.join(sorted(parameters))}}}.")
    for key, value in config.items():
        if key in ("epochs", "batch_size") and (not isinstance(value, int) or value < 1):
            raise CommandError(f"--{key.replace('_', '-')} must be a positive integer, got "
                               f"{value!r}.")
    return config


def _resumed_config(args, spec) -> dict:
    from hybridgrad.training import CheckpointError, load_checkpoint

    if any(value is not None for value in (args.batch_size, args.lr, args.seed)) \
            or args.overrides or args.quick or getattr(args, "preset", None) \
            or getattr(args, "data", None):
        raise CommandError("--resume continues a run with the hyper-parameters saved in its "
                           "checkpoint; only --epochs (the new total) may change. Drop --lr, "
                           "--batch-size, --seed, --quick and --set, or start a new run "
                           "without --resume.")
    if not os.path.exists(args.resume):
        raise CommandError(f"cannot resume: {args.resume} does not exist. A run writes its "
                           f"checkpoint to OUT/checkpoint.safetensors (runs/{spec.name}/ by "
                           f"default).")
    try:
        state = load_checkpoint(args.resume)
    except CheckpointError as error:
        raise CommandError(f"cannot resume: {error}.") from None
    if state.get("model") != spec.name:
        raise CommandError(f"cannot resume: {args.resume} holds a {state.get('model')!r} model, "
                           f"not {spec.name!r}. Run 'hybridgrad train {state.get('model')} "
                           f"--resume {args.resume}', or pass a checkpoint of {spec.name!r}.")
    config = json.loads(state["config"])
    if args.epochs is not None:
        if args.epochs < 1:
            raise CommandError(f"--epochs must be a positive integer, got {args.epochs}.")
        if config.get("scheduler") == "onecycle" and args.epochs != config["epochs"]:
            raise CommandError(f"this run's one-cycle learning-rate schedule was laid out for "
                               f"{config['epochs']} epochs and cannot be stretched to "
                               f"{args.epochs}; resume without --epochs, or start a new run "
                               f"with --epochs {args.epochs}.")
        config["epochs"] = args.epochs
    return config


def run(args) -> int:
    """Handler of ``hybridgrad train``."""
    from hybridgrad.commands import own_commands

    for module in own_commands(args.model):  # a model with its own data and options
        return module.train_command(args)
    from hybridgrad.training import (
        CheckpointError,
        DatasetNotFoundError,
        Trainer,
        WrongCheckpointError,
        describe,
    )
    from hybridgrad.training.data import mnist_source
    from hybridgrad.training.distributed import BatchSizeError
    from hybridgrad.training.helpers import default_out, spec_or_error

    spec = spec_or_error(args.model)
    if args.checkpoint_every < 0:
        raise CommandError(f"--checkpoint-every must be 0 (per epoch only) or a positive number "
                           f"of steps, got {args.checkpoint_every}.")
    config = _resumed_config(args, spec) if args.resume else _config(args, spec)
    config.pop("compile", None)
    if _compiled(args, spec):
        config["compile"] = True
    say = _distributed_printer(config) if args.distributed else print
    out = args.out or (os.path.dirname(args.resume) if args.resume else default_out(spec.name))
    judge = judge_choice = None
    if spec.metric == "label_accuracy":
        from hybridgrad.training.judge import JudgeNotFoundError, choose_judge

        trained = os.path.join(os.path.dirname(os.path.abspath(out)), "cnn",
                               "checkpoint.safetensors")
        try:
            judge_choice = choose_judge(args.judge, trained)
        except JudgeNotFoundError as error:
            raise CommandError(str(error)) from None
        judge = judge_choice.path  # None: the judge line below says what to do
    say(f"hybridgrad train {spec.name}: {config['epochs']} epoch(s), batch size "
          f"{config['batch_size']}, lr {config['lr']}, seed {config['seed']}"
          f"{' (quick)' if args.quick else ''}{', resuming ' + args.resume if args.resume else ''}"
          f" -> {out}")
    data = mnist_source(args.data_dir)
    say(f"  data:  MNIST from {data}")
    if judge_choice is not None:
        say(f"  judge: {judge_choice.description}")

    def report(trainer, record):
        say(describe(record, spec), flush=True)

    trainer = Trainer(spec, config, out, data_dir=args.data_dir, download=args.download,
                      judge=judge, progress=not args.no_progress, epoch_callback=report,
                      distributed=args.distributed, checkpoint_every=args.checkpoint_every,
                      step_callback=Forecast(say))
    try:
        record = trainer.run(resume=args.resume)
    except (DatasetNotFoundError, BatchSizeError) as error:
        raise CommandError(str(error)) from None
    except (CheckpointError, WrongCheckpointError) as error:
        raise CommandError(f"cannot resume: {error}") from None
    except KeyboardInterrupt as interrupt:
        say(str(interrupt) or "interrupted", file=sys.stderr)
        return 130
    say(f"done: {trainer.checkpoint_path}, metrics in {trainer.metrics_path}")
    if trainer.writes:
        from hybridgrad.training.report import write_report

        page = write_report(out, spec, config, judge_choice.description if judge_choice
                            else None, data)
        for name, path in (("samples", os.path.join(out, "samples.png")),
                           ("curves", os.path.join(out, "curves.png")),
                           ("checkpoint", trainer.checkpoint_path), ("report", page)):
            if os.path.exists(path):
                say(f"  {name + ':':12s}{path}")
    if (record and not config.get("quick") and spec.metric in record
            and not spec.meets_goal(record[spec.metric])):
        say(f"note: {spec.metric} {record[spec.metric]:.4f} misses the bar "
            f"{spec.goal[0]} {spec.goal[1]}", file=sys.stderr)
    return 0


def _compiled(args, spec) -> bool:
    """Whether --compile asks for (and the model allows) the compiled training step."""
    if getattr(args, "compile", False) and getattr(args, "eager", False):
        raise CommandError("--compile and --eager exclude each other; pass one of them.")
    if not getattr(args, "compile", False):
        return False
    if spec.task != "classifier":
        raise CommandError(f"--compile is available for the classifiers (mlp, cnn, vit); "
                           f"{spec.name!r} trains eagerly (its step does not fit one compiled "
                           f"loss: see benchmarks/train_models.py). Drop --compile.")
    if args.distributed:
        raise CommandError("--compile does not combine with --distributed (the compiled step "
                           "does not average gradients over processes); drop one of them.")
    return True


class Forecast:
    """A step callback that, once the first steps are measured, says how long the whole run
    should take on this machine (training steps only; each epoch's evaluation comes on top).

    The first step is not counted (one-time costs); the forecast is printed after ten more
    steps, five seconds, or the end of the first epoch, whichever comes first.

    Example:
        >>> import types
        >>> lines = []
        >>> forecast = Forecast(lines.append, clock=iter([0.0, 1.0, 2.0]).__next__)
        >>> loader = [None] * 3
        >>> trainer = types.SimpleNamespace(config={"epochs": 2, "batch_size": 50},
        ...                                 train_loader=loader, world_size=1)
        >>> for step in (1, 2, 3):
        ...     trainer.global_step = trainer.step = step
        ...     forecast(trainer)
        >>> "about 6 s for 2 epoch(s)" in lines[0], "(50 images/s measured" in lines[0]
        (True, True)
    """

    def __init__(self, say, clock=None):
        import time

        self.say, self.clock = say, clock or time.perf_counter
        self.start = self.start_step = None
        self.done = False

    def __call__(self, trainer) -> None:
        if self.done:
            return
        now = self.clock()
        if self.start is None:
            self.start, self.start_step = now, trainer.global_step
            return
        steps = trainer.global_step - self.start_step
        per_epoch = len(trainer.train_loader)
        if steps < 10 and now - self.start < 5.0 and trainer.step < per_epoch:
            return
        self.done = True
        seconds_per_step = (now - self.start) / max(steps, 1)
        epochs = int(trainer.config["epochs"])
        total = seconds_per_step * epochs * per_epoch
        images = int(trainer.config["batch_size"]) / max(seconds_per_step, 1e-9)
        self.say(f"  expected duration: about {_duration(total)} for {epochs} epoch(s) of "
                 f"{per_epoch} steps ({images:.0f} images/s measured on this machine)")


def _duration(seconds: float) -> str:
    """``"under a second"``, ``"42 s"``, ``"3.5 min"`` or ``"2.0 h"``.

    Example:
        >>> _duration(0.3), _duration(42.0), _duration(210.0), _duration(7200.0)
        ('under a second', '42 s', '3.5 min', '2.0 h')
    """
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _distributed_printer(config: dict):
    """Join the MPI job; a ``print`` that only rank 0 uses. Says how the work is split."""
    from hybridgrad import distributed

    try:
        communicator = distributed.init()
    except RuntimeError as error:
        raise CommandError(str(error)) from None

    def say(*values, **options):
        if communicator.rank == 0:
            print(*values, **options)

    if communicator.size == 1:
        say("note: --distributed without mpirun (or with -n 1) trains in this one process; "
            "start several with 'mpirun -n N hybridgrad train ... --distributed'.",
            file=sys.stderr)
    else:
        say(f"distributed: {communicator.size} processes ({type(communicator).__name__}), "
            f"{config['batch_size'] // communicator.size} images each per step of "
            f"{config['batch_size']}")
    return say
