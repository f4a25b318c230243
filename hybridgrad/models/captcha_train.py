"""Training, evaluation and prediction for the captcha recognisers (``hybridgrad train captcha``).

Everything is driven by one flat config dict (:data:`DEFAULTS`, :data:`QUICK`), saved in the
checkpoint so ``eval`` and ``predict`` rebuild the same model and preprocessing:

* data: ``charset`` (``"digits_upper"`` (36), ``"alnum"`` (the notes' 62) or literal
  characters), ``length`` (``"4"`` or ``"4-6"``), rendered size ``height x width`` (64 x 160),
  ``downsample`` (2: the model sees 32 x 80, averaged 2x2 blocks), split sizes, ``cache``
  (True: splits drawn once and kept on disk as PNG; False: training captchas drawn on the fly
  every epoch by DataLoader threads, validation and test drawn into memory);
* model: ``model`` (``"crnn"`` or ``"onehot"``), ``channels``, ``hidden``, ``rnn`` (lstm/gru),
  ``wide_pools`` (CRNN: leading conv blocks that halve the width too),
  ``loss`` of the one-hot model (``"ce"`` per-position softmax, ``"bce"`` the notes' sigmoid);
* optimisation: Adam with a one-cycle schedule peaking at ``lr``, ``batch_size``, ``epochs``;
  ``max_minutes`` stops the training early (then evaluates) when the time is up.

Example:
    >>> import tempfile
    >>> result = train({**QUICK, "train_size": 64, "val_size": 16, "test_size": 16,
    ...                 "cache": False}, tempfile.mkdtemp(), log=None)
    >>> result["steps"], 0.0 <= result["test_accuracy"] <= 1.0
    (2, True)
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

import hybridgrad as hg
from hybridgrad.data.captcha_cache import CaptchaSpec, downsample, load_split
from hybridgrad.data.encoding import DIGITS_UPPERCASE, CTCTextCodec
from hybridgrad.models.captcha import (
    ALPHANUMERIC,
    CRNN,
    OneHotCNN,
    PaddedOneHotCodec,
    ctc_batch_loss,
    ctc_decode,
    onehot_decode,
    onehot_loss,
)

CHARSETS = {"digits_upper": DIGITS_UPPERCASE, "alnum": ALPHANUMERIC, "digits": "0123456789"}

#: Settings that change neither the trained weights nor the greedy test figures (a time limit,
#: reporting, where and how captchas are cached): a resumed or reused run may differ in them.
RUN_INDEPENDENT = frozenset({"max_minutes", "beam_width", "cache_dir", "workers"})

#: Settings meant to reach the quality bars on 2 CPU cores (to be measured: docs/results.md).
DEFAULTS = {
    "model": "crnn", "charset": "digits_upper", "length": "4", "height": 64, "width": 160,
    "downsample": 2, "train_size": 100000, "val_size": 500, "test_size": 2000, "cache": True,
    "cache_dir": None, "workers": 2, "epochs": 5, "batch_size": 64, "lr": 3e-3,
    "weight_decay": 0.0, "seed": 0, "channels": [16, 32, 64, 96], "hidden": 96,
    "wide_pools": 2, "rnn": "lstm", "onehot_hidden": 256, "dropout": 0.2, "loss": "ce",
    "beam_width": 1, "max_minutes": None,
}


def with_defaults(config: dict) -> dict:
    """``config`` with the settings it lacks (added after it was saved) at their defaults.

    Example:
        >>> with_defaults({"model": "onehot"})["wide_pools"]
        2
    """
    return {**{key: DEFAULTS[key] for key in DEFAULTS.keys() - config.keys()}, **config}


def config_differences(saved: dict, wanted: dict) -> list[str]:
    """Settings (outside :data:`RUN_INDEPENDENT`) in which two configs differ, compared as
    they are stored (JSON); a setting missing from one (saved before it existed) counts as its
    default, which keeps the behaviour of the code that saved it.

    Example:
        >>> config_differences({"lr": 0.003, "max_minutes": 57}, {"lr": 0.01})
        ['lr']
        >>> config_differences({}, {"wide_pools": 2}), config_differences({}, {"wide_pools": 3})
        ([], ['wide_pools'])
    """
    saved, wanted = (with_defaults(json.loads(json.dumps(c))) for c in (saved, wanted))
    return sorted(key for key in (set(saved) | set(wanted)) - RUN_INDEPENDENT
                  if saved.get(key) != wanted.get(key))


#: ``--quick``: a seconds-long smoke run (small images, tiny model, a few hundred images).
QUICK = {"height": 32, "width": 80, "train_size": 256, "val_size": 32, "test_size": 64,
         "epochs": 1, "batch_size": 32, "channels": [4, 8, 8, 8], "hidden": 16,
         "onehot_hidden": 32}


def resolve_config(overrides: dict | None = None, quick: bool = False) -> dict:
    """DEFAULTS, then QUICK (if asked), then the overrides; validated.

    Example:
        >>> resolve_config({"length": "4-6"})["length"]
        '4-6'
        >>> resolve_config({"model": "rnn"})
        Traceback (most recent call last):
        ...
        ValueError: captcha: model must be 'crnn' or 'onehot', got 'rnn'
    """
    config = dict(DEFAULTS)
    if quick:
        config.update(QUICK)
        if config.get("model") == "onehot" or (overrides or {}).get("model") == "onehot":
            config["channels"] = [4, 8]
    config.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(set(config) - set(DEFAULTS) - {"quick"})
    if unknown:
        raise ValueError(f"captcha: unknown setting(s) {unknown}; the settings are "
                         f"{sorted(DEFAULTS)}")
    if config["model"] not in ("crnn", "onehot"):
        raise ValueError(f"captcha: model must be 'crnn' or 'onehot', got {config['model']!r}")
    if config["loss"] not in ("ce", "bce"):
        raise ValueError(f"captcha: loss must be 'ce' or 'bce', got {config['loss']!r}")
    if config["rnn"] not in ("lstm", "gru"):
        raise ValueError(f"captcha: rnn must be 'lstm' or 'gru', got {config['rnn']!r}")
    config["length"] = "-".join(str(v) for v in sorted(set(CaptchaSpec.parse_length(
        config["length"]))))
    charset(config)
    for key in ("epochs", "batch_size", "train_size", "test_size", "downsample"):
        if int(config[key]) < 1:
            raise ValueError(f"captcha: {key} must be a positive integer, got {config[key]!r}")
    config["channels"] = [int(c) for c in config["channels"]]
    config["quick"] = bool(quick)
    return config


def charset(config: dict) -> str:
    """The characters named by ``config["charset"]`` (a known name or the characters).

    Example:
        >>> len(charset({"charset": "alnum"})), charset({"charset": "XYZ"})
        (62, 'XYZ')
    """
    name = str(config["charset"])
    chars = CHARSETS.get(name, name)
    if len(set(chars)) != len(chars) or not chars:
        raise ValueError(f"captcha: charset {name!r} is empty or repeats characters; use "
                         f"{sorted(CHARSETS)} or a string of distinct characters")
    return chars


def spec_of(config: dict) -> CaptchaSpec:
    """The :class:`CaptchaSpec` (rendering) of a config."""
    return CaptchaSpec(charset=charset(config), length=CaptchaSpec.parse_length(config["length"]),
                       height=int(config["height"]), width=int(config["width"]))


def input_size(config: dict) -> tuple[int, int]:
    """``(height, width)`` the network sees (rendered size / downsample)."""
    factor = int(config["downsample"])
    return int(config["height"]) // factor, int(config["width"]) // factor


def make_codec(config: dict):
    """``CTCTextCodec`` for the CRNN; ``PaddedOneHotCodec`` (padding class only when lengths
    vary, so fixed length 4 is exactly the notes' ``4 * char_set_len`` vector) for one-hot.

    Example:
        >>> make_codec({**DEFAULTS, "model": "onehot"}).size
        144
        >>> make_codec({**DEFAULTS, "model": "onehot", "length": "4-6"}).size
        222
    """
    spec = spec_of(config)
    if config["model"] == "crnn":
        return CTCTextCodec(spec.charset)
    if spec.variable:
        return PaddedOneHotCodec(spec.charset, spec.max_length)
    from hybridgrad.data.encoding import OneHotTextCodec

    return OneHotTextCodec(spec.charset, spec.max_length)


def build_model(config: dict):
    """The network a config describes.

    Example:
        >>> build_model(resolve_config(quick=True)).__class__.__name__
        'CRNN'
    """
    height, width = input_size(config)
    codec = make_codec(config)
    if config["model"] == "crnn":
        return CRNN(codec.num_classes, height=height, width=width, channels=config["channels"],
                    hidden=int(config["hidden"]), rnn=config["rnn"],
                    dropout=float(config["dropout"]),
                    wide_pools=int(config["wide_pools"]))
    return OneHotCNN(codec.max_len, codec.num_classes, height=height, width=width,
                     channels=config["channels"], hidden=int(config["onehot_hidden"]),
                     dropout=float(config["dropout"]))


def prepare(images: np.ndarray, config: dict) -> hg.Tensor:
    """uint8 ``(N, H, W)`` rendered images -> float32 ``(N, 1, h, w)`` in ``[-1, 1]``.

    Example:
        >>> prepare(np.full((1, 64, 160), 255, np.uint8), DEFAULTS).shape
        (1, 1, 32, 80)
    """
    small = downsample(images, int(config["downsample"]))
    return hg.tensor((small / 127.5 - 1.0)[:, None].astype(np.float32))


def loss_of(model, batch: hg.Tensor, texts, codec, config: dict):
    """The training loss of one batch."""
    output = model(batch)
    if config["model"] == "crnn":
        return ctc_batch_loss(output, texts, codec)
    return onehot_loss(output, codec.encode_batch(texts), codec.max_len, config["loss"])


def read(model, batch: hg.Tensor, codec, config: dict, beam_width: int | None = None):
    """``(texts, confidences)`` the model reads from a batch (no gradients, eval mode)."""
    model.eval()
    with hg.no_grad():
        output = model(batch)
    if config["model"] == "crnn":
        width = int(config.get("beam_width", 1) if beam_width is None else beam_width)
        return ctc_decode(output, codec, beam_width=width)
    return onehot_decode(output, codec)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions).

    Example:
        >>> edit_distance("AB12", "A812"), edit_distance("ABC", "ABCD")
        (1, 1)
    """
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (ca != cb))
    return row[-1]


