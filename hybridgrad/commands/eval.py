"""``hybridgrad eval MODEL``: measure a trained model's quality figure on the MNIST test set.

* classifiers (mlp, cnn, vit): test accuracy, overall and per digit;
* cgan, cvae: the fraction of generated digits that the judge CNN (``--judge``, else
  ``runs/cnn``, else the CNN shipped with hybridgrad: :mod:`hybridgrad.training.judge`)
  classifies as their conditioning label, overall and per digit (the CGAN's bar is 95%, the
  CVAE's 90%);
* vae, cvae: the negative ELBO on the test set, in nats per image (the VAE's bar is 110).

Examples::

    hybridgrad eval cnn
    hybridgrad eval cgan --checkpoint runs/cgan/checkpoint.safetensors --samples 10000
    hybridgrad eval vae --json

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> parser.parse_args(["eval", "cgan"]).samples
    1000
"""

from __future__ import annotations

import json
import os

import numpy as np

from hybridgrad.cli import CommandError


def register(subparsers) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser(
        "eval", help="measure a trained model (accuracy, label accuracy, ELBO)",
        description="Measure a trained model's quality figure on the MNIST test set; for the "
        "generators (cgan, cvae) the judge is your CNN (hybridgrad train cnn) or, without one, "
        "the CNN shipped with hybridgrad.")
    parser.add_argument("model", help="model name (see 'hybridgrad list')")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="checkpoint to measure (default runs/MODEL/checkpoint.safetensors)")
    parser.add_argument("--judge", metavar="CKPT", help="CNN checkpoint that classifies generated "
                        "digits (default runs/cnn/checkpoint.safetensors, else the CNN shipped "
                        "with hybridgrad)")
    parser.add_argument("--samples", type=int, default=1000,
                        help="generated digits to judge, balanced over the labels (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the samples")
    parser.add_argument("--data-dir", help="folder holding the MNIST IDX files (default "
                        "$HYBRIDGRAD_DATA/mnist, else the user cache, else the copy embedded in "
                        "the package)")
    parser.add_argument("--subset", type=int, help="only the first N test images")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    from hybridgrad.commands import own_commands

    for module in own_commands():  # models with their own options (captcha)
        module.add_eval_options(parser)
    parser.set_defaults(handler=run)


def evaluate(name: str, checkpoint: str | None = None, judge: str | None = None,
             samples: int = 1000, seed: int = 0, data_dir: str | None = None,
             subset: int | None = None) -> dict:
    """The figures ``hybridgrad eval`` prints, as a dict.

    Example:
        >>> try:
        ...     evaluate("cnn", checkpoint="nothing-here.safetensors")
        ... except CommandError as error:
        ...     print(str(error)[:40])
        no checkpoint at nothing-here.safetensor
    """
    from hybridgrad.training import DatasetNotFoundError, load_mnist, make_loader
    from hybridgrad.training.helpers import open_model
    from hybridgrad.training.tasks import TASKS, forked_rng, judge_accuracy

    spec, config, model, _ = open_model(name, checkpoint)
    if spec.task == "gpt":
        return _evaluate_text(spec, config, model, checkpoint)
    config = {**config, "seed": seed, "judge_samples": samples}
    task = TASKS[spec.task](spec, config, model)
    results: dict = {"model": name, "checkpoint": checkpoint or f"runs/{name}/"
                     "checkpoint.safetensors"}
    generates = spec.task == "cgan" or name == "cvae"
    if generates:
        from hybridgrad.training.helpers import default_checkpoint
        from hybridgrad.training.judge import JudgeNotFoundError, choose_judge

        try:
            choice = choose_judge(judge, default_checkpoint("cnn"))
        except JudgeNotFoundError as error:
            raise CommandError(str(error)) from None
        if choice.path is None:
            raise CommandError(f"no judge to score generated digits: {choice.description}")
        task.judge = open_model("cnn", choice.path)[2]
        results["judge"] = choice.description
        labels = np.arange(samples, dtype=np.int64) % 10
        with forked_rng(seed):
            images = task.sample01(labels)
        accuracy, per_digit = judge_accuracy(task.judge, images, labels)
        results.update(label_accuracy=accuracy, per_digit=per_digit, samples=samples)
    if spec.task != "cgan":
        try:
            images, labels = load_mnist(False, data_dir, subset)
        except DatasetNotFoundError as error:
            raise CommandError(str(error)) from None
        loader = make_loader(images, labels, 500, shuffle=False)
        if spec.task == "classifier":
            results.update(task.evaluate(loader))
            model.eval()
            predictions = np.concatenate([
                np.asarray(model(task.prepare(batch))._array).argmax(1)
                for batch, _ in _no_grad(loader)])
            results["per_digit"] = [float((predictions[labels == digit] == digit).mean())
                                    for digit in range(10)]
        else:
            task.judge = None  # the label accuracy is measured above, with --samples
            results.update(task.evaluate(loader))
    results["bar"] = f"{spec.metric} {spec.goal[0]} {spec.goal[1]}"
    value = results.get(spec.metric)
    results["reached"] = None if value is None else bool(spec.meets_goal(value))
    return results


