"""``hybridgrad predict MODEL IMAGE...``: classify image files with a trained classifier.

Images are read with Pillow, turned grey, resized to 28x28 and, when they are dark digits on a
light background (mean above one half), inverted to MNIST's white-on-black.

Examples::

    hybridgrad predict cnn digit.png
    hybridgrad predict vit a.png b.png --top 3

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(); register(parser.add_subparsers())
    >>> parser.parse_args(["predict", "cnn", "a.png", "b.png"]).images
    ['a.png', 'b.png']
"""

from __future__ import annotations

import os

import numpy as np

from hybridgrad.cli import CommandError

CLASSIFIERS = ("mlp", "cnn", "vit")


def register(subparsers) -> None:
    """Add the ``predict`` sub-command."""
    parser = subparsers.add_parser(
        "predict", help="classify digit images with a trained mlp, cnn or vit",
        description="Classify digit image files (PNG, JPEG, ...) with a trained classifier.")
    parser.add_argument("model", help="mlp, cnn or vit")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="checkpoint (default runs/MODEL/checkpoint.safetensors)")
    parser.add_argument("--top", type=int, default=1, help="show the K most likely digits")
    parser.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                        help="invert to white-on-black (default: when the image is light)")
    from hybridgrad.commands import own_commands

    for module in own_commands():  # models with their own options (captcha)
        module.add_predict_options(parser)
    parser.set_defaults(handler=run)


def read_digit(path: str, invert: str = "auto") -> np.ndarray:
    """An image file as a ``[1, 28, 28]`` float32 array in [0, 1], white digit on black.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> path = os.path.join(tempfile.mkdtemp(), "white.png")
        >>> Image.new("L", (56, 56), 255).save(path)
        >>> float(read_digit(path).max())  # a white page becomes black
        0.0
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L").resize((28, 28), Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise CommandError(f"{path} does not exist.") from None
    except (UnidentifiedImageError, OSError) as error:
        raise CommandError(f"{path} is not an image Pillow can read ({error}); pass PNG or "
                           f"JPEG files of single digits.") from None
    pixels = np.asarray(grey, dtype=np.float32) / 255.0
    if invert == "yes" or (invert == "auto" and pixels.mean() > 0.5):
        pixels = 1.0 - pixels
    return pixels[None]


def run(args) -> int:
    """Handler of ``hybridgrad predict``."""
    from hybridgrad.commands import own_commands

    for module in own_commands(args.model):  # a model with its own data and options
        return module.predict_command(args)
    import hybridgrad as hg
    from hybridgrad.training.helpers import open_model, spec_or_error
    from hybridgrad.training.tasks import TASKS

    spec = spec_or_error(args.model)
    if spec.name not in CLASSIFIERS:
        raise CommandError(f"{spec.name} is not a classifier; predict with one of "
                           f"{', '.join(CLASSIFIERS)} (for example 'hybridgrad predict cnn "
                           f"digit.png'), or draw digits with 'hybridgrad sample {spec.name}'.")
    if not 1 <= args.top <= 10:
        raise CommandError(f"--top must be between 1 and 10, got {args.top}.")
    missing = [path for path in args.images if not os.path.exists(path)]
    if missing:
        raise CommandError(f"no such image file(s): {', '.join(missing)}.")
    images = np.stack([read_digit(path, args.invert) for path in args.images])
    _, config, model, _ = open_model(spec.name, args.checkpoint)
    task = TASKS[spec.task](spec, config, model)
    model.eval()
    with hg.no_grad():
        probabilities = np.asarray(hg.softmax(model(task.prepare(images)), 1)._array)
    for path, row in zip(args.images, probabilities):
        best = np.argsort(-row)[:args.top]
        print(f"{path}: " + ", ".join(f"{digit} ({row[digit]:.1%})" for digit in best))
    return 0
