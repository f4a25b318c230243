"""The captcha recipe (``hybridgrad train captcha``): settings, rendered data, evaluation and
checkpoints of the captcha readers, trained by the same :class:`hybridgrad.training.Trainer` as
every other model (the task is :class:`hybridgrad.training.tasks.CaptchaTask`).

Everything is driven by one flat config dict (:data:`DEFAULTS`, :data:`QUICK`), saved in the
checkpoint (as the ``model`` settings of the registry entry ``captcha``) so ``eval`` and
``predict`` rebuild the same model and preprocessing:

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

Checkpoints are the trainer's (``training/checkpoint.py``); those written by the earlier
captcha trainer (``"kind": "captcha"``) are converted when read (:func:`read_checkpoint`).

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
from hybridgrad.models import get_spec
from hybridgrad.models.captcha import (
    CHARSETS,
    build_model,
    charset,
    ctc_batch_loss,
    ctc_decode,
    input_size,
    make_codec,
    onehot_decode,
    onehot_loss,
)
from hybridgrad.training.checkpoint import CheckpointError
from hybridgrad.training.checkpoint import load_checkpoint as load_training_checkpoint
from hybridgrad.training.checkpoint import save_checkpoint as save_training_checkpoint

#: The registry entry (``hybridgrad.models.REGISTRY["captcha"]``).
SPEC = get_spec("captcha")

#: Settings that change neither the trained weights nor the greedy test figures (a time limit,
#: reporting, where and how captchas are cached): a resumed or reused run may differ in them.
RUN_INDEPENDENT = frozenset({"max_minutes", "beam_width", "cache_dir", "workers"})

#: Settings meant to reach the quality bars on 2 CPU cores (measured: docs/results.md): the
#: registry entry's network and optimisation, and the data settings.
DEFAULTS = {
    **SPEC.config["model"], "train_size": 100000, "val_size": 500, "test_size": 2000,
    "cache": True, "cache_dir": None, "workers": 2, "epochs": SPEC.config["epochs"],
    "batch_size": SPEC.config["batch_size"], "lr": SPEC.config["lr"],
    "weight_decay": SPEC.config["weight_decay"], "seed": 0, "loss": "ce", "beam_width": 1,
    "max_minutes": None,
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
QUICK = {**SPEC.quick["model"], "train_size": 256, "val_size": 32, "test_size": 64,
         "epochs": SPEC.quick["epochs"], "batch_size": SPEC.quick["batch_size"]}


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


def spec_of(config: dict) -> CaptchaSpec:
    """The :class:`CaptchaSpec` (rendering) of a config."""
    return CaptchaSpec(charset=charset(config), length=CaptchaSpec.parse_length(config["length"]),
                       height=int(config["height"]), width=int(config["width"]))


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


def trainer_config(config: dict) -> dict:
    """The :class:`hybridgrad.training.Trainer` config of a resolved captcha config: the
    settings the trainer reads itself, and the whole captcha config as the registry entry's
    ``model`` settings (what the network, the data and the task are built from).

    Example:
        >>> trainer_config(resolve_config(quick=True))["model"]["model"]
        'crnn'
    """
    return {"seed": int(config["seed"]), "epochs": int(config["epochs"]),
            "batch_size": int(config["batch_size"]), "lr": float(config["lr"]),
            "model": dict(config)}


def steps_per_epoch(config: dict) -> int:
    """Optimizer steps in one epoch (``train_size // batch_size``, at least 1).

    Example:
        >>> steps_per_epoch({"train_size": 100, "batch_size": 32})
        3
    """
    return max(int(config["train_size"]) // int(config["batch_size"]), 1)


def _split(config: dict, split: str, log=None):
    """``(uint8 images, texts)`` of the ``val`` or ``test`` split, or (``train`` with
    ``cache`` off) None: the training captchas are then drawn on the fly (:func:`_batches`)."""
    spec = spec_of(config)
    size = int(config[f"{split}_size"])
    if split == "train" and not config["cache"]:
        return None
    if not size:
        return np.zeros((0, spec.height, spec.width), np.uint8), []
    started = time.time()
    data = load_split(spec, split, size, seed=int(config["seed"]),
                      cache_dir=config.get("cache_dir"), workers=int(config["workers"]),
                      use_cache=bool(config["cache"]))
    if log and time.time() - started > 1:
        log(f"  {split}: {size} captchas ready in {time.time() - started:.1f} s")
    return data


def _batches(config: dict, data, epoch: int, steps: int, start: int = 0):
    """``(uint8 images, texts)`` batches ``start..steps-1`` of one epoch: from the cached
    array, or (``cache`` off) drawn by a DataLoader whose ``workers`` threads render the
    captchas; the order is a permutation seeded by ``(seed, epoch)`` either way."""
    batch_size, seed = int(config["batch_size"]), int(config["seed"])
    if data is not None:
        images, texts = data
        order = np.random.default_rng([seed, epoch]).permutation(len(images))
        for step in range(start, steps):
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
        if step >= start:
            yield np.asarray(getattr(images, "_array", images)), list(texts)


class CaptchaBatches:
    """The training captchas, epoch after epoch, with the trainer's loader protocol: ``len``
    (steps per epoch), one epoch per iteration, and ``state_dict``/``load_state_dict`` (epoch
    and position), so that a resumed run continues with the very batches it would have had.

    Example:
        >>> config = resolve_config({"train_size": 4, "batch_size": 2, "height": 32,
        ...                          "width": 64, "cache": False, "workers": 1})
        >>> batches = CaptchaBatches(config, None)
        >>> [len(texts) for _, texts in batches], batches.state_dict()
        ([2, 2], {'epoch': 1, 'position': 0})
    """

    def __init__(self, config: dict, data):
        self.config, self.data = config, data
        self.epoch = self.position = 0

    def __len__(self) -> int:
        return steps_per_epoch(self.config)

    def __iter__(self):
        for batch in _batches(self.config, self.data, self.epoch, len(self), self.position):
            self.position += 1
            yield batch
        self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def loaders(config: dict):
    """The trainer's data for a captcha run (:meth:`CaptchaTask.loaders`): the training
    batches and the validation split ``(images, texts)`` checked after every epoch.

    Example:
        >>> config = resolve_config({"train_size": 4, "val_size": 2, "batch_size": 2,
        ...                          "height": 32, "width": 64, "cache": False, "workers": 1})
        >>> batches, (images, texts) = loaders(config)
        >>> len(batches), images.shape, len(texts)
        (2, (2, 32, 64), 2)
    """
    return CaptchaBatches(config, _split(config, "train")), _split(config, "val")


# ----------------------------------------------------------------------------------------------
# Checkpoints: the trainer's format; the earlier captcha trainer's is converted when read.


def save_weights(model, config: dict, path: str) -> None:
    """A checkpoint holding the weights and the config only (no optimizer state: it loads for
    eval/predict/export but cannot be resumed).

    Example:
        >>> import tempfile
        >>> config = resolve_config(quick=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_weights(build_model(config), config, path)
        >>> load_checkpoint(path)[2]["model"]
        'crnn'
    """
    save_training_checkpoint({"model": SPEC.name, "config": json.dumps(trainer_config(config)),
                              "model_state": dict(model.state_dict())}, path)


def convert_legacy(state: dict) -> dict:
    """A checkpoint of the earlier captcha trainer (``"kind": "captcha"``: weights under
    ``model``, the flat config, and with a finished epoch also ``optimizer``, ``scheduler`` and
    ``progress``) in the trainer's layout, resumable after that epoch with the same batches.

    Example:
        >>> legacy = {"kind": "captcha", "model": {}, "config": json.dumps({"epochs": 2})}
        >>> sorted(convert_legacy(legacy))
        ['config', 'model', 'model_state']
    """
    config = with_defaults(json.loads(state["config"]))
    converted = {"model": SPEC.name, "config": json.dumps(trainer_config(config)),
                 "model_state": state["model"]}
    if "progress" in state:
        progress = json.loads(state["progress"])
        epoch = int(progress["epoch"])
        converted.update(
            optimizers={"optimizer": state["optimizer"]},
            schedulers={"scheduler": state["scheduler"]},
            progress={"epoch": epoch, "step": 0, "global_step": int(progress["step"]),
                      "finished": epoch >= int(config["epochs"])},
            sums=json.dumps({"epoch": {}, "window": {}, "epoch_seconds": 0.0}),
            rng=json.dumps(progress["rng"]),
            loader={"epoch": epoch, "position": 0})
    return converted


def read_checkpoint(path: str) -> dict:
    """The trainer-layout state of a captcha checkpoint, written by the trainer or by the
    earlier captcha trainer (converted, :func:`convert_legacy`); ``ValueError`` for any other
    file, ``FileNotFoundError`` when missing.

    Example:
        >>> import tempfile
        >>> config = resolve_config(quick=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_weights(build_model(config), config, path)
        >>> state = read_checkpoint(path)
        >>> state["model"], "optimizers" in state
        ('captcha', False)
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = load_training_checkpoint(path)
    except CheckpointError:
        try:
            state = hg.load(path)
        except Exception:  # noqa: BLE001 - not safetensors at all: refused below
            state = None
        if not isinstance(state, dict) or state.get("kind") != "captcha":
            raise ValueError(f"{path} is not a captcha checkpoint (written by 'hybridgrad "
                             f"train captcha')") from None
        return convert_legacy(state)
    if state.get("model") != SPEC.name:
        raise ValueError(f"{path} holds a {state.get('model')!r} model, not a captcha reader "
                         f"(written by 'hybridgrad train captcha')")
    return state


def load_checkpoint(path: str):
    """``(model, codec, config)`` from a captcha checkpoint (either format), in eval mode.

    Example:
        >>> import tempfile
        >>> config = resolve_config(quick=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_weights(build_model(config), config, path)
        >>> load_checkpoint(path)[2]["hidden"]
        16
    """
    state = read_checkpoint(path)
    config = with_defaults(json.loads(state["config"])["model"])
    model = build_model(config)
    model.load_state_dict(state["model_state"])
    model.eval()
    return model, make_codec(config), config


def resume_config(path: str) -> dict:
    """The config a checkpoint was trained with (what ``--resume`` continues).

    Example:
        >>> import tempfile
        >>> config = resolve_config(quick=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "c.safetensors")
        >>> save_weights(build_model(config), config, path)
        >>> resume_config(path)["model"]
        'crnn'
    """
    return with_defaults(json.loads(read_checkpoint(path)["config"])["model"])


class _ConvertedCheckpoint:
    """Hands the trainer a converted legacy checkpoint as a file in its own format."""

    def __init__(self, path: str, out_dir: str):
        self.path, self.out_dir, self.written = path, out_dir, None

    def __enter__(self) -> str:
        state = read_checkpoint(self.path)
        try:
            load_training_checkpoint(self.path)
            return self.path
        except CheckpointError:
            self.written = os.path.join(self.out_dir, ".converted-checkpoint.safetensors")
            save_training_checkpoint(state, self.written)
            return self.written

    def __exit__(self, *exc) -> None:
        if self.written and os.path.exists(self.written):
            os.remove(self.written)


def train(config: dict, out_dir: str, log=print, progress: bool = False,
          resume: str | None = None, step_callback=None, checkpoint_every: int = 0) -> dict:
    """Train the model a (resolved) config describes with :class:`hybridgrad.training.Trainer`
    (``checkpoint.safetensors`` every epoch and on Ctrl-C, ``metrics.jsonl``, ``curves.png``),
    then read the test split; write ``result.json`` into ``out_dir`` and return it: test
    accuracy (greedy decoding; for the CRNN also prefix beam search when ``beam_width`` > 1),
    character accuracy, accuracy per length, timings and example reads.

    ``resume``: the checkpoint of an interrupted run (either format); training continues where
    it stopped and ends with the weights an uninterrupted run would have (``config`` must be
    the checkpoint's, see :func:`resume_config`). ``step_callback(trainer)`` runs after every
    step (tests interrupt through it); ``checkpoint_every`` also saves every that many steps.
    """
    from hybridgrad.training.trainer import Trainer

    config = resolve_config({k: v for k, v in config.items() if k != "quick"},
                            quick=bool(config.get("quick", False)))
    os.makedirs(out_dir, exist_ok=True)
    done = 0
    if resume is not None:
        state = read_checkpoint(resume)
        differing = config_differences(json.loads(state["config"])["model"], config)
        if differing:
            raise ValueError(f"captcha: cannot resume {resume}: its settings differ in "
                             f"{differing} (resume with the checkpoint's own settings)")
        if "optimizers" not in state:
            raise ValueError(f"captcha: {resume} holds weights only (no optimizer state); it "
                             f"cannot be resumed")
        done = int(state["progress"]["epoch"])
    total = steps_per_epoch(config) * int(config["epochs"])
    started = time.time()
    limit = None if config["max_minutes"] is None else 60.0 * float(config["max_minutes"])

    def after_step(trainer):
        if limit is not None and time.time() - started > limit:
            trainer.finish_requested = True
        if log and not progress and trainer.global_step % 100 == 0:
            sums = trainer.sums
            log(f"  step {trainer.global_step}/{total}: loss (epoch so far) "
                f"{sums.get('loss', 0.0) / max(sums.get('_count', 1), 1):.4f}, "
                f"{time.time() - started:.0f} s")
        if step_callback is not None:
            step_callback(trainer)

    def after_epoch(trainer, record):
        if log:
            log("  " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) and k != "seconds"
                                 else f"{k} {v}" for k, v in record.items() if k != "kind"))

    trainer = Trainer(SPEC, trainer_config(config), out_dir, progress=progress,
                      step_callback=after_step, epoch_callback=after_epoch,
                      checkpoint_every=checkpoint_every)
    if log:
        parameters = sum(p._array.size for p in build_model(config).parameters())
        log(f"captcha {config['model']}: length {config['length']}, input "
            f"{'x'.join(map(str, input_size(config)))}, {parameters} parameters, {total} steps "
            f"of {config['batch_size']}" + (f"; resumed after epoch {done}" if resume else ""))
    if resume is None:
        trainer.run()
    else:
        with _ConvertedCheckpoint(resume, out_dir) as path:
            trainer.run(resume=path)
    train_seconds = time.time() - started
    model, codec = trainer.task.model, make_codec(config)
    test_images, test_texts = _split(config, "test", log)
    test = evaluate(model, test_images, test_texts, codec, config, beam_width=1)
    result = {"config": config, "checkpoint": trainer.checkpoint_path,
              "train_seconds": round(train_seconds, 1), "steps": trainer.global_step,
              "planned_steps": total, "test_size": len(test_texts),
              "test_accuracy": test["accuracy"], "test_char_accuracy": test["char_accuracy"],
              "accuracy_by_length": test["accuracy_by_length"]}
    if config["model"] == "crnn" and int(config["beam_width"]) > 1:
        beam = evaluate(model, test_images, test_texts, codec, config,
                        beam_width=int(config["beam_width"]))
        result["test_accuracy_beam"] = beam["accuracy"]
    result["examples"] = examples(test["reads"])
    with open(os.path.join(out_dir, "result.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    if log:
        log(f"test: whole-string accuracy {test['accuracy']:.4f} on {len(test_texts)} "
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


__all__ = ["CHARSETS", "DEFAULTS", "QUICK", "SPEC", "CaptchaBatches", "build_model", "charset",
           "config_differences", "confusions", "convert_legacy", "edit_distance", "evaluate",
           "examples", "export_onnx", "input_size", "load_checkpoint", "loaders", "loss_of",
           "make_codec", "prepare", "read", "read_checkpoint", "read_image", "resolve_config",
           "resume_config", "save_weights", "spec_of", "steps_per_epoch", "train",
           "trainer_config", "with_defaults"]
