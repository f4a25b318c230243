"""Training recipes, one per kind of model: what a step does, how an epoch is evaluated and
which pictures it leaves behind.

* :class:`ClassifierTask` (MLP, CNN, ViT): cross-entropy, test accuracy.
* :class:`CGANTask`: the notes' two-phase CGAN step; label accuracy of generated digits judged
  by the project's CNN.
* :class:`VAETask` (VAE, CVAE): the negative ELBO in nats; CVAE samples judged by the CNN.
* :class:`GPTTask` (the character-level GPT): next-character cross-entropy, validation loss.
* :class:`CaptchaTask` (the captcha readers): CTC or one-hot loss on rendered captchas, the
  validation split's whole-string accuracy; its data comes with it (:meth:`CaptchaTask.loaders`).

Every task holds one model (a :class:`hybridgrad.nn.Module`), its optimizers and schedulers by
name, so :class:`hybridgrad.training.Trainer` can checkpoint any of them the same way.

Example:
    >>> from hybridgrad.training.tasks import TASKS
    >>> sorted(TASKS)
    ['captcha', 'cgan', 'classifier', 'gpt', 'vae']
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil

import numpy as np

import hybridgrad as hg
from hybridgrad.models import CVAE, ModelSpec, one_hot_labels
from hybridgrad.models.vae import negative_elbo
from hybridgrad.nn import losses
from hybridgrad.training.data import normalize
from hybridgrad.training.plots import save_image_grid


@contextlib.contextmanager
def forked_rng(seed: int):
    """Run a block on ``hg.manual_seed(seed)`` and give the previous stream back afterwards, so
    evaluation and pictures never shift the training's random numbers.

    Example:
        >>> import hybridgrad as hg
        >>> hg.manual_seed(0); expected = hg.rand(1).item()
        >>> hg.manual_seed(0)
        >>> with forked_rng(5):
        ...     _ = hg.rand(3)
        >>> hg.rand(1).item() == expected
        True
    """
    saved = hg.default_generator().bit_generator.state
    hg.manual_seed(seed)
    try:
        yield
    finally:
        hg.default_generator().bit_generator.state = saved


def make_optimizer(parameters, config: dict, lr: float | None = None):
    """The optimizer named by ``config["optimizer"]`` (adam, adamw or sgd) from hg.optim.

    Example:
        >>> import hybridgrad as hg
        >>> type(make_optimizer(hg.nn.Linear(2, 2).parameters(), {"optimizer": "sgd",
        ...                                                       "lr": 0.1})).__name__
        'SGD'
    """
    name = config.get("optimizer", "adam")
    lr = config["lr"] if lr is None else lr
    decay = config.get("weight_decay", 0.0)
    betas = tuple(config.get("betas", (0.9, 0.999)))
    if name == "adam":
        return hg.optim.Adam(parameters, lr=lr, betas=betas, weight_decay=decay)
    if name == "adamw":
        return hg.optim.AdamW(parameters, lr=lr, betas=betas, weight_decay=decay)
    if name == "sgd":
        return hg.optim.SGD(parameters, lr=lr, momentum=config.get("momentum", 0.9),
                            weight_decay=decay)
    raise ValueError(f"unknown optimizer {name!r}: use adam, adamw or sgd")


SCHEDULERS = ("cosine", "onecycle", None)


def make_scheduler(optimizer, config: dict, steps_per_epoch: int = 1):
    """``(scheduler, interval)`` for ``config["scheduler"]``: ``"cosine"`` (CosineAnnealingLR
    over the epochs, stepped per epoch), ``"onecycle"`` (OneCycleLR peaking at ``lr``, stepped
    per batch) or ``None`` (constant learning rate).

    Example:
        >>> import hybridgrad as hg
        >>> optimizer = hg.optim.Adam(hg.nn.Linear(2, 2).parameters(), lr=0.1)
        >>> make_scheduler(optimizer, {"scheduler": "onecycle", "lr": 0.1, "epochs": 2}, 5)[1]
        'step'
    """
    name = config.get("scheduler")
    if name == "cosine":
        return (hg.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                        T_max=max(config["epochs"], 1)), "epoch")
    if name == "onecycle":
        total = max(int(config["epochs"]) * max(int(steps_per_epoch), 1), 2)
        return hg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config["lr"],
                                                total_steps=total), "step"
    if name is None:
        return None, "epoch"
    raise ValueError(f"unknown scheduler {name!r}: use cosine, onecycle or none")


class Task:
    """The interface the trainer drives (see the subclasses).

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.models import build, get_spec
        >>> spec = get_spec("mlp")
        >>> task = ClassifierTask(spec, {**spec.config, "seed": 0}, build("mlp", hidden_sizes=[8]))
        >>> sorted(task.train_step(hg.rand(4, 1, 28, 28), hg.tensor([0, 1, 2, 3])))
        ['accuracy', 'loss']
    """

    def __init__(self, spec: ModelSpec, config: dict, model, steps_per_epoch: int = 1):
        self.spec, self.config, self.model = spec, config, model
        self.steps_per_epoch = steps_per_epoch
        self.optimizers: dict = {}
        self.schedulers: dict = {}
        self.scheduler_interval = "epoch"  # or "step": when the trainer steps the schedulers
        self.judge = None  # the CNN that scores generated digits, when available
        self.preview = None  # (images01, labels) of a few test images, for reconstructions

    def prepare(self, images01):
        """The model's input from images in [0, 1]."""
        return hg.tensor(normalize(np.asarray(images01._array if isinstance(images01, hg.Tensor)
                                              else images01), self.config["normalize"]))

    def train_step(self, images, labels) -> dict:
        """One optimisation step on a batch; returns the scalars to log."""
        raise NotImplementedError

    def evaluate(self, loader) -> dict:
        """Metrics on the test loader (``self.spec.metric`` among them when computable)."""
        raise NotImplementedError

    def write_artifacts(self, out_dir: str, epoch: int) -> list[str]:
        """Pictures for the epoch; returns the paths written."""
        return []


