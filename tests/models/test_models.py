"""The notes' models: shapes, hand-checked pieces, and a training step that lowers the loss on
a fixed synthetic batch (tiny sizes, no data set needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad import models
from hybridgrad.models import REGISTRY
from hybridgrad.models.cgan import make_latent, one_hot_labels
from hybridgrad.models.vae import negative_elbo, reparameterize
from hybridgrad.models.vit import PatchEmbedding, ViT, sinusoidal_positions
from hybridgrad.testing import gradcheck
from hybridgrad.training.tasks import TASKS

TINY = {
    "mlp": {"hidden_sizes": [16], "dropout": 0.0},
    "cnn": {"channels": [2, 4], "hidden": 8, "dropout": 0.0},
    "vit": {"dim": 8, "depth": 1, "heads": 2, "mlp_dim": 16, "dropout": 0.0},
    "cgan": {"noise_dim": 4, "width": 2},
    "vae": {"hidden": 16, "latent_dim": 2},
    "cvae": {"hidden": 16, "latent_dim": 2},
}


def _batch(count=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 28, 28)).astype(np.float32)
    labels = np.arange(count, dtype=np.int64) % 10
    return hg.tensor(images), hg.tensor(labels)


def _task(name, **config):
    spec = REGISTRY[name]
    full = spec.resolved_config(overrides={"model": TINY[name], "lr": 1e-2, **config})
    full["seed"] = 0
    hg.manual_seed(0)
    return TASKS[spec.task](spec, full, spec.builder(**full["model"]))


@pytest.mark.parametrize("name", ["mlp", "cnn", "vit", "vae", "cvae"])
def test_training_steps_lower_the_loss_on_a_fixed_batch(name):
    task = _task(name)
    images, labels = _batch()
    losses = [task.train_step(images, labels)["loss"] for _ in range(6)]
    assert losses[-1] < losses[0], losses


def test_cgan_steps_lower_each_players_loss_when_the_other_is_fixed():
    task = _task("cgan")
    images, labels = _batch()
    generator_optimizer = task.optimizers["generator"]
    generator_optimizer.param_groups[0]["lr"] = 0.0  # G fixed: D learns
    d_losses = [task.train_step(images, labels)["d_loss"] for _ in range(5)]
    assert d_losses[-1] < d_losses[0], d_losses
    generator_optimizer.param_groups[0]["lr"] = 1e-2
    task.optimizers["discriminator"].param_groups[0]["lr"] = 0.0  # D fixed: G learns
    g_losses = [task.train_step(images, labels)["g_loss"] for _ in range(5)]
    assert g_losses[-1] < g_losses[0], g_losses


@pytest.mark.parametrize("kind", ["notes", "classic"])
def test_cgan_step_uses_the_notes_targets(kind):
    # A discriminator whose head ignores the image outputs sigmoid(bias) per unit, so the three
    # BCE losses can be computed by hand from the targets of the notes' algorithm.
    task = _task("cgan", model={**TINY["cgan"], "discriminator": kind})
    head = task.model.discriminator.head
    last = head if kind == "notes" else head[-1]
    bias = np.linspace(-1.0, 1.5, last.bias.shape[0]).astype(np.float32)
    last.weight._array[...] = 0.0
    last.bias._array[...] = bias
    task.optimizers["discriminator"].param_groups[0]["lr"] = 0.0  # D unchanged by its step
    images, labels = _batch(6)
    result = task.train_step(images, labels)
    p = 1.0 / (1.0 + np.exp(-bias.astype(np.float64)))
    targets = np.eye(10)[labels.numpy()] if kind == "notes" else np.ones((6, 1))
    real = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean()
    fake = -np.log(1 - p).mean()
    assert result["d_real_loss"] == pytest.approx(real, rel=1e-5)
    assert result["d_fake_loss"] == pytest.approx(fake, rel=1e-5)
    assert result["d_loss"] == pytest.approx(real + fake, rel=1e-5)
    assert result["g_loss"] == pytest.approx(real, rel=1e-5)  # G aims at one_hot(labels)


def test_cgan_generator_step_leaves_the_discriminator_gradients_alone():
    task = _task("cgan")
    images, labels = _batch(4)
    task.train_step(images, labels)
    # D's parameters must have been frozen in phase 2: requires_grad is restored afterwards.
    assert all(parameter.requires_grad for parameter in task.model.discriminator.parameters())
    generator_grads = [parameter.grad for parameter in task.model.generator.parameters()]
    assert all(grad is not None for grad in generator_grads)


def test_latent_is_noise_then_one_hot():
    hg.manual_seed(3)
    z = make_latent(hg.tensor([2, 9]), noise_dim=5).numpy()
    assert z.shape == (2, 15)
    np.testing.assert_array_equal(z[:, 5:], np.eye(10)[[2, 9]])
    assert one_hot_labels(hg.tensor([1]), 3).tolist() == [[0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        one_hot_labels(hg.tensor([3]), 3)


def test_generator_output_is_a_tanh_image_and_discriminator_has_ten_sigmoids():
    gan = models.build("cgan", **TINY["cgan"])
    with hg.no_grad():
        images = gan.generate(hg.tensor([0, 1, 2]))
        scores = gan.discriminator(images).numpy()
    assert images.shape == (3, 1, 28, 28)
    assert np.abs(images.numpy()).max() <= 1.0
    assert scores.shape == (3, 10) and (scores > 0).all() and (scores < 1).all()
    with pytest.raises(ValueError, match="discriminator must be"):
        models.build("cgan", discriminator="other")


def test_negative_elbo_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    logits, images = rng.normal(size=(3, 784)), rng.random((3, 1, 28, 28))
    mu, log_var = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    got = negative_elbo(*(hg.tensor(a) for a in (logits, images, mu, log_var)), reduction="none")
    x = images.reshape(3, -1)
    probabilities = 1 / (1 + np.exp(-logits))
    bce = -(x * np.log(probabilities) + (1 - x) * np.log(1 - probabilities)).sum(1)
    kl = -0.5 * (1 + log_var - mu ** 2 - np.exp(log_var)).sum(1)
    np.testing.assert_allclose(got.numpy(), bce + kl, rtol=1e-10)


def test_reparameterisation_is_differentiable():
    mu = hg.tensor(np.random.default_rng(1).normal(size=(2, 3)), requires_grad=True)
    log_var = hg.tensor(np.random.default_rng(2).normal(size=(2, 3)), requires_grad=True)
    assert gradcheck(lambda m, v: reparameterize(m, v, generator=np.random.default_rng(0)),
                     [mu, log_var])


def test_cvae_conditions_on_the_label():
    model = models.build("cvae", **TINY["cvae"])
    hg.manual_seed(0)
    ones = model.sample(2, hg.tensor([1, 1])).detach().numpy()
    hg.manual_seed(0)
    sevens = model.sample(2, hg.tensor([7, 7])).detach().numpy()
    assert ones.shape == (2, 1, 28, 28) and not np.allclose(ones, sevens)
    with pytest.raises(ValueError, match="pass the labels"):
        model.sample(2)


def test_patch_embedding_matches_a_loop_over_patches():
    embedding = PatchEmbedding(7, 1, 5)
    images = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    got = embedding(hg.tensor(images)).detach().numpy()
    weight, bias = embedding.projection.weight._array, embedding.projection.bias._array
    for b in range(2):
        for row in range(4):
            for col in range(4):
                patch = images[b, 0, row * 7:(row + 1) * 7, col * 7:(col + 1) * 7].reshape(-1)
                np.testing.assert_allclose(got[b, row * 4 + col], weight @ patch + bias,
                                           rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="not divisible"):
        PatchEmbedding(5, 1, 4)(hg.zeros(1, 1, 28, 28))


def test_sinusoidal_positions_follow_the_transformer_formula():
    table = sinusoidal_positions(5, 8)
    position, pair = 3, 2
    angle = position / 10000 ** (2 * pair / 8)
    assert table[position, 2 * pair] == pytest.approx(math.sin(angle), abs=1e-6)
    assert table[position, 2 * pair + 1] == pytest.approx(math.cos(angle), abs=1e-6)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_variants(positions, pool):
    model = ViT(dim=8, depth=1, heads=2, mlp_dim=16, positions=positions, pool=pool)
    names = [name for name, _ in model.named_parameters()]
    assert ("class_token" in names) == (pool == "cls")
    assert ("position_embedding" in names) == (positions == "learned")
    assert model(hg.zeros(2, 1, 28, 28)).shape == (2, 10)
    relu = ViT(dim=8, depth=1, heads=2, mlp_dim=16, activation="relu")
    assert relu(hg.zeros(1, 1, 28, 28)).shape == (1, 10)
    with pytest.raises(ValueError, match="pool must be"):
        ViT(pool="max")


def test_registry_entries_build_and_describe_their_bar():
    assert set(REGISTRY) == {"mlp", "cnn", "vit", "cgan", "vae", "cvae", "captcha", "gpt"}
    for spec in REGISTRY.values():
        model = spec.builder(**spec.resolved_config(quick=True)["model"])
        assert isinstance(model, hg.nn.Module)
        assert spec.dataset in ("mnist", "captcha", "text") and spec.goal[0] in (">=", "<=")
        assert spec.task in TASKS
    assert REGISTRY["cgan"].meets_goal(0.95) and not REGISTRY["cgan"].meets_goal(0.94)
    config = REGISTRY["vit"].resolved_config(overrides={"model": {"pool": "mean"}, "lr": 0.5})
    assert config["model"]["pool"] == "mean" and config["model"]["dim"] == 64
    assert config["lr"] == 0.5 and REGISTRY["vit"].config["model"]["pool"] == "cls"
    with pytest.raises(KeyError, match="Did you mean 'vit'"):
        models.get_spec("vitt")
