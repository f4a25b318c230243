"""Captcha recognition on the command line: train, evaluate, read image files, and the lab's
CTC experiment.

Examples::

    hybridgrad train captcha --model crnn --length 4-6        # CRNN + CTC, variable length
    hybridgrad train captcha --model onehot --length 4 --loss bce
    hybridgrad eval captcha --checkpoint runs/captcha-crnn-4-6/checkpoint.safetensors
    hybridgrad predict captcha a.png b.png --model crnn --length 4-6 --beam-width 5
    hybridgrad lab ctc --quick

The same commands are reachable as ``hybridgrad captcha train|eval|predict``. The generic
``train``/``eval``/``predict`` commands call in with two lines each::

    captcha.add_train_options(parser)               # in their register(); skips existing flags
    if args.model == "captcha": return captcha.train_command(args)   # first line of run()

(likewise ``add_eval_options``/``eval_command`` and ``add_predict_options``/``predict_command``);
``hybridgrad lab ctc`` is the lab's command running :mod:`hybridgrad.lab.ctc`.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> args = parser.parse_args(["captcha", "train", "--model", "onehot", "--length", "4-6"])
    >>> args.arch, args.length
    ('onehot', '4-6')
"""

from __future__ import annotations

import json
import os
import sys

from hybridgrad.cli import CommandError


def _add(parser, *flags, **options) -> None:
    """Add an option unless the parser already has one of its flags (the generic commands)."""
    if any(flag in parser._option_string_actions for flag in flags):
        return
    parser.add_argument(*flags, **options)


def _add_model_selection(parser) -> None:
    _add(parser, "--model", dest="arch", choices=("crnn", "onehot"), default=None,
         help="crnn (CRNN + CTC, default) or onehot (the notes' fixed-length one-hot CNN)")
    _add(parser, "--length", help="text length: N (fixed, default 4) or MIN-MAX (e.g. 4-6)")


def add_train_options(parser) -> None:
    """The options of ``train captcha`` (flags the parser already has are left alone)."""
    _add_model_selection(parser)
    _add(parser, "--charset", help="digits_upper (36, default), alnum (the notes' 62), digits, "
         "or the characters themselves")
    _add(parser, "--loss", choices=("ce", "bce"), help="one-hot model's loss: per-position "
         "softmax cross-entropy (ce, default) or the notes' sigmoid BCE (bce)")
    _add(parser, "--rnn", choices=("lstm", "gru"), help="CRNN recurrent layer (default lstm)")
    _add(parser, "--hidden", type=int, help="CRNN recurrent hidden size per direction")
    _add(parser, "--channels", help="conv block widths, comma separated (e.g. 16,32,64,96)")
    _add(parser, "--wide-pools", type=int, help="CRNN: leading conv blocks that halve the "
         "width too (default 2: time steps = width / 4)")
    _add(parser, "--height", type=int, help="rendered captcha height (default 64)")
    _add(parser, "--width", type=int, help="rendered captcha width (default 160)")
    _add(parser, "--downsample", type=int, help="average NxN pixel blocks before the network "
         "(default 2: 64x160 -> 32x80)")
    _add(parser, "--train-size", type=int, help="training captchas (default 100000)")
    _add(parser, "--val-size", type=int, help="validation captchas, checked every epoch")
    _add(parser, "--test-size", type=int, help="held-out test captchas (default 2000)")
    _add(parser, "--beam-width", type=int, help="CRNN: also report prefix beam search of this "
         "width on the test set")
    _add(parser, "--epochs", type=int, help="epochs over the training captchas")
    _add(parser, "--batch-size", type=int, help="batch size (default 64)")
    _add(parser, "--lr", type=float, help="peak learning rate of the one-cycle schedule")
    _add(parser, "--seed", type=int, default=None, help="seed of the weights and of the data "
         "splits (train, validation and test seeds are always disjoint)")
    _add(parser, "--out", help="output folder (default runs/captcha-MODEL-LENGTH)")
    _add(parser, "--cache-dir", help="where rendered captchas are cached as PNG + labels.tsv "
         "(default $HYBRIDGRAD_CACHE/captcha or ~/.cache/hybridgrad/captcha)")
    _add(parser, "--no-cache", action="store_true", help="draw the captchas in memory only")
    _add(parser, "--workers", type=int, help="threads drawing captchas (default 2)")
    _add(parser, "--max-minutes", type=float, help="stop training after this many minutes "
         "(then evaluate)")
    _add(parser, "--quick", action="store_true", help="a seconds-long smoke run")
    _add(parser, "--no-progress", action="store_true", help="no progress bar")
    _add(parser, "--resume", metavar="CHECKPOINT", help="continue an interrupted run where it "
         "stopped, with its own settings (--max-minutes and --beam-width may change)")