class ClassifierTask(Task):
    """Cross-entropy classification; metrics ``test_loss`` and ``test_accuracy``.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.models import build, get_spec
        >>> spec = get_spec("cnn")
        >>> task = ClassifierTask(spec, {**spec.config, "seed": 0}, build("cnn", channels=[2, 2]))
        >>> type(task.schedulers["scheduler"]).__name__, task.scheduler_interval
        ('CosineAnnealingLR', 'epoch')
    """

    def __init__(self, spec, config, model, steps_per_epoch: int = 1):
        super().__init__(spec, config, model, steps_per_epoch)
        optimizer = make_optimizer(model.parameters(), config)
        self.optimizers = {"optimizer": optimizer}
        scheduler, self.scheduler_interval = make_scheduler(optimizer, config, steps_per_epoch)
        self.schedulers = {"scheduler": scheduler} if scheduler is not None else {}
        # config["compile"] (hybridgrad train --compile): forward, backward and the update as
        # one compiled graph (hybridgrad.jit.train_step); it returns the loss only, so the
        # step's accuracy is not logged.
        self.compiled = (hg.jit.train_step(model, losses.cross_entropy, optimizer)
                         if config.get("compile") else None)

    def train_step(self, images, labels) -> dict:
        self.model.train()
        if self.compiled is not None:
            return {"loss": float(self.compiled(self.prepare(images), labels).item())}
        optimizer = self.optimizers["optimizer"]
        optimizer.zero_grad()
        logits = self.model(self.prepare(images))
        loss = losses.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        correct = (logits._array.argmax(1) == np.asarray(labels._array)).mean()
        return {"loss": float(loss.item()), "accuracy": float(correct)}

    def evaluate(self, loader) -> dict:
        self.model.eval()
        total_loss, correct, count = 0.0, 0, 0
        with hg.no_grad():
            for images, labels in loader:
                logits = self.model(self.prepare(images))
                loss = losses.cross_entropy(logits, labels, reduction="sum")
                total_loss += float(loss.item())
                correct += int((logits._array.argmax(1) == np.asarray(labels._array)).sum())
                count += len(labels)
        return {"test_loss": total_loss / max(count, 1), "test_accuracy": correct / max(count, 1)}