def evaluate(model, images: np.ndarray, texts: list[str], codec, config: dict,
             beam_width: int | None = None, batch_size: int = 256) -> dict:
    """Whole-string accuracy, character accuracy (1 - edits / length), accuracy per length,
    and every read as ``(truth, read, confidence)``.

    Example:
        >>> config = resolve_config(quick=True)
        >>> hg.manual_seed(0)
        >>> model, codec = build_model(config), make_codec(config)
        >>> images = np.zeros((2, 32, 80), np.uint8)
        >>> result = evaluate(model, images, ["ABCD", "WXYZ"], codec, config)
        >>> result["accuracy"], len(result["reads"])
        (0.0, 2)
    """
    reads, confidences = [], []
    for start in range(0, len(images), batch_size):
        batch = prepare(images[start:start + batch_size], config)
        got, confidence = read(model, batch, codec, config, beam_width)
        reads += got
        confidences += [float(c) for c in confidence]
    right = [truth == got for truth, got in zip(texts, reads)]
    edits = sum(edit_distance(truth, got) for truth, got in zip(texts, reads))
    by_length: dict = {}
    for truth, ok in zip(texts, right):
        by_length.setdefault(len(truth), []).append(ok)
    return {
        "accuracy": float(np.mean(right)) if right else 0.0,
        "char_accuracy": 1.0 - edits / max(sum(len(t) for t in texts), 1),
        "accuracy_by_length": {str(k): float(np.mean(v)) for k, v in sorted(by_length.items())},
        "reads": [(truth, got, conf) for truth, got, conf in zip(texts, reads, confidences)],
    }