def _overrides(args) -> dict:
    from hybridgrad.training.captcha import DEFAULTS

    overrides = {}
    for item in getattr(args, "overrides", None) or []:  # the generic --set KEY=VALUE
        key, _, value = item.partition("=")
        key = key.removeprefix("model.")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    names = {"arch": "model", "length": "length", "charset": "charset", "loss": "loss",
             "rnn": "rnn", "hidden": "hidden", "wide_pools": "wide_pools", "height": "height",
             "width": "width",
             "downsample": "downsample", "train_size": "train_size", "val_size": "val_size",
             "test_size": "test_size", "beam_width": "beam_width", "epochs": "epochs",
             "batch_size": "batch_size", "lr": "lr", "seed": "seed", "cache_dir": "cache_dir",
             "workers": "workers", "max_minutes": "max_minutes"}
    for attribute, key in names.items():
        value = getattr(args, attribute, None)
        if value is not None:
            overrides[key] = value
    channels = getattr(args, "channels", None)
    if channels:
        try:
            overrides["channels"] = [int(c) for c in str(channels).split(",")]
        except ValueError:
            raise CommandError(f"--channels must be comma-separated integers, got "
                               f"{channels!r}") from None
    if getattr(args, "no_cache", False):
        overrides["cache"] = False
    if overrides.get("model") == "onehot" and getattr(args, "hidden", None) is not None:
        overrides["onehot_hidden"] = overrides.pop("hidden")
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise CommandError(f"unknown captcha setting(s) {', '.join(unknown)}; the settings are "
                           f"{', '.join(sorted(DEFAULTS))}.")
    return overrides


def default_out(config: dict) -> str:
    """``runs/captcha-MODEL-LENGTH`` (``-quick`` appended for smoke runs).

    Example:
        >>> default_out({"model": "crnn", "length": "4-6", "quick": False})
        'runs/captcha-crnn-4-6'
    """
    suffix = "-quick" if config.get("quick") else ""
    return os.path.join("runs", f"captcha-{config['model']}-{config['length']}{suffix}")


def train_command(args) -> int:
    """Handler of ``train captcha``."""
    from hybridgrad.training.captcha import resolve_config, resume_config, train

    for flag in ("distributed", "judge", "data_dir"):
        if getattr(args, flag, None):
            raise CommandError(f"--{flag.replace('_', '-')} is not available for captcha "
                               f"models (captchas are rendered, not read from --data-dir).")
    resume = getattr(args, "resume", None)
    try:
        if resume:
            # The run's own settings; only the time limit and the reporting may change.
            saved = resume_config(resume)
            given = _overrides(args)
            for key in ("max_minutes", "beam_width"):
                if given.get(key) is not None:
                    saved[key] = given[key]
            config = resolve_config({k: v for k, v in saved.items() if k != "quick"},
                                    quick=bool(saved.get("quick", False)))
        else:
            config = resolve_config(_overrides(args), quick=bool(getattr(args, "quick", False)))
    except (ValueError, OSError) as error:
        raise CommandError(str(error)) from None
    out = getattr(args, "out", None) or (os.path.dirname(resume) if resume
                                         else default_out(config))
    print(f"hybridgrad train captcha --model {config['model']} --length {config['length']}: "
          f"{config['epochs']} epoch(s) of {config['train_size']} captchas, batch "
          f"{config['batch_size']}, lr {config['lr']}, seed {config['seed']}"
          f"{' (quick)' if config['quick'] else ''} -> {out}")
    try:
        result = train(config, out, log=print,
                       progress=not getattr(args, "no_progress", False) and sys.stderr.isatty(),
                       resume=resume, checkpoint_every=getattr(args, "checkpoint_every", 0) or 0)
    except ValueError as error:
        raise CommandError(str(error)) from None
    except KeyboardInterrupt:
        checkpoint = os.path.join(out, "checkpoint.safetensors")
        print(f"interrupted; checkpoint saved to {checkpoint} (continue with "
              f"'hybridgrad train captcha --resume {checkpoint}')", file=sys.stderr)
        return 130
    _print_examples(result["examples"])
    print(f"done: {result['checkpoint']}, metrics in {os.path.join(out, 'metrics.jsonl')}")
    return 0