def judge_accuracy(judge, images01, labels) -> tuple[float, list[float]]:
    """Fraction of ``images01`` (in [0, 1]) that the classifier ``judge`` (a trained CNN taking
    standardised MNIST) assigns to ``labels``, overall and per digit.

    Example:
        >>> import numpy as np
        >>> import hybridgrad as hg
        >>> class Always3(hg.nn.Module):
        ...     def forward(self, x):
        ...         return hg.tensor(np.eye(10, dtype=np.float32)[[3] * x.shape[0]])
        >>> judge_accuracy(Always3(), np.zeros((2, 1, 28, 28)), np.array([3, 4]))[0]
        0.5
    """
    labels = np.asarray(getattr(labels, "_array", labels))
    images01 = np.asarray(getattr(images01, "_array", images01), dtype=np.float32)
    was_training = getattr(judge, "training", False)
    judge.eval()
    predictions = []
    with hg.no_grad():
        for start in range(0, len(images01), 500):
            batch = hg.tensor(normalize(images01[start:start + 500], "standard"))
            predictions.append(judge(batch)._array.argmax(1))
    if was_training:
        judge.train()
    hits = np.concatenate(predictions) == labels
    per_digit = [float(hits[labels == digit].mean()) if (labels == digit).any() else float("nan")
                 for digit in range(10)]
    return float(hits.mean()), per_digit


def balanced_labels(count: int) -> np.ndarray:
    """``count`` labels cycling through the ten digits.

    Example:
        >>> balanced_labels(12).tolist()
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    """
    return np.arange(count, dtype=np.int64) % 10


class _GeneratesDigits(Task):
    """Shared by the CGAN and the CVAE: label-conditioned samples, the 10x10 grid, the judge."""

    def sample01(self, labels) -> np.ndarray:
        """Images in [0, 1] of the given digits (in chunks of 500, bounding the memory)."""
        labels = np.asarray(labels, dtype=np.int64)
        self.model.eval()
        with hg.no_grad():
            chunks = [self._sample_chunk(hg.tensor(labels[start:start + 500]))
                      for start in range(0, len(labels), 500)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 1, 28, 28), np.float32)

    def _sample_chunk(self, labels) -> np.ndarray:
        raise NotImplementedError

    def judged(self, seed: int) -> dict:
        if self.judge is None:
            return {}
        count = int(self.config.get("judge_samples", 1000))
        labels = balanced_labels(count)
        with forked_rng(seed):
            images = self.sample01(labels)
        accuracy, per_digit = judge_accuracy(self.judge, images, labels)
        return {"label_accuracy": accuracy,
                **{f"label_accuracy_{digit}": value for digit, value in enumerate(per_digit)}}

    def digit_grid(self, path: str, seed: int) -> str:
        """A 10x10 grid: row ``d`` holds ten samples of digit ``d``."""
        with forked_rng(seed):
            images = self.sample01(np.repeat(np.arange(10), 10))
        save_image_grid(images, path, rows=10)
        return path


class CGANTask(_GeneratesDigits):
    """The notes' CGAN step (``discriminator="notes"``) or the classic one (``"classic"``).

    Logged per step: ``d_loss`` (= ``d_real_loss + d_fake_loss``), ``d_real_loss``,
    ``d_fake_loss``, ``g_loss``. Per epoch: ``label_accuracy`` (and per digit) when the judge
    CNN is available.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.models import build, get_spec
        >>> spec = get_spec("cgan")
        >>> task = CGANTask(spec, {**spec.config, "seed": 0}, build("cgan", noise_dim=4, width=2))
        >>> sorted(task.train_step(hg.rand(4, 1, 28, 28), hg.tensor([0, 1, 2, 3])))
        ['d_fake_loss', 'd_loss', 'd_real_loss', 'g_loss']
        >>> task.sample01([7, 7]).shape
        (2, 1, 28, 28)
    """

    def __init__(self, spec, config, model, steps_per_epoch: int = 1):
        super().__init__(spec, config, model, steps_per_epoch)
        self.optimizers = {
            "discriminator": make_optimizer(model.discriminator.parameters(), config),
            "generator": make_optimizer(model.generator.parameters(), config),
        }

    def _discriminate(self, images, labels):
        return self.model.discriminator(images, labels)

    def train_step(self, images, labels) -> dict:
        model = self.model
        model.train()
        real = self.prepare(images)
        count = real.shape[0]
        notes = model.discriminator_kind == "notes"
        # The notes' targets: one_hot(labels) for "real digit k", zeros for "fake".
        real_targets = one_hot_labels(labels, model.num_classes) if notes else hg.ones(count, 1)
        fake_targets = hg.zeros(count, model.num_classes if notes else 1)
        fake = model.generate(labels)

        # 1. Generator fixed (its images detached): update the discriminator on real + fake.
        d_optimizer = self.optimizers["discriminator"]
        d_optimizer.zero_grad()
        d_real_loss = losses.binary_cross_entropy(self._discriminate(real, labels),
                                                      real_targets)
        d_fake_loss = losses.binary_cross_entropy(self._discriminate(fake.detach(), labels),
                                                      fake_targets)
        d_loss = d_real_loss + d_fake_loss
        d_loss.backward()
        d_optimizer.step()

        # 2. Discriminator fixed (no gradients for its weights): the generator wants its images
        # judged "real digit k" for the label k it was asked for.
        g_optimizer = self.optimizers["generator"]
        g_optimizer.zero_grad()
        model.discriminator.requires_grad_(False)
        try:
            g_loss = losses.binary_cross_entropy(self._discriminate(fake, labels),
                                                     real_targets)
            g_loss.backward()
        finally:
            model.discriminator.requires_grad_(True)
        g_optimizer.step()
        return {"d_loss": float(d_loss.item()), "d_real_loss": float(d_real_loss.item()),
                "d_fake_loss": float(d_fake_loss.item()), "g_loss": float(g_loss.item())}

    def _sample_chunk(self, labels) -> np.ndarray:
        return (np.asarray(self.model.generate(labels)._array) + 1.0) / 2.0

    def evaluate(self, loader) -> dict:
        return self.judged(seed=int(self.config.get("seed", 0)) + 7919)

    def write_artifacts(self, out_dir: str, epoch: int) -> list[str]:
        seed = int(self.config.get("seed", 0)) + 104729  # the same noise every epoch
        path = self.digit_grid(os.path.join(out_dir, "samples", f"epoch_{epoch:03d}.png"), seed)
        latest = os.path.join(out_dir, "samples.png")
        shutil.copyfile(path, latest)
        return [path, latest]


