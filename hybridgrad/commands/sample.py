"""``hybridgrad sample MODEL``: draw digits from a trained generator (cgan, cvae, vae) into a
PNG grid, or text from the trained GPT (streamed as it is generated).

Examples::

    hybridgrad sample gpt --prompt "ROMEO:" --tokens 500 --temperature 0.8 --top-k 50 --seed 0

    hybridgrad sample cgan --label 7 --n 16 -o sevens.png
    hybridgrad sample cgan -o digits.png          # 10x10: one row per digit
    hybridgrad sample vae --n 64 -o vae.png

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> parser.parse_args(["sample", "cgan", "--label", "7", "-o", "x.png"]).label
    7
"""

from __future__ import annotations

import math

import numpy as np

from hybridgrad.cli import CommandError

GENERATORS = ("cgan", "cvae", "vae", "gpt")


def register(subparsers) -> None:
    """Add the ``sample`` sub-command."""
    parser = subparsers.add_parser(
        "sample", help="draw digits from a trained cgan, cvae or vae into a PNG, or text from "
        "the gpt",
        description="Draw digits from a trained generator into a PNG grid (without --label "
        "the conditional models draw a 10x10 grid, one row per digit), or stream text from "
        "the trained gpt.")
    parser.add_argument("model", help="cgan, cvae, vae or gpt")
    parser.add_argument("--label", type=int, help="the digit to draw (cgan, cvae)")
    parser.add_argument("--n", type=int, default=None,
                        help="number of images (default 16 with --label, else 100)")
    parser.add_argument("-o", "--output", default="samples.png", help="PNG file to write")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="checkpoint (default runs/MODEL/checkpoint.safetensors)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    text = parser.add_argument_group("gpt")
    text.add_argument("--prompt", default="\n", help="text to continue (default a new line)")
    text.add_argument("--tokens", type=int, default=500, help="characters to generate")
    text.add_argument("--temperature", type=float, default=0.8,
                      help="divide the logits by this (lower: more conservative; 0: arg-max)")
    text.add_argument("--top-k", type=int, default=50,
                      help="sample among the k most likely characters (0: all)")
    text.add_argument("--no-cache", action="store_true",
                      help="recompute the whole context per character (no key/value cache)")
    parser.set_defaults(handler=run)


def sample_text(args) -> int:
    """``hybridgrad sample gpt``: stream the continuation of ``--prompt`` to stdout."""
    import sys

    from hybridgrad.data.text import CharTokenizer, UnknownCharacterError
    from hybridgrad.training.helpers import open_model

    if args.tokens < 0:
        raise CommandError(f"--tokens must be >= 0, got {args.tokens}.")
    if args.temperature < 0:
        raise CommandError(f"--temperature must be >= 0, got {args.temperature}.")
    if args.top_k < 0:
        raise CommandError(f"--top-k must be >= 0 (0: no limit), got {args.top_k}.")
    _, config, model, _ = open_model("gpt", args.checkpoint)
    tokenizer = CharTokenizer(config["vocab"])
    try:
        prompt = tokenizer.encode(args.prompt)
    except UnknownCharacterError as error:
        raise CommandError(f"the prompt cannot be encoded: {error}. The model knows only the "
                           f"characters of its training text.") from None
    if prompt.size == 0:
        raise CommandError("--prompt is empty; give at least one character.")
    sys.stdout.write(args.prompt)
    sys.stdout.flush()

    def stream(ids):
        sys.stdout.write(tokenizer.decode(ids[:1]))
        sys.stdout.flush()

    model.generate(prompt[None], args.tokens, temperature=args.temperature,
                   top_k=args.top_k or None, generator=np.random.default_rng(args.seed),
                   use_cache=not args.no_cache, stream=stream)
    sys.stdout.write("\n")
    return 0


def run(args) -> int:
    """Handler of ``hybridgrad sample``."""
    from hybridgrad.training import save_image_grid
    from hybridgrad.training.helpers import open_model, spec_or_error
    from hybridgrad.training.tasks import TASKS, forked_rng

    spec = spec_or_error(args.model)
    if spec.name == "gpt":
        return sample_text(args)
    if spec.name not in GENERATORS:
        raise CommandError(f"{spec.name} is a classifier and draws nothing; sample from one of "
                           f"{', '.join(GENERATORS)} (for example 'hybridgrad sample cgan "
                           f"--label 7'), or classify images with 'hybridgrad predict "
                           f"{spec.name} IMAGE'.")
    conditional = spec.name != "vae"
    if args.label is not None and not conditional:
        raise CommandError("the vae is not conditioned on labels; drop --label, or sample a "
                           "given digit from the cvae or the cgan.")
    if args.label is not None and not 0 <= args.label <= 9:
        raise CommandError(f"--label must be a digit 0-9, got {args.label}.")
    count = args.n if args.n is not None else (16 if args.label is not None or not conditional
                                               else 100)
    if count < 1:
        raise CommandError(f"--n must be positive, got {count}.")
    _, config, model, _ = open_model(spec.name, args.checkpoint)
    task = TASKS[spec.task](spec, config, model)
    if args.label is not None:
        labels = np.full(count, args.label, dtype=np.int64)
        rows = max(1, round(math.sqrt(count)))
    elif conditional:
        per_digit = max(1, count // 10)
        labels = np.repeat(np.arange(10), per_digit)
        rows = 10
    else:
        labels = np.zeros(count, dtype=np.int64)
        rows = max(1, round(math.sqrt(count)))
    with forked_rng(args.seed):
        images = task.sample01(labels)
    save_image_grid(images, args.output, rows=rows)
    what = f"digit {args.label}" if args.label is not None else (
        "one row per digit" if conditional else "unconditioned")
    print(f"wrote {len(images)} samples ({what}) to {args.output}")
    return 0
