"""The notes' models and their registry: name -> builder, default hyper-parameters, dataset,
quality metric and bar.

``hybridgrad train NAME`` reads everything it needs from :data:`REGISTRY`;
:func:`build` makes the model alone.

Example:
    >>> import hybridgrad as hg
    >>> from hybridgrad import models
    >>> sorted(models.REGISTRY)
    ['captcha', 'cgan', 'cnn', 'cvae', 'gpt', 'mlp', 'vae', 'vit']
    >>> models.build("mlp", hidden_sizes=(8,))(hg.zeros(1, 1, 28, 28)).shape
    (1, 10)
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from typing import Callable

from hybridgrad.models.captcha import build_captcha
from hybridgrad.models.captcha import export_inputs as captcha_inputs
from hybridgrad.models.cgan import (
    CGAN,
    ConditionalDiscriminator,
    Discriminator,
    Generator,
    make_latent,
    one_hot_labels,
)
from hybridgrad.models.cnn import CNN
from hybridgrad.models.exporting import (
    ExportInput,
    image_inputs,
    labelled_image_inputs,
    latent_inputs,
)
from hybridgrad.models.gpt import GPT, export_onnx, token_inputs
from hybridgrad.models.mlp import MLP
from hybridgrad.models.vae import CVAE, VAE, negative_elbo, reparameterize
from hybridgrad.models.vit import PatchEmbedding, ViT, sinusoidal_positions


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: the CLI name (``hybridgrad train NAME``).
        description: one line for ``hybridgrad list``.
        builder: ``builder(**model_config) -> Module``.
        task: the training recipe, ``"classifier"``, ``"cgan"`` or ``"vae"`` (see
            :mod:`hybridgrad.training.tasks`).
        dataset: the data set name (``"mnist"``).
        metric: the quality metric written to ``metrics.jsonl`` at every epoch.
        goal: the metric's bar, ``(">=" or "<=", value)``.
        config: default hyper-parameters (``model`` holds the builder's arguments); they are the
            settings meant to reach the bar.
        quick: overrides for ``--quick``: a seconds-long smoke run on a small subset.
        budget: the time the bar must be reached in, on two CPU cores.
        presets: named override sets (``--preset NAME``), applied before ``quick``.
        onnx_export: ``fn(model, path) -> onnx.ModelProto`` for a model whose inputs are not
            float tensors of a fixed shape (the GPT's token ids of dynamic length).
        commands: for a model with its own data and options (captcha), the module whose
            ``add_{train,eval,predict}_options(parser)`` and ``{train,eval,predict}_command(args)``
            the generic ``train``/``eval``/``predict`` commands use; empty for MNIST models.
        export_inputs: ``export_inputs(config) -> list[ExportInput]``: the example inputs of
            ``hybridgrad export NAME`` (see :mod:`hybridgrad.models.exporting`).

    Example:
        >>> from hybridgrad.models import REGISTRY
        >>> REGISTRY["cnn"].goal
        ('>=', 0.99)
    """

    name: str
    description: str
    builder: Callable
    task: str
    metric: str
    goal: tuple
    config: dict
    quick: dict = field(default_factory=dict)
    dataset: str = "mnist"
    budget: str = ""
    commands: str = ""
    export_inputs: Callable = image_inputs
    presets: dict = field(default_factory=dict)
    onnx_export: Callable | None = None

    def resolved_config(self, quick: bool = False, overrides: dict | None = None,
                        preset: str | None = None) -> dict:
        """The defaults, with ``preset``, ``quick`` and then ``overrides`` merged in (nested for
        ``model``).

        Example:
            >>> from hybridgrad.models import REGISTRY
            >>> REGISTRY["mlp"].resolved_config(quick=True)["train_subset"]
            512
        """
        config = copy.deepcopy(self.config)
        if preset is not None and preset not in self.presets:
            known = ", ".join(sorted(self.presets)) or "none"
            raise KeyError(f"{self.name} has no preset {preset!r}; its presets: {known}")
        for extra in ((self.presets[preset] if preset else {}), (self.quick if quick else {}),
                      overrides or {}):
            for key, value in extra.items():
                if key == "model":
                    config["model"].update(copy.deepcopy(value))
                else:
                    config[key] = copy.deepcopy(value)
        return config

    def meets_goal(self, value: float) -> bool:
        """Whether ``value`` of :attr:`metric` reaches the bar.

        Example:
            >>> from hybridgrad.models import REGISTRY
            >>> REGISTRY["vae"].meets_goal(105.0), REGISTRY["vae"].meets_goal(120.0)
            (True, False)
        """
        comparison, bar = self.goal
        return value >= bar if comparison == ">=" else value <= bar