class VAETask(_GeneratesDigits):
    """VAE/CVAE: minimise the negative ELBO; ``test_nelbo`` in nats per image; for the CVAE,
    ``label_accuracy`` of its conditioned samples when the judge CNN is available.

    Example:
        >>> import hybridgrad as hg
        >>> from hybridgrad.models import build, get_spec
        >>> spec = get_spec("cvae")
        >>> task = VAETask(spec, {**spec.config, "seed": 0}, build("cvae", hidden=8, latent_dim=2))
        >>> list(task.train_step(hg.rand(4, 1, 28, 28), hg.tensor([0, 1, 2, 3])))
        ['loss']
        >>> task.conditional, task.sample01([3, 4, 5]).shape
        (True, (3, 1, 28, 28))
    """

    def __init__(self, spec, config, model, steps_per_epoch: int = 1):
        super().__init__(spec, config, model, steps_per_epoch)
        self.conditional = isinstance(model, CVAE)
        self.optimizers = {"optimizer": make_optimizer(model.parameters(), config)}

    def _forward(self, images, labels):
        inputs = self.prepare(images)
        outputs = self.model(inputs, labels) if self.conditional else self.model(inputs)
        return inputs, outputs

    def train_step(self, images, labels) -> dict:
        self.model.train()
        optimizer = self.optimizers["optimizer"]
        optimizer.zero_grad()
        inputs, (logits, mu, log_var) = self._forward(images, labels)
        loss = negative_elbo(logits, inputs, mu, log_var)
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.item())}

    def evaluate(self, loader) -> dict:
        self.model.eval()
        total, count = 0.0, 0
        with forked_rng(int(self.config.get("seed", 0)) + 7919), hg.no_grad():
            for images, labels in loader:
                inputs, (logits, mu, log_var) = self._forward(images, labels)
                total += float(negative_elbo(logits, inputs, mu, log_var, reduction="sum").item())
                count += len(labels)
        metrics = {"test_nelbo": total / max(count, 1)}
        if self.conditional:
            metrics.update(self.judged(seed=int(self.config.get("seed", 0)) + 7920))
        return metrics

    def _sample_chunk(self, labels) -> np.ndarray:
        images = (self.model.sample(len(labels), labels) if self.conditional
                  else self.model.sample(len(labels)))
        return np.asarray(images._array)

    def reconstructions(self, images01, labels) -> np.ndarray:
        """Pixel means of the model's reconstructions of ``images01`` (z = mu)."""
        self.model.eval()
        with hg.no_grad():
            inputs = self.prepare(images01)
            condition = (one_hot_labels(labels, self.model.num_classes) if self.conditional
                         else None)
            mu, _ = self.model.encode(inputs, condition)
            pixels = hg.sigmoid(self.model.decode(mu, condition))
        return np.asarray(pixels._array).reshape(inputs.shape)

    def write_artifacts(self, out_dir: str, epoch: int) -> list[str]:
        seed = int(self.config.get("seed", 0)) + 104729
        samples = os.path.join(out_dir, "samples.png")
        if self.conditional:
            self.digit_grid(samples, seed)
        else:
            with forked_rng(seed):
                save_image_grid(self.sample01(np.zeros(100, dtype=np.int64)), samples, rows=10)
        written = [samples]
        if self.preview is not None:
            images, labels = self.preview
            reconstructed = self.reconstructions(images, labels)
            # Rows alternate: originals, then their reconstructions.
            pairs = np.concatenate([np.concatenate([images[row:row + 10],
                                                    reconstructed[row:row + 10]])
                                    for row in range(0, len(images), 10)])
            path = os.path.join(out_dir, "reconstructions.png")
            save_image_grid(pairs, path, rows=2 * (-(-len(images) // 10)))
            written.append(path)
        return written


class WarmupCosine:
    """nanoGPT's learning-rate multiplier for ``LambdaLR``: linear warm-up to 1 over
    ``warmup`` steps, cosine decay to ``min_ratio`` at step ``decay_steps``, then constant.

    Example:
        >>> schedule = WarmupCosine(warmup=10, decay_steps=100, min_ratio=0.1)
        >>> [round(schedule(step), 3) for step in (0, 9, 10, 55, 100, 200)]
        [0.091, 0.909, 1.0, 0.55, 0.1, 0.1]
    """

    def __init__(self, warmup: int, decay_steps: int, min_ratio: float):
        self.warmup, self.decay_steps = int(warmup), int(decay_steps)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        if step > self.decay_steps:
            return self.min_ratio
        ratio = (step - self.warmup) / max(self.decay_steps - self.warmup, 1)
        coefficient = 0.5 * (1.0 + math.cos(math.pi * ratio))
        return self.min_ratio + coefficient * (1.0 - self.min_ratio)


class GPTTask(Task):
    """Next-character prediction (:class:`hybridgrad.models.gpt.GPT`): AdamW with weight decay
    on matrices only, gradient clipping, warm-up + cosine learning rate stepped per batch.
    Each "epoch" is ``eval_interval`` steps; its evaluation is the mean loss on
    ``eval_batches`` batches of each split, the same batches every time (a fixed seed), so
    the curve's ups and downs are the model's, not the sampling's.

    Example:
        >>> import numpy as np
        >>> import hybridgrad as hg
        >>> from hybridgrad.models import build, get_spec
        >>> spec = get_spec("gpt")
        >>> config = spec.resolved_config(quick=True)
        >>> hg.manual_seed(0)
        >>> task = GPTTask(spec, {**config, "seed": 0}, build("gpt", **config["model"]))
        >>> x = np.zeros((2, 8), np.int64)
        >>> sorted(task.train_step(x, x))
        ['loss']
    """

    items_name = "tokens"

    def __init__(self, spec, config, model, steps_per_epoch: int = 1):
        super().__init__(spec, config, model, steps_per_epoch)
        from hybridgrad.models.gpt import optimizer_groups

        groups = optimizer_groups(model, float(config.get("weight_decay", 0.0)))
        optimizer = hg.optim.AdamW(groups, lr=float(config["lr"]),
                                   betas=tuple(config.get("betas", (0.9, 0.99))))
        self.optimizers = {"optimizer": optimizer}
        total = int(config["epochs"]) * int(config["eval_interval"])
        schedule = WarmupCosine(int(config.get("warmup_steps", 0)),
                                int(config.get("decay_steps") or total),
                                float(config.get("min_lr", config["lr"])) / float(config["lr"]))
        self.schedulers = {"scheduler": hg.optim.lr_scheduler.LambdaLR(optimizer, schedule)}
        self.scheduler_interval = "step"

    @staticmethod
    def items_per_batch(labels) -> int:
        """Tokens in a batch (the trainer's rate is tokens per second)."""
        return int(np.asarray(getattr(labels, "_array", labels)).size)

    def _loss(self, inputs, targets):
        _, loss = self.model(hg.tensor(np.asarray(inputs)), hg.tensor(np.asarray(targets)))
        aux = getattr(self.model, "auxiliary_loss", None)
        return loss, (aux() if aux is not None else None)

    def train_step(self, inputs, targets) -> dict:
        self.model.train()
        optimizer = self.optimizers["optimizer"]
        optimizer.zero_grad()
        loss, aux = self._loss(inputs, targets)
        total = loss if aux is None else loss + aux * float(self.config.get("aux_weight", 0.01))
        total.backward()
        clip = float(self.config.get("grad_clip", 0.0))
        if clip > 0:
            hg.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        optimizer.step()
        scalars = {"loss": float(loss.item())}
        if aux is not None:
            scalars["balance_loss"] = float(aux.item())
        return scalars

    def evaluate(self, loader) -> dict:
        """``eval_train_loss`` and ``val_loss``: mean loss over ``loader``'s fixed batches."""
        self.model.eval()
        metrics = {}
        with hg.no_grad():
            for split, batches in loader.splits().items():
                losses_seen = [float(self.model(hg.tensor(x), hg.tensor(y))[1].item())
                               for x, y in batches]
                metrics[split] = float(np.mean(losses_seen))
        self.model.train()
        return metrics

    def write_artifacts(self, out_dir: str, epoch: int) -> list[str]:
        if epoch < int(self.config["epochs"]):
            return []
        from hybridgrad.data.text import CharTokenizer

        tokenizer = CharTokenizer(self.config["vocab"])
        prompt = tokenizer.encode("\n" if "\n" in tokenizer.stoi else tokenizer.chars[0])
        ids = self.model.generate(prompt[None], int(self.config.get("sample_tokens", 500)),
                                  temperature=0.8, top_k=50,
                                  generator=np.random.default_rng(int(self.config["seed"])))
        path = os.path.join(out_dir, "sample.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(tokenizer.decode(ids[0]))
        return [path]


class CaptchaTask(Task):
    """The captcha readers (``hybridgrad train captcha``): Adam with a one-cycle schedule
    stepped per batch, the CRNN's CTC loss or the one-hot CNN's loss; per epoch
    ``val_accuracy`` (whole strings) and ``val_char_accuracy`` on the validation split.
    ``config["model"]`` is the whole captcha config (:mod:`hybridgrad.training.captcha`), and
    the batches are ``(uint8 images, texts)``.

    Example:
        >>> import numpy as np
        >>> from hybridgrad.models import get_spec
        >>> from hybridgrad.training import captcha
        >>> settings = captcha.resolve_config(quick=True)
        >>> config = captcha.trainer_config(settings)
        >>> task = CaptchaTask(get_spec("captcha"), config, captcha.build_model(settings))
        >>> list(task.train_step(np.zeros((2, 32, 80), np.uint8), ["ABCD", "WXYZ"]))
        ['loss']
    """

    @staticmethod
    def loaders(config: dict):
        """The trainer's data (instead of MNIST): training batches and the validation split."""
        recipe = _captcha()
        return recipe.loaders(recipe.with_defaults(dict(config["model"])))

    def __init__(self, spec, config, model, steps_per_epoch: int = 1):
        super().__init__(spec, config, model, steps_per_epoch)
        recipe = _captcha()
        self.settings = recipe.with_defaults(dict(config["model"]))
        self.codec = recipe.make_codec(self.settings)
        lr = float(self.settings["lr"])
        optimizer = hg.optim.Adam(model.parameters(), lr=lr,
                                  weight_decay=float(self.settings["weight_decay"]))
        total = max(int(steps_per_epoch), 1) * int(self.settings["epochs"])
        self.optimizers = {"optimizer": optimizer}
        self.schedulers = {"scheduler": hg.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=max(total, 2))}
        self.scheduler_interval = "step"

    def train_step(self, images, texts) -> dict:
        recipe = _captcha()
        self.model.train()
        optimizer = self.optimizers["optimizer"]
        loss = recipe.loss_of(self.model, recipe.prepare(np.asarray(images), self.settings),
                              list(texts), self.codec, self.settings)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.item())}

    def evaluate(self, loader) -> dict:
        images, texts = loader
        if not len(texts):
            return {}
        val = _captcha().evaluate(self.model, images, texts, self.codec, self.settings,
                                  beam_width=1)
        return {"val_accuracy": val["accuracy"], "val_char_accuracy": val["char_accuracy"]}


def _captcha():
    """The captcha recipe module (imported on first use: it renders captchas)."""
    from hybridgrad.training import captcha

    return captcha


TASKS = {"classifier": ClassifierTask, "cgan": CGANTask, "vae": VAETask,
         "captcha": CaptchaTask, "gpt": GPTTask}
