"""``hybridgrad list``: the models (and, when the lab is installed, its experiments).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> parser.parse_args(["list"]).handler.__name__
    'run'
"""

from __future__ import annotations

import os


def register(subparsers) -> None:
    """Add the ``list`` sub-command."""
    parser = subparsers.add_parser("list", help="list the models (and lab experiments)",
                                   description="List the models 'hybridgrad train' knows, with "
                                   "their quality bars and whether a trained checkpoint exists.")
    parser.set_defaults(handler=run)


def model_lines() -> list[str]:
    """One line per registered model.

    Example:
        >>> any(line.lstrip().startswith("cgan") for line in model_lines())
        True
    """
    from hybridgrad.models import REGISTRY
    from hybridgrad.training.helpers import default_checkpoint

    lines = []
    for name, spec in sorted(REGISTRY.items()):
        if spec.dataset != "mnist":  # the captcha readers: captcha_lines() describes them
            continue
        trained = "trained" if os.path.exists(default_checkpoint(name)) else "-"
        bar = f"{spec.metric} {spec.goal[0]} {spec.goal[1]}"
        lines.append(f"  {name:5s} {spec.description}\n"
                     f"        {spec.dataset}, {spec.config['epochs']} epochs, bar: {bar} "
                     f"(within {spec.budget}), runs/{name}: {trained}")
    return lines


def captcha_lines() -> list[str]:
    """The captcha recognisers (their own options: ``hybridgrad train captcha --help``).

    Example:
        >>> captcha_lines()[0].split()[:2]
        ['captcha', 'the']
    """
    lines = ["  captcha the notes' fixed-length one-hot CNN (--model onehot) and CRNN + CTC "
             "(--model crnn) on captchas of --length 4 or 4-6"]
    for model, length, bar in (("onehot", "4", 0.97), ("crnn", "4", 0.98), ("crnn", "4-6", 0.95),
                               ("onehot", "4-6", None)):
        folder = os.path.join("runs", f"captcha-{model}-{length}")
        trained = ("trained" if os.path.exists(os.path.join(folder, "checkpoint.safetensors"))
                   else "-")
        goal = f"whole-string accuracy >= {bar}" if bar else "reported beside the CRNN's"
        lines.append(f"        --model {model} --length {length}: bar: {goal} (within 60 "
                     f"minutes), {folder}: {trained}")
    return lines


def _lab_lines() -> list[str]:
    from hybridgrad import lab

    lines = []
    for name in lab.names():
        try:
            english = lab.claim(name)[1]
        except Exception:  # an experiment whose module cannot load still gets listed
            english = ""
        summary = english if len(english) <= 80 else english[:77].rstrip() + "..."
        lines.append(f"  {name:20s} {summary}")
    return lines


def run(args) -> int:
    """Handler of ``hybridgrad list``."""
    print("models (hybridgrad train NAME; eval, sample, predict):")
    print("\n".join(model_lines() + captcha_lines()))
    lab_lines = _lab_lines()
    if lab_lines:
        print("lab experiments:")
        print("\n".join(lab_lines))
    return 0
