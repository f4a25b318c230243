"""Would several CRNNs together reach the fixed-length bar? Average trained CRNN checkpoints.

Every single captcha model of issue 7 lands at 94-96% whole-string accuracy on length 4, most of
its errors ``O`` against ``0`` (docs/results.md). This experiment asks how far more compute of
the same kind goes: it reads the held-out test captchas with each checkpoint, averages the
models' per-frame probabilities (all must share the charset, the captcha spec and the number of
time steps; the input resolution may differ) and decodes the average greedily, as the CLI does.
Its cost is the training of every member, so it measures what N times the budget buys.

    python tools/captcha_ensemble.py runs/a/checkpoint.safetensors runs/b/checkpoint.safetensors

Example (two copies of one untrained model read as that model does):
    >>> import os, tempfile
    >>> from hybridgrad.training.captcha import build_model, resolve_config, save_weights
    >>> config = resolve_config(quick=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
    >>> save_weights(build_model(config), config, path)
    >>> result = run([path, path], count=8, cache_dir=tempfile.mkdtemp(), log=None)
    >>> result["ensemble"]["accuracy"] == result["members"][0]["accuracy"]
    True
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import hybridgrad as hg
from hybridgrad.data.captcha_cache import load_split
from hybridgrad.models.captcha import ctc_decode
from hybridgrad.training.captcha import (
    confusions,
    edit_distance,
    load_checkpoint,
    prepare,
    spec_of,
)


def frame_log_probs(model, images: np.ndarray, config: dict, batch_size: int = 250) -> np.ndarray:
    """``(T, N, C)`` log-probabilities of a CRNN for uint8 ``(N, H, W)`` captchas."""
    model.eval()
    parts = []
    with hg.no_grad():
        for start in range(0, len(images), batch_size):
            parts.append(model(prepare(images[start:start + batch_size], config))._array)
    return np.concatenate(parts, axis=1)


def average_log_probs(members: list[np.ndarray]) -> np.ndarray:
    """Log of the mean of the members' per-frame probabilities (a mixture, frame by frame).

    Example:
        >>> one = np.log(np.array([[[0.8, 0.2]]])); two = np.log(np.array([[[0.4, 0.6]]]))
        >>> np.exp(average_log_probs([one, two])).round(2).tolist()
        [[[0.6, 0.4]]]
    """
    stacked = np.stack([np.asarray(m, dtype=np.float64) for m in members])
    top = stacked.max(axis=0)
    return (top + np.log(np.exp(stacked - top).mean(axis=0))).astype(np.float32)


def _check_compatible(configs: list[dict], paths: list[str]) -> None:
    first = configs[0]
    for config, path in zip(configs, paths):
        if config["model"] != "crnn":
            raise ValueError(f"captcha_ensemble: {path} is a {config['model']!r} model; only "
                             f"CRNN checkpoints (per-frame CTC outputs) can be averaged")
        if spec_of(config) != spec_of(first):   # (charset, lengths, picture size)
            raise ValueError(f"captcha_ensemble: {path} was trained on other captchas "
                             f"({spec_of(config)}) than {paths[0]} ({spec_of(first)})")


def _check_frames(shapes: list[tuple], paths: list[str]) -> None:
    for shape, path in zip(shapes, paths):
        if shape[0] != shapes[0][0]:
            raise ValueError(f"captcha_ensemble: {path} reads {shape[0]} time steps and "
                             f"{paths[0]} {shapes[0][0]}; frames can only be averaged when the "
                             f"models share them")


def _score(texts: list[str], reads: list[str]) -> dict:
    edits = sum(edit_distance(truth, got) for truth, got in zip(texts, reads))
    return {"accuracy": float(np.mean([t == r for t, r in zip(texts, reads)])),
            "char_accuracy": 1.0 - edits / max(sum(len(t) for t in texts), 1),
            "confusions": confusions([(t, r, 1.0) for t, r in zip(texts, reads)], top=5)}


def run(checkpoints: list[str], count: int = 2000, cache_dir: str | None = None,
        log=print) -> dict:
    """Accuracy of every member and of their average on the first ``count`` test captchas
    (read from, or rendered into, ``cache_dir``: by default the first checkpoint's, as the CLI's
    ``eval`` does)."""
    if not checkpoints:
        raise ValueError("captcha_ensemble: give at least one checkpoint")
    loaded = [load_checkpoint(path) for path in checkpoints]
    configs = [config for _, _, config in loaded]
    _check_compatible(configs, list(checkpoints))
    images, texts = load_split(spec_of(configs[0]), "test", count, seed=0,
                               cache_dir=cache_dir or configs[0].get("cache_dir"))
    outputs = [frame_log_probs(model, images, config) for model, _, config in loaded]
    _check_frames([o.shape for o in outputs], list(checkpoints))
    codec = loaded[0][1]
    result: dict = {"test": len(texts), "members": []}
    for path, output in zip(checkpoints, outputs):
        reads, _ = ctc_decode(output, codec)
        result["members"].append({"checkpoint": path, **_score(texts, reads)})
        if log:
            log(f"{path}: {result['members'][-1]['accuracy']:.2%}")
    reads, _ = ctc_decode(average_log_probs(outputs), codec)
    result["ensemble"] = _score(texts, reads)
    if log:
        log(json.dumps(result["ensemble"]))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="CRNN checkpoint.safetensors files")
    parser.add_argument("--count", type=int, default=2000, help="test captchas to read")
    args = parser.parse_args(argv)
    run(args.checkpoints, args.count)


if __name__ == "__main__":
    main()