def _evaluate_text(spec, config: dict, model, checkpoint: str | None) -> dict:
    """The GPT's loss on the whole validation split, in non-overlapping context windows."""
    import hybridgrad as hg
    from hybridgrad.data.text import CharTokenizer, load_corpus, split_ids

    tokenizer = CharTokenizer(config["vocab"])
    text = load_corpus(config.get("data"))
    _, val_ids = split_ids(tokenizer.encode(text), float(config.get("train_fraction", 0.9)))
    context = model.block_size
    windows = (len(val_ids) - 1) // context
    inputs = val_ids[:windows * context].reshape(windows, context)
    targets = val_ids[1:windows * context + 1].reshape(windows, context)
    total = 0.0
    with hg.no_grad():
        for start in range(0, windows, 64):
            _, loss = model(inputs[start:start + 64], targets[start:start + 64])
            total += float(loss.item()) * len(inputs[start:start + 64])
    value = total / max(windows, 1)
    return {"model": spec.name, "checkpoint": checkpoint or "runs/gpt/checkpoint.safetensors",
            "val_loss": value, "val_tokens": int(windows * context),
            "bar": f"{spec.metric} {spec.goal[0]} {spec.goal[1]}",
            "reached": bool(spec.meets_goal(value))}


def _no_grad(loader):
    import hybridgrad as hg

    with hg.no_grad():
        yield from loader


def run(args) -> int:
    """Handler of ``hybridgrad eval``."""
    from hybridgrad.commands import own_commands

    for module in own_commands(args.model):  # a model with its own data and options
        return module.eval_command(args)
    from hybridgrad.training.helpers import spec_or_error

    spec = spec_or_error(args.model)
    if args.samples < 10:
        raise CommandError(f"--samples must be at least 10 (one per digit), got {args.samples}.")
    if args.checkpoint and not os.path.exists(args.checkpoint):
        raise CommandError(f"no checkpoint at {args.checkpoint}: train the model with "
                           f"'hybridgrad train {spec.name}' or correct the path.")
    results = evaluate(spec.name, args.checkpoint, args.judge, args.samples, args.seed,
                       args.data_dir, args.subset)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{spec.name} ({results['checkpoint']})")
    if "judge" in results:
        print(f"  judge: {results['judge']}")
    for key in ("test_accuracy", "test_loss", "test_nelbo", "label_accuracy", "val_loss"):
        if key in results:
            unit = " nats/image" if key == "test_nelbo" else ""
            print(f"  {key:15s} {results[key]:.4f}{unit}")
    if "per_digit" in results:
        what = "judged as their label" if "label_accuracy" in results else "accuracy"
        print(f"  per digit ({what}):")
        print("    " + "  ".join(f"{digit}: {value:.3f}"
                                 for digit, value in enumerate(results["per_digit"])))
    verdict = {True: "reached", False: "NOT reached", None: "not measured"}[results["reached"]]
    print(f"  bar {results['bar']}: {verdict}")
    return 0