_CLASSIFIER_QUICK = {"epochs": 1, "train_subset": 512, "test_subset": 256, "batch_size": 64}
_CLASSIFIER_COMMON = {"batch_size": 128, "optimizer": "adam", "weight_decay": 0.0,
                      "scheduler": "cosine", "normalize": "standard", "train_subset": None,
                      "test_subset": None}

REGISTRY: dict[str, ModelSpec] = {
    "mlp": ModelSpec(
        name="mlp", description="multi-layer perceptron classifier (784-512-256-10, dropout)",
        builder=MLP, task="classifier", metric="test_accuracy", goal=(">=", 0.98),
        config={**_CLASSIFIER_COMMON, "epochs": 15, "lr": 1e-3,
                "model": {"hidden_sizes": [512, 256], "dropout": 0.2}},
        quick={**_CLASSIFIER_QUICK, "model": {"hidden_sizes": [64]}},
        budget="15 minutes"),
    "cnn": ModelSpec(
        name="cnn", description="convolutional classifier (2 conv+BN+pool stages); also the judge "
        "that scores generated digits",
        builder=CNN, task="classifier", metric="test_accuracy", goal=(">=", 0.99),
        config={**_CLASSIFIER_COMMON, "epochs": 8, "lr": 2e-3,
                "model": {"channels": [16, 32], "hidden": 128, "dropout": 0.3}},
        quick={**_CLASSIFIER_QUICK, "model": {"channels": [4, 8], "hidden": 16}},
        budget="15 minutes"),
    "vit": ModelSpec(
        name="vit", description="Vision Transformer (7x7 patches, class token, 4 pre-norm "
        "self-attention layers)",
        builder=ViT, task="classifier", metric="test_accuracy", goal=(">=", 0.975),
        config={**_CLASSIFIER_COMMON, "epochs": 10, "lr": 2e-3, "optimizer": "adamw",
                "weight_decay": 0.05, "scheduler": "onecycle",
                "model": {"patch_size": 7, "dim": 64, "depth": 4, "heads": 4, "mlp_dim": 128,
                          "dropout": 0.0, "positions": "learned", "pool": "cls",
                          "activation": "relu"}},
        quick={**_CLASSIFIER_QUICK, "model": {"dim": 16, "depth": 1, "heads": 2, "mlp_dim": 32}},
        budget="15 minutes"),
    "cgan": ModelSpec(
        name="cgan", description="the notes' conditional GAN (10-sigmoid discriminator, BCE "
        "against one-hot labels); generates digits on demand",
        builder=CGAN, task="cgan", metric="label_accuracy", goal=(">=", 0.95),
        config={"epochs": 10, "batch_size": 128, "lr": 2e-4, "betas": [0.5, 0.999],
                "normalize": "tanh", "train_subset": None, "test_subset": None,
                "judge_samples": 1000,
                "model": {"noise_dim": 100, "width": 32, "discriminator": "notes"}},
        quick={"epochs": 1, "train_subset": 256, "test_subset": 64, "batch_size": 64,
               "judge_samples": 100, "model": {"noise_dim": 16, "width": 4}},
        budget="30 minutes", export_inputs=latent_inputs),
    "vae": ModelSpec(
        name="vae", description="variational auto-encoder (MLP, 20-d latent); test ELBO in nats",
        builder=VAE, task="vae", metric="test_nelbo", goal=("<=", 110.0),
        config={"epochs": 20, "batch_size": 128, "lr": 1e-3, "normalize": "unit",
                "train_subset": None, "test_subset": None,
                "model": {"hidden": 512, "latent_dim": 20}},
        quick={"epochs": 1, "train_subset": 256, "test_subset": 64, "batch_size": 64,
               "model": {"hidden": 32, "latent_dim": 4}},
        budget="15 minutes"),
    "cvae": ModelSpec(
        name="cvae", description="conditional VAE (label-conditioned encoder and decoder, 4-d "
        "latent); samples scored by the CNN",
        builder=CVAE, task="vae", metric="label_accuracy", goal=(">=", 0.90),
        config={"epochs": 20, "batch_size": 128, "lr": 1e-3, "normalize": "unit",
                "train_subset": None, "test_subset": None, "judge_samples": 1000,
                # A 4-d latent leaves the digit's identity to the label (style only in z):
                # 95% of samples judged right after 3 epochs, against 75% with 20 dimensions.
                "model": {"hidden": 512, "latent_dim": 4}},
        quick={"epochs": 1, "train_subset": 256, "test_subset": 64, "batch_size": 64,
               "judge_samples": 100, "model": {"hidden": 32, "latent_dim": 4}},
        budget="15 minutes", export_inputs=labelled_image_inputs),
    "gpt": ModelSpec(
        name="gpt", description="character-level GPT (nanoGPT's decoder-only Transformer) on "
        "Tiny Shakespeare; samples text",
        builder=GPT, task="gpt", dataset="text", metric="val_loss", goal=("<=", 1.886),
        # The defaults are nanoGPT's laptop-CPU configuration (``--preset tiny``); one "epoch"
        # is eval_interval optimizer steps followed by an evaluation: 8 x 250 = 2,000 steps.
        config={"epochs": 8, "eval_interval": 250, "eval_batches": 20, "batch_size": 12,
                "lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 100, "decay_steps": None,
                "weight_decay": 0.1, "betas": [0.9, 0.99], "grad_clip": 1.0, "data": None,
                "vocab": None, "train_fraction": 0.9, "sample_tokens": 500, "aux_weight": 0.01,
                "model": {"vocab_size": 65, "block_size": 64, "n_layer": 4, "n_head": 4,
                          "n_embd": 128, "dropout": 0.0, "bias": True, "moe_experts": 0,
                          "moe_top_k": 1}},
        quick={"epochs": 2, "eval_interval": 5, "eval_batches": 2, "batch_size": 4,
               "warmup_steps": 2, "sample_tokens": 40,
               "model": {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16}},
        presets={"tiny": {},
                 "small": {"epochs": 20, "batch_size": 64, "eval_batches": 200,
                           "model": {"block_size": 256, "n_layer": 6, "n_head": 6,
                                     "n_embd": 384, "dropout": 0.2}}},
        budget="nanoGPT's time on PyTorch, same machine (1 min 48 s quiet)",
        onnx_export=export_onnx, export_inputs=token_inputs),
    # Captchas are rendered, not read from MNIST: the task brings its own data and options
    # (hybridgrad.training.captcha: the data settings, --length, --model crnn|onehot...).
    # "model" holds every setting the network depends on; metric and bar are those of the
    # default CRNN on length 4 (the one-hot CNN's bar is 0.97, length 4-6's 0.95).
    "captcha": ModelSpec(
        name="captcha", description="captcha readers: CRNN + CTC (--model crnn) or the notes' "
        "one-hot CNN (--model onehot), on rendered captchas of --length 4 or 4-6",
        builder=build_captcha, task="captcha", metric="val_accuracy", goal=(">=", 0.98),
        config={"epochs": 5, "batch_size": 64, "lr": 3e-3, "weight_decay": 0.0,
                "model": {"model": "crnn", "charset": "digits_upper", "length": "4",
                          "height": 64, "width": 160, "downsample": 2,
                          "channels": [16, 32, 64, 96], "hidden": 96, "wide_pools": 2,
                          "rnn": "lstm", "onehot_hidden": 256, "dropout": 0.2}},
        quick={"epochs": 1, "batch_size": 32,
               "model": {"height": 32, "width": 80, "channels": [4, 8, 8, 8], "hidden": 16,
                         "onehot_hidden": 32}},
        dataset="captcha", budget="60 minutes", commands="hybridgrad.commands.captcha",
        export_inputs=captcha_inputs),
}


def get_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``; ``KeyError`` with the known names (and the closest one).

    Example:
        >>> get_spec("cnn").task
        'classifier'
    """
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown model {name!r}; the models are "
                       f"{', '.join(sorted(REGISTRY))}.{hint}") from None


def build(name: str, **model_config):
    """Build model ``name`` with its default architecture, updated by ``model_config``.

    Example:
        >>> build("vae", hidden=8, latent_dim=2).latent_dim
        2
    """
    spec = get_spec(name)
    config = {**spec.config["model"], **model_config}
    return spec.builder(**config)


__all__ = ["CGAN", "CNN", "CVAE", "ConditionalDiscriminator", "Discriminator", "ExportInput",
           "GPT", "Generator",
           "MLP", "ModelSpec", "PatchEmbedding", "REGISTRY", "VAE", "ViT", "build", "get_spec",
           "make_latent", "negative_elbo", "one_hot_labels", "reparameterize",
           "sinusoidal_positions"]