def confusions(reads, top: int = 10) -> dict:
    """What the wrong reads got wrong: ``substitutions`` (``[truth char, read char, count]``,
    most frequent first, from reads of the right length, compared position by position),
    ``wrong_length`` (reads with a missing or extra character) and ``wrong``.

    Example:
        >>> confusions([("O0AB", "00AB", 1.0), ("XY0", "XYO", 1.0), ("6UUR", "6UR", 1.0),
        ...             ("ABCD", "ABCD", 1.0)])
        {'wrong': 3, 'wrong_length': 1, 'substitutions': [['0', 'O', 1], ['O', '0', 1]]}
    """
    counts: dict = {}
    wrong = wrong_length = 0
    for truth, got, _ in reads:
        if truth == got:
            continue
        wrong += 1
        if len(truth) != len(got):
            wrong_length += 1
            continue
        for expected, read in zip(truth, got):
            if expected != read:
                counts[(expected, read)] = counts.get((expected, read), 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return {"wrong": wrong, "wrong_length": wrong_length,
            "substitutions": [[a, b, n] for (a, b), n in ranked]}


def examples(reads, count: int = 8) -> dict:
    """The first ``count`` right and wrong reads, as dicts with the test index.

    Example:
        >>> examples([("AB", "AB", 0.9), ("CD", "CB", 0.4)])["wrong"]
        [{'index': 1, 'truth': 'CD', 'read': 'CB', 'confidence': 0.4}]
    """
    found: dict = {"right": [], "wrong": []}
    for index, (truth, got, confidence) in enumerate(reads):
        kind = "right" if truth == got else "wrong"
        if len(found[kind]) < count:
            found[kind].append({"index": index, "truth": truth, "read": got,
                                "confidence": round(float(confidence), 4)})
    return found


def save_checkpoint(model, config: dict, path: str, extra: dict | None = None) -> None:
    """Atomic safetensors checkpoint: weights + the config as JSON."""
    hg.save({"model": model.state_dict(), "kind": "captcha", "config": json.dumps(config),
             **(extra or {})}, path)


def load_checkpoint(path: str):
    """``(model, codec, config)`` from a checkpoint written by :func:`train`.

    Example:
        >>> import tempfile
        >>> config = resolve_config(quick=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_checkpoint(build_model(config), config, path)
        >>> load_checkpoint(path)[2]["model"]
        'crnn'
    """
    state = _read_checkpoint(path)
    config = with_defaults(json.loads(state["config"]))
    model = build_model(config)
    model.load_state_dict(state["model"])
    model.eval()
    return model, make_codec(config), config


def _restore(path: str, config: dict, model, optimizer, scheduler, metrics_path: str):
    """Load an interrupted run's state; ``(epochs done, steps done, seconds trained)``."""
    state = _read_checkpoint(path)
    saved = json.loads(state["config"])
    differing = config_differences(saved, config)
    if differing:
        raise ValueError(f"captcha: cannot resume {path}: its settings differ in {differing} "
                         f"(resume with the checkpoint's own settings)")
    if "progress" not in state:
        raise ValueError(f"captcha: {path} holds weights only (no optimizer state); it cannot "
                         f"be resumed")
    progress = json.loads(state["progress"])
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    hg.default_generator().bit_generator.state = progress["rng"]
    kept = []
    if os.path.exists(metrics_path):
        with open(metrics_path) as handle:
            kept = [line for line in handle
                    if line.strip() and json.loads(line)["epoch"] <= progress["epoch"]]
    with open(metrics_path, "w") as handle:
        handle.writelines(kept)
    return int(progress["epoch"]), int(progress["step"]), float(progress["seconds"])


def _splits(config: dict, log):
    spec = spec_of(config)
    options = dict(seed=int(config["seed"]), cache_dir=config.get("cache_dir"),
                   workers=int(config["workers"]), use_cache=bool(config["cache"]))
    data = {}
    for split, key in (("train", "train_size"), ("val", "val_size"), ("test", "test_size")):
        size = int(config[key])
        if split == "train" and not config["cache"]:
            data[split] = None  # drawn on the fly by DataLoader threads, see _batches
            continue
        started = time.time()
        data[split] = load_split(spec, split, size, **options) if size else (
            np.zeros((0, spec.height, spec.width), np.uint8), [])
        if log and time.time() - started > 1:
            log(f"  {split}: {size} captchas ready in {time.time() - started:.1f} s")
    return data


def _batches(config: dict, data, epoch: int, steps: int):
    """``(uint8 images, texts)`` batches of one epoch: from the cached array, or (``cache``
    off) drawn by a DataLoader whose ``workers`` threads render the captchas; the order is a
    permutation seeded by ``(seed, epoch)`` either way."""
    batch_size, seed = int(config["batch_size"]), int(config["seed"])
    if data is not None:
        images, texts = data
        order = np.random.default_rng([seed, epoch]).permutation(len(images))
        for step in range(steps):
            chosen = order[step * batch_size:(step + 1) * batch_size]
            yield images[chosen], [texts[i] for i in chosen]
        return
    from hybridgrad.data import DataLoader

    dataset = spec_of(config).dataset("train", int(config["train_size"]), seed)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True,
                        drop_last=len(dataset) >= batch_size,
                        num_workers=int(config["workers"]), generator=seed)
    loader.set_epoch(epoch)
    for step, (images, texts) in enumerate(loader):
        if step >= steps:
            break
        yield np.asarray(getattr(images, "_array", images)), list(texts)