def _print_examples(examples: dict) -> None:
    for kind in ("right", "wrong"):
        if examples.get(kind):
            reads = ", ".join(f"{e['truth']}->{e['read']} ({e['confidence']:.2f})"
                              for e in examples[kind][:5])
            print(f"  {kind}: {reads}")


def _checkpoint(args) -> str:
    path = getattr(args, "checkpoint", None)
    if not path:
        arch = getattr(args, "arch", None) or "crnn"
        length = getattr(args, "length", None) or "4"
        path = os.path.join(default_out({"model": arch, "length": length}),
                            "checkpoint.safetensors")
    if not os.path.exists(path):
        raise CommandError(f"no checkpoint at {path}; train one with 'hybridgrad train captcha "
                           f"--model MODEL --length LENGTH' or pass --checkpoint CKPT.")
    return path


def _load(args):
    from hybridgrad.training.captcha import load_checkpoint

    path = _checkpoint(args)
    try:
        return load_checkpoint(path)
    except Exception as error:  # corrupt file, another model's checkpoint
        raise CommandError(f"cannot load {path}: {error}") from None


def add_eval_options(parser) -> None:
    """The options of ``eval captcha``."""
    _add_model_selection(parser)
    _add(parser, "--checkpoint", metavar="CKPT", help="checkpoint (default "
         "runs/captcha-MODEL-LENGTH/checkpoint.safetensors)")
    _add(parser, "--test-size", type=int, default=2000, help="held-out captchas (default 2000)")
    _add(parser, "--seed", type=int, default=None, help="data seed (default: the training's)")
    _add(parser, "--beam-width", type=int, default=None, help="CRNN: prefix beam search width "
         "(default 1: greedy)")
    _add(parser, "--cache-dir", help="captcha cache folder")
    _add(parser, "--json", action="store_true", help="print the figures as JSON")


def eval_command(args) -> int:
    """Handler of ``eval captcha``: whole-string accuracy on the held-out test split."""
    from hybridgrad.data.captcha_cache import load_split
    from hybridgrad.training.captcha import confusions, evaluate, examples, spec_of

    model, codec, config = _load(args)
    size = getattr(args, "test_size", None) or getattr(args, "subset", None) or 2000
    seed = config["seed"] if getattr(args, "seed", None) is None else args.seed
    images, texts = load_split(spec_of(config), "test", int(size), seed=int(seed),
                               cache_dir=getattr(args, "cache_dir", None) or
                               config.get("cache_dir"), use_cache=bool(config.get("cache", True)))
    result = evaluate(model, images, texts, codec, config,
                      beam_width=getattr(args, "beam_width", None))
    found = examples(result["reads"], count=10)
    figures = {"model": config["model"], "length": config["length"], "test_size": len(texts),
               "accuracy": result["accuracy"], "char_accuracy": result["char_accuracy"],
               "accuracy_by_length": result["accuracy_by_length"], "wrong_examples": found["wrong"],
               "confusions": confusions(result["reads"])}
    if getattr(args, "json", False):
        print(json.dumps(figures, indent=1))
        return 0
    print(f"captcha {config['model']} (length {config['length']}): whole-string accuracy "
          f"{result['accuracy']:.4f} on {len(texts)} held-out captchas, characters "
          f"{result['char_accuracy']:.4f}")
    if len(result["accuracy_by_length"]) > 1:
        print("  by length: " + ", ".join(f"{k}: {v:.4f}"
                                           for k, v in result["accuracy_by_length"].items()))
    _print_examples({"wrong": found["wrong"]})
    mistakes = figures["confusions"]
    if mistakes["wrong"]:
        pairs = ", ".join(f"{a}->{b} {n}" for a, b, n in mistakes["substitutions"])
        print(f"  {mistakes['wrong']} wrong reads: {mistakes['wrong_length']} of the wrong "
              f"length; characters confused most (truth->read count): {pairs or '-'}")
    return 0


