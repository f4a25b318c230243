"""Lab experiment ``ctc``: fixed-length one-hot vs CRNN + CTC on variable-length captchas.

The notes (one-hot section, then the CRNN section)::

    思考：如果是不定长编码，该如何改进?
    CRNN + CTC 解决变长文本识别

"Think: if the code has variable length, how should it be improved? CRNN + CTC solves
variable-length text recognition."

The notes' one-hot encoding of a captcha is ``max_captcha * char_set_len`` slots; with text of
4 to 6 characters the network must also say *where the text ends*, which the one-hot CNN can
only do through an extra padding class per position (:class:`PaddedOneHotCodec`). The CRNN reads
the image column by column and CTC sums over every alignment of the text to the columns, so no
length is fixed in advance. Both models are trained here on the same captchas (lengths 4-6,
digits + upper-case letters) with the same budget (epochs, batch size, one-cycle Adam) and
measured on the same held-out captchas: whole-string accuracy, overall and per length, and
examples of right and wrong reads.

Example:
    >>> import tempfile
    >>> result = run(tempfile.mkdtemp(), quick=True, sizes=(64, 16, 16))
    >>> sorted(result.numbers)[:2], len(result.images)
    (['budget', 'crnn_ctc_accuracy'], 1)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hybridgrad.lab import Result

CLAIM_ZH = "思考：如果是不定长编码，该如何改进?（笔记的回答：）CRNN + CTC 解决变长文本识别"
CLAIM_EN = ("Thinking: if the code has variable length, how should it be improved? (The notes' "
            "answer:) CRNN + CTC solves variable-length text recognition.")

#: The shared budget; ``model``-specific sizes come from the captcha defaults.
BUDGET = {"length": "4-6", "epochs": 5, "train_size": 100000, "val_size": 500,
          "test_size": 2000, "batch_size": 64, "lr": 3e-3}
QUICK_BUDGET = {"length": "4-6", "epochs": 1, "train_size": 256, "val_size": 0,
                "test_size": 64, "batch_size": 32, "lr": 3e-3, "channels": [8, 16, 16, 16],
                "hidden": 32, "onehot_hidden": 64}


def _picture(out_dir: str, config: dict, results: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hybridgrad.data.captcha_cache import load_split
    from hybridgrad.training.captcha import spec_of

    images, _ = load_split(spec_of(config), "test", int(config["test_size"]),
                           seed=int(config.get("seed", 0)), cache_dir=config.get("cache_dir"),
                           use_cache=bool(config.get("cache", True)))
    columns = 4
    figure, axes = plt.subplots(4, columns, figsize=(2.4 * columns, 5.2))
    for row, (name, kind) in enumerate([(m, k) for m in ("crnn", "onehot")
                                        for k in ("right", "wrong")]):
        chosen = results[name]["examples"][kind][:columns]
        for column in range(columns):
            axis = axes[row][column]
            axis.axis("off")
            if column < len(chosen):
                example = chosen[column]
                axis.imshow(images[example["index"]], cmap="gray")
                axis.set_title(f"{example['truth']} -> {example['read'] or '(empty)'}",
                               fontsize=8, color="green" if kind == "right" else "red")
        label = "CRNN+CTC" if name == "crnn" else "one-hot CNN"
        axes[row][0].text(-0.1, 0.5, f"{label}\n{kind}", transform=axes[row][0].transAxes,
                          ha="right", va="center", fontsize=8)
    crnn, onehot = results["crnn"]["test_accuracy"], results["onehot"]["test_accuracy"]
    figure.suptitle(f"lengths {config['length']}: CRNN+CTC {crnn:.1%} vs one-hot (padding "
                    f"class) {onehot:.1%} whole-string accuracy", fontsize=9)
    figure.tight_layout()
    path = os.path.join(out_dir, "ctc_reads.png")
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def finished_run(config: dict, run_dir: str) -> dict | None:
    """The ``result.json`` of a finished training in ``run_dir`` whose config is ``config``
    (an hour of training is not repeated when the lab is run again), else None.

    Example:
        >>> import tempfile
        >>> finished_run({"model": "crnn"}, tempfile.mkdtemp()) is None
        True
    """
    path = os.path.join(run_dir, "result.json")
    if not os.path.exists(path) or not os.path.exists(os.path.join(run_dir,
                                                                   "checkpoint.safetensors")):
        return None
    with open(path) as handle:
        result = json.load(handle)
    from hybridgrad.training.captcha import config_differences

    if config_differences(result.get("config", {}), config):
        return None
    if result.get("steps") != result.get("planned_steps"):  # stopped early: not the budget
        return None
    return result


def run(out_dir, quick: bool = False, seed: int = 0, sizes: tuple | None = None) -> Result:
    """Train both models with one budget on captchas of 4-6 characters; compare.

    ``sizes`` = (train, val, test) overrides the split sizes (tests use it).
    """
    from hybridgrad.training.captcha import resolve_config, train

    out_dir = str(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    budget = dict(QUICK_BUDGET if quick else BUDGET, seed=seed)
    if sizes is not None:
        budget.update(train_size=sizes[0], val_size=sizes[1], test_size=sizes[2])
    if quick:
        budget.update(cache=False)
    results = {}
    for name in ("crnn", "onehot"):
        config = resolve_config({**budget, "model": name})
        results[name] = (finished_run(config, os.path.join(out_dir, name))
                         or train(config, os.path.join(out_dir, name), log=None))
    crnn, onehot = results["crnn"]["test_accuracy"], results["onehot"]["test_accuracy"]
    numbers = {
        "crnn_ctc_accuracy": crnn, "onehot_accuracy": onehot,
        "crnn_ctc_accuracy_by_length": results["crnn"]["accuracy_by_length"],
        "onehot_accuracy_by_length": results["onehot"]["accuracy_by_length"],
        "crnn_ctc_char_accuracy": results["crnn"]["test_char_accuracy"],
        "onehot_char_accuracy": results["onehot"]["test_char_accuracy"],
        "train_seconds": {n: r["train_seconds"] for n, r in results.items()},
        "test_size": results["crnn"]["test_size"],
        "budget": {k: v for k, v in budget.items() if k in BUDGET},
        "examples": {n: r["examples"] for n, r in results.items()},
    }
    images = [_picture(out_dir, results["crnn"]["config"], results)]
    figures = (f"CRNN + CTC {crnn:.1%}, one-hot CNN with a padding class {onehot:.1%} "
               f"whole-string accuracy on {numbers['test_size']} held-out captchas of 4-6 "
               f"characters, same budget")
    if max(crnn, onehot) < 0.2:
        verdict, supported = (f"partly supported: inconclusive, both models are still near "
                              f"zero ({figures}); the budget is too small to compare them"), None
    elif crnn > onehot + 0.02:
        verdict, supported = f"supported in this run: {figures}", True
    elif onehot >= crnn:
        verdict, supported = f"not supported: {figures}", False
    else:
        verdict, supported = f"partly supported: the two are close ({figures})", None
    return Result(verdict, supported, numbers, [Path(image) for image in images])


__all__ = ["BUDGET", "CLAIM_EN", "CLAIM_ZH", "QUICK_BUDGET", "finished_run", "run"]