def resume_config(path: str) -> dict:
    """The config a checkpoint was trained with (what ``--resume`` continues).

    Example:
        >>> import tempfile
        >>> config = resolve_config(quick=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_checkpoint(build_model(config), config, path)
        >>> resume_config(path)["model"]
        'crnn'
    """
    return with_defaults(json.loads(_read_checkpoint(path)["config"]))


def _read_checkpoint(path: str) -> dict:
    state = hg.load(path)
    if not isinstance(state, dict) or state.get("kind") != "captcha":
        raise ValueError(f"{path} is not a captcha checkpoint (written by 'hybridgrad train "
                         f"captcha')")
    return state


def train(config: dict, out_dir: str, log=print, progress: bool = False,
          resume: str | None = None) -> dict:
    """Train the model a (resolved) config describes; write ``checkpoint.safetensors``,
    ``metrics.jsonl`` and ``result.json`` into ``out_dir``; return the result: test accuracy
    (greedy decoding; for the CRNN also prefix beam search when ``beam_width`` > 1),
    character accuracy, accuracy per length, timings and example reads.

    ``resume``: a checkpoint of an interrupted run (saved after every epoch with the optimizer,
    schedule and random state); training continues after its last finished epoch and ends with
    the weights an uninterrupted run would have (``config`` must be the checkpoint's, see
    :func:`resume_config`).
    """
    config = resolve_config({k: v for k, v in config.items() if k != "quick"},
                            quick=bool(config.get("quick", False)))
    os.makedirs(out_dir, exist_ok=True)
    hg.manual_seed(int(config["seed"]))
    data = _splits(config, log)
    codec = make_codec(config)
    model = build_model(config)
    optimizer = hg.optim.Adam(model.parameters(), lr=float(config["lr"]),
                              weight_decay=float(config["weight_decay"]))
    batch_size = int(config["batch_size"])
    steps_per_epoch = max(int(config["train_size"]) // batch_size, 1)
    total = steps_per_epoch * int(config["epochs"])
    scheduler = hg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=float(config["lr"]),
                                                 total_steps=max(total, 2))
    checkpoint = os.path.join(out_dir, "checkpoint.safetensors")
    metrics_path = os.path.join(out_dir, "metrics.jsonl")
    first_epoch, step, seconds_before = 0, 0, 0.0
    if resume is None:
        open(metrics_path, "w").close()
    else:
        first_epoch, step, seconds_before = _restore(resume, config, model, optimizer,
                                                     scheduler, metrics_path)
    started = time.time() - seconds_before
    limit = None if config["max_minutes"] is None else 60.0 * float(config["max_minutes"])
    if log:
        parameters = sum(p._array.size for p in model.parameters())
        log(f"captcha {config['model']}: length {config['length']}, input "
            f"{'x'.join(map(str, input_size(config)))}, {parameters} parameters, {total} steps "
            f"of {batch_size}" + (f"; resumed after epoch {first_epoch}" if resume else ""))
    for epoch in range(first_epoch, int(config["epochs"])):
        losses = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}", leave=False)
        for images, texts in _batches(config, data["train"], epoch, steps_per_epoch):
            model.train()
            loss = loss_of(model, prepare(images, config), texts, codec, config)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.item()))
            step += 1
            if limit is not None and time.time() - started > limit:
                break
            if log and bar is None and step % 100 == 0:
                log(f"  step {step}/{total}: loss {np.mean(losses[-100:]):.4f}, "
                    f"{time.time() - started:.0f} s")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if bar is not None:
            bar.close()
        record = {"epoch": epoch + 1, "step": step, "train_loss": float(np.mean(losses)),
                  "seconds": round(time.time() - started, 1)}
        stopped = limit is not None and time.time() - started > limit
        if stopped:
            record["stopped_early"] = True
        if len(data["val"][0]):
            val = evaluate(model, *data["val"], codec, config, beam_width=1)
            record.update(val_accuracy=val["accuracy"], val_char_accuracy=val["char_accuracy"])
        with open(metrics_path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        save_checkpoint(model, config, checkpoint, {
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "progress": json.dumps({"epoch": epoch + 1, "step": step,
                                    "seconds": time.time() - started,
                                    "rng": hg.default_generator().bit_generator.state})})
        if log:
            log("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) and k != "seconds"
                                 else f"{k} {v}" for k, v in record.items()))
        if stopped:
            break
    train_seconds = time.time() - started
    test = evaluate(model, *data["test"], codec, config, beam_width=1)
    result = {"config": config, "checkpoint": checkpoint, "train_seconds": round(train_seconds, 1),
              "steps": step, "planned_steps": total, "test_size": len(data["test"][1]),
              "test_accuracy": test["accuracy"], "test_char_accuracy": test["char_accuracy"],
              "accuracy_by_length": test["accuracy_by_length"]}
    if config["model"] == "crnn" and int(config["beam_width"]) > 1:
        beam = evaluate(model, *data["test"], codec, config, beam_width=int(config["beam_width"]))
        result["test_accuracy_beam"] = beam["accuracy"]
    result["examples"] = examples(test["reads"])
    with open(os.path.join(out_dir, "result.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    if log:
        log(f"test: whole-string accuracy {test['accuracy']:.4f} on {len(data['test'][1])} "
            f"captchas (characters {test['char_accuracy']:.4f}), {train_seconds:.0f} s of "
            f"training"
            + (f"; prefix beam search (width {config['beam_width']}) "
               f"{result['test_accuracy_beam']:.4f}" if "test_accuracy_beam" in result else ""))
    return result


def export_onnx(checkpoint: str, path: str, verify: bool = True) -> dict:
    """Write a captcha checkpoint's network as ONNX (``images`` ``(N, 1, h, w)`` in [-1, 1] ->
    CRNN log-probabilities ``(T, N, C)`` or one-hot scores ``(N, max_len * K)``, batch size
    dynamic) and, with ``verify``, check onnxruntime's output against the eager model.

    Returns ``{"path", "model", "input_shape", "max_abs_difference"}``; decode the outputs with
    :func:`hybridgrad.models.captcha.ctc_decode` / ``onehot_decode`` and the config's charset.
    """
    model, _, config = load_checkpoint(checkpoint)
    height, width = input_size(config)
    generator = np.random.default_rng(0)
    example = hg.tensor(generator.uniform(-1, 1, (2, 1, height, width)).astype(np.float32))
    batch_axis = 1 if config["model"] == "crnn" else 0
    hg.onnx.export(model, example, path, input_names=["images"], output_names=["scores"],
                   dynamic_axes={"images": [0], "scores": [batch_axis]})
    difference = None
    if verify:
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        probe = generator.uniform(-1, 1, (3, 1, height, width)).astype(np.float32)
        (got,) = session.run(None, {"images": probe})
        with hg.no_grad():
            expected = model(hg.tensor(probe))._array
        difference = float(np.abs(got - expected).max())
        if not difference < 1e-3:
            raise RuntimeError(f"export_onnx: onnxruntime differs from the eager model by "
                               f"{difference}")
    return {"path": path, "model": config["model"], "input_shape": [None, 1, height, width],
            "max_abs_difference": difference}


def read_image(path: str, config: dict) -> np.ndarray:
    """An image file as the rendered-size uint8 grayscale array the model expects."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if grey.size != (int(config["width"]), int(config["height"])):
                grey = grey.resize((int(config["width"]), int(config["height"])),
                                   Image.Resampling.BILINEAR)
            return np.asarray(grey, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such image: {path}") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image Pillow can read") from None


__all__ = ["CHARSETS", "DEFAULTS", "QUICK", "build_model", "charset", "edit_distance",
           "evaluate", "examples", "export_onnx", "input_size", "load_checkpoint", "loss_of",
           "make_codec", "prepare", "read", "read_image", "resolve_config", "save_checkpoint",
           "spec_of", "train"]