def add_predict_options(parser) -> None:
    """The options of ``predict captcha``."""
    _add_model_selection(parser)
    if not any(action.dest == "images" for action in parser._actions):
        parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    _add(parser, "--checkpoint", metavar="CKPT", help="checkpoint (default "
         "runs/captcha-MODEL-LENGTH/checkpoint.safetensors)")
    _add(parser, "--beam-width", type=int, default=None, help="CRNN: prefix beam search width")


def predict_command(args) -> int:
    """Handler of ``predict captcha``: one line per image, ``PATH TEXT CONFIDENCE``."""
    from hybridgrad.training.captcha import prepare, read, read_image

    model, codec, config = _load(args)
    images = []
    for path in args.images:
        try:
            images.append(read_image(path, config))
        except (FileNotFoundError, ValueError) as error:
            raise CommandError(str(error)) from None
    import numpy as np

    texts, confidences = read(model, prepare(np.stack(images), config), codec, config,
                              getattr(args, "beam_width", None))
    for path, text, confidence in zip(args.images, texts, confidences):
        print(f"{path}\t{text}\t{float(confidence):.3f}")
    return 0


def add_export_options(parser) -> None:
    """The options of ``captcha export``."""
    _add_model_selection(parser)
    _add(parser, "--checkpoint", metavar="CKPT", help="checkpoint (default "
         "runs/captcha-MODEL-LENGTH/checkpoint.safetensors)")
    _add(parser, "-o", "--output", default=None, help="ONNX file (default: beside the "
         "checkpoint, model.onnx)")


def export_command(args) -> int:
    """Handler of ``captcha export``: ONNX file, checked with onnxruntime."""
    from hybridgrad.training.captcha import export_onnx

    checkpoint = _checkpoint(args)
    output = getattr(args, "output", None) or os.path.join(os.path.dirname(checkpoint),
                                                           "model.onnx")
    try:
        info = export_onnx(checkpoint, output)
    except Exception as error:  # unsupported operator, onnxruntime mismatch, bad checkpoint
        raise CommandError(f"cannot export {checkpoint}: {error}") from None
    print(f"wrote {info['path']} ({info['model']}, input images {info['input_shape']}, "
          f"onnxruntime agrees within {info['max_abs_difference']:.2g})")
    return 0


def _dispatch(args) -> int:
    handlers = {"train": train_command, "eval": eval_command, "predict": predict_command,
                "export": export_command}
    if not getattr(args, "captcha_command", None):
        raise CommandError("say what to do: 'hybridgrad captcha train|eval|predict|export' "
                           "(see --help).")
    return handlers[args.captcha_command](args)


def register(subparsers) -> None:
    """Add ``captcha train|eval|predict`` (the same as ``train|eval|predict captcha``)."""
    parser = subparsers.add_parser(
        "captcha", help="captcha recognition: one-hot CNN or CRNN + CTC (train, eval, predict)",
        description="Captcha recognition on images rendered by the captcha package.")
    commands = parser.add_subparsers(dest="captcha_command", metavar="ACTION")
    for name, adder, text in (
            ("train", add_train_options, "train a captcha reader"),
            ("eval", add_eval_options, "whole-string accuracy on held-out captchas"),
            ("predict", add_predict_options, "read captcha image files"),
            ("export", add_export_options, "write the network as ONNX (checked with "
             "onnxruntime)")):
        adder(commands.add_parser(name, help=text, description=text))
    parser.set_defaults(handler=_dispatch)
