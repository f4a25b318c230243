"""The character-level GPT: causal masking, the loss against an independent NumPy forward, the
key/value cache, sampling's distribution, nanoGPT's state-dict names, the tokenizer and bitwise
resume of ``hybridgrad train gpt``."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybridgrad as hg
from hybridgrad.data.text import (
    CharTokenizer,
    TextBatches,
    UnknownCharacterError,
    load_corpus,
    split_ids,
)
from hybridgrad.models import get_spec
from hybridgrad.models.gpt import GPT, optimizer_groups, sample_next
from hybridgrad.training import Trainer, load_checkpoint, read_metrics


def _tiny(seed=0, **options):
    hg.manual_seed(seed)
    config = {"vocab_size": 7, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 8}
    return GPT(**{**config, **options})


# ---- the model ---------------------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(position=st.integers(0, 7), token=st.integers(0, 6), seed=st.integers(0, 3))
def test_a_later_token_never_changes_an_earlier_logit(position, token, seed):
    model = _tiny(seed)
    model.eval()
    ids = np.random.default_rng(seed).integers(0, 7, (2, 8))
    changed = ids.copy()
    changed[:, position] = token
    with hg.no_grad():
        before = model(ids)[0].numpy()
        after = model(changed)[0].numpy()
    np.testing.assert_array_equal(before[:, :position], after[:, :position])
    if token != ids[0, position]:  # the changed position itself does see the change
        assert not np.array_equal(before[0, position:], after[0, position:])


def _layer_norm(x, weight, bias):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + 1e-5) * weight + bias


def _reference_logits(state, ids, heads):
    """nanoGPT's forward written out in float64 NumPy from the state dict."""
    p = {name: tensor.numpy().astype(np.float64) for name, tensor in state.items()}
    length = ids.shape[1]
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][:length]
    layer = 0
    while f"transformer.h.{layer}.ln_1.weight" in p:
        prefix = f"transformer.h.{layer}."
        h = _layer_norm(x, p[prefix + "ln_1.weight"], p[prefix + "ln_1.bias"])
        qkv = h @ p[prefix + "attn.c_attn.weight"].T + p[prefix + "attn.c_attn.bias"]
        channels = x.shape[-1]
        q, k, v = (qkv[..., i * channels:(i + 1) * channels] for i in range(3))
        size = channels // heads
        out = np.zeros_like(q)
        for head in range(heads):
            part = slice(head * size, (head + 1) * size)
            scores = q[..., part] @ np.swapaxes(k[..., part], -1, -2) / math.sqrt(size)
            scores = scores + np.triu(np.full((length, length), -np.inf), 1)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            weights /= weights.sum(-1, keepdims=True)
            out[..., part] = weights @ v[..., part]
        x = x + out @ p[prefix + "attn.c_proj.weight"].T + p[prefix + "attn.c_proj.bias"]
        h = _layer_norm(x, p[prefix + "ln_2.weight"], p[prefix + "ln_2.bias"])
        h = h @ p[prefix + "mlp.c_fc.weight"].T + p[prefix + "mlp.c_fc.bias"]
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        x = x + h @ p[prefix + "mlp.c_proj.weight"].T + p[prefix + "mlp.c_proj.bias"]
        layer += 1
    x = _layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"])
    return x @ p["lm_head.weight"].T


def test_logits_and_loss_equal_a_hand_written_forward_and_cross_entropy():
    model = _tiny(3)
    for parameter in model.parameters():  # non-trivial gains and biases
        parameter._array[...] += np.random.default_rng(1).normal(
            0, 0.1, parameter.shape).astype(np.float32)
    ids = np.random.default_rng(2).integers(0, 7, (3, 6))
    targets = np.random.default_rng(3).integers(0, 7, (3, 6))
    logits, loss = model(ids, targets)
    expected = _reference_logits(model.state_dict(), ids, heads=2)
    np.testing.assert_allclose(logits.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
    log_probs = expected - np.log(np.exp(expected).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probs, targets[..., None], -1).mean()
    assert loss.item() == pytest.approx(cross_entropy, rel=1e-5)


def test_state_dict_has_nanogpts_names_and_a_tied_output():
    names = list(_tiny(n_layer=1).state_dict())
    assert names == [
        "transformer.wte.weight", "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
        "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
        "transformer.h.0.attn.c_proj.weight", "transformer.h.0.attn.c_proj.bias",
        "transformer.h.0.ln_2.weight", "transformer.h.0.ln_2.bias",
        "transformer.h.0.mlp.c_fc.weight", "transformer.h.0.mlp.c_fc.bias",
        "transformer.h.0.mlp.c_proj.weight", "transformer.h.0.mlp.c_proj.bias",
        "transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"]
    model, other = _tiny(0), _tiny(1)
    other.load_state_dict(model.state_dict())
    assert other.lm_head.weight is other.transformer.wte.weight
    ids = np.arange(5)[None]
    np.testing.assert_array_equal(model(ids)[0]._array, other(ids)[0]._array)


def test_without_biases_the_state_dict_is_nanogpts_default_one():
    # nanoGPT's train.py trains with bias=False: 6 matrices or gains per block.
    model = _tiny(n_layer=1, bias=False)
    names = list(model.state_dict())
    assert len(names) == 2 + 6 + 2 and not any(name.endswith(".bias") for name in names)
    _, loss = model(np.arange(6)[None], np.arange(1, 7)[None])
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    composite = hg.nn.LayerNorm(8, bias=False)
    x = hg.randn(2, 8)
    np.testing.assert_allclose(model.transformer.ln_f(x).detach().numpy(),
                               composite(x).detach().numpy(), atol=1e-5)


def test_weight_decay_only_on_matrices_and_errors_name_shapes():
    model = _tiny()
    decay, no_decay = optimizer_groups(model, 0.1)
    assert all(len(p.shape) == 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(len(p.shape) == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0
    with pytest.raises(ValueError, match="exceeds the context"):
        model(np.zeros((1, 9), np.int64))
    with pytest.raises(ValueError, match=r"targets must have the shape of idx \(1, 3\)"):
        model(np.zeros((1, 3), np.int64), np.zeros((1, 4), np.int64))


def test_gradients_reach_every_parameter_and_the_loss_falls():
    model = _tiny(0)
    optimizer = hg.optim.AdamW(optimizer_groups(model, 0.0), lr=1e-2)
    ids = np.tile(np.arange(7), 2)[None, :9]
    first = None
    for _ in range(30):
        optimizer.zero_grad()
        _, loss = model(ids[:, :8], ids[:, 1:9])
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.3 * first


# ---- generation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.8, 3), (0.0, None)])
def test_cached_and_uncached_generation_give_identical_tokens(temperature, top_k):
    model = _tiny(4, block_size=24)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    cached = model.generate(prompt, 20, temperature, top_k, np.random.default_rng(9))
    uncached = model.generate(prompt, 20, temperature, top_k, np.random.default_rng(9),
                              use_cache=False)
    np.testing.assert_array_equal(cached, uncached)
    assert cached.shape == (2, 23) and model.training  # the mode is given back


def test_generation_past_the_context_keeps_going_in_both_modes():
    model = _tiny(5)
    for use_cache in (True, False):
        ids = model.generate([[0]], 30, 1.0, None, np.random.default_rng(0), use_cache=use_cache)
        assert ids.shape == (1, 31) and ids.max() < 7


def test_top_k_and_temperature_draw_from_the_right_distribution():
    logits = np.array([[2.0, 1.0, 0.5, 0.0, -1.0]])
    draws = 20000
    generator = np.random.default_rng(0)
    for temperature, top_k in ((0.5, 3), (2.0, None), (1.0, 1)):
        counts = np.zeros(5)
        for _ in range(draws // 100):
            rows = sample_next(np.repeat(logits, 100, 0), temperature, top_k, generator)
            counts += np.bincount(rows, minlength=5)
        scaled = logits[0] / temperature
        keep = np.argsort(scaled)[::-1][:top_k or 5]
        expected = np.zeros(5)
        expected[keep] = np.exp(scaled[keep]) / np.exp(scaled[keep]).sum()
        assert counts[expected == 0].sum() == 0  # never outside the top k
        observed = counts[expected > 0]
        wanted = expected[expected > 0] * draws
        chi_square = float(((observed - wanted) ** 2 / wanted).sum())
        # 4 degrees of freedom at most: the 0.999 quantile is 18.5.
        assert chi_square < 18.5, (temperature, top_k, counts, wanted)


# ---- data --------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_tokenizer_round_trips_any_text(text):
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text and ids.max() < tokenizer.vocab_size
    assert CharTokenizer.from_json(tokenizer.to_json()).chars == tokenizer.chars


def test_tokenizer_refuses_characters_outside_its_vocabulary():
    tokenizer = CharTokenizer.from_text(load_corpus())
    assert tokenizer.vocab_size == 65 and tokenizer.chars[:3] == "\n !"
    with pytest.raises(UnknownCharacterError, match=r"'é' \(U\+00E9\) at position 3"):
        tokenizer.encode("café")
    with pytest.raises(UnknownCharacterError, match="U\\+1F600"):
        tokenizer.encode("a\U0001f600")
    with pytest.raises(ValueError, match="ids must lie in"):
        tokenizer.decode([65])


def test_split_and_batches_follow_the_references(tmp_path):
    text = load_corpus()
    train, val = split_ids(CharTokenizer.from_text(text).encode(text))
    assert (len(train), len(val)) == (1003854, 111540)  # nanoGPT's prepare.py counts
    loader = TextBatches(train, 64, 12, 3, seed=0)
    x, y = next(iter(loader))
    assert x.shape == (12, 64) and np.array_equal(x[:, 1:], y[:, :-1])
    again = next(iter(TextBatches(train, 64, 12, 3, seed=0)))[0]
    assert np.array_equal(x, again)
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok \xff")
    with pytest.raises(ValueError, match="not UTF-8 text: byte 3"):
        load_corpus(str(path))


# ---- training ----------------------------------------------------------------------------------


def test_interrupted_training_resumes_bitwise(tmp_path):
    spec = get_spec("gpt")
    config = spec.resolved_config(quick=True, overrides={"model": {"dropout": 0.1}})
    config["seed"] = 3

    def states(path):
        return load_checkpoint(path)

    straight = Trainer(spec, config, str(tmp_path / "straight"), progress=False)
    straight.run()

    def press_ctrl_c(trainer):
        if trainer.global_step == 7:
            os.kill(os.getpid(), signal.SIGINT)

    interrupted = Trainer(spec, config, str(tmp_path / "split"), progress=False,
                          step_callback=press_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        interrupted.run()
    resumed = Trainer(spec, config, str(tmp_path / "split"), progress=False)
    resumed.run(resume=interrupted.checkpoint_path)
    a, b = states(straight.checkpoint_path), states(resumed.checkpoint_path)
    assert a["progress"] == b["progress"] and a["loader"] == b["loader"] and a["rng"] == b["rng"]
    for key in a["model_state"]:
        np.testing.assert_array_equal(a["model_state"][key].numpy(),
                                      b["model_state"][key].numpy(), err_msg=key)

    def comparable(path):
        return [{k: v for k, v in record.items() if k not in ("seconds", "tokens_per_second")}
                for record in read_metrics(path)]

    assert comparable(straight.metrics_path) == comparable(resumed.metrics_path)
    epochs = [r for r in read_metrics(straight.metrics_path) if r["kind"] == "epoch"]
    assert [r["step"] for r in epochs] == [5, 10] and all("val_loss" in r for r in epochs)
    assert (tmp_path / "straight" / "sample.txt").read_text(encoding="utf-8")


def test_train_then_sample_from_the_command_line(tmp_path, capsys):
    from hybridgrad.cli import main

    text = tmp_path / "poem.txt"
    text.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "gpt", "--quick", "--no-progress", "--data", str(text),
                 "--out", str(out)]) == 0
    checkpoint = str(out / "checkpoint.safetensors")
    assert load_checkpoint(checkpoint)["config"].count('"vocab": " .acehmnost"') == 1
    capsys.readouterr()
    common = ["sample", "gpt", "--checkpoint", checkpoint, "--prompt", "the ", "--tokens", "12",
              "--seed", "1"]
    assert main(common) == 0
    cached = capsys.readouterr().out
    assert main([*common, "--no-cache"]) == 0
    assert capsys.readouterr().out == cached  # prompt + 12 characters fit the context of 16
    assert cached.startswith("the ") and len(cached.rstrip("\n")) == 16
    assert main([*common[:-6], "--prompt", "THE"]) == 2
    assert "'T' (U+0054) at position 0 is not in the vocabulary" in capsys.readouterr().err
    assert main(["train", "gpt", "--preset", "huge", "--quick"]) == 2
    assert "gpt has no preset 'huge'; its presets: small, tiny" in capsys.readouterr().err


# ---- ONNX ----------------------------------------------------------------------------------------


def test_onnx_export_keeps_batch_and_length_dynamic_and_matches_eager(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    from hybridgrad.models.gpt import export_onnx

    model = _tiny(6, block_size=12)
    path = str(tmp_path / "gpt.onnx")
    export_onnx(model, path, length=5)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    for batch, length in ((1, 1), (3, 7), (2, 12)):
        ids = np.random.default_rng(length).integers(0, 7, (batch, length))
        (actual,) = session.run(None, {"idx": ids})
        with hg.no_grad():
            expected = model(ids)[0].numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


def test_export_command_writes_a_trained_gpt(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from hybridgrad.cli import main

    out = tmp_path / "run"
    assert main(["train", "gpt", "--quick", "--no-progress", "--out", str(out)]) == 0
    path = tmp_path / "gpt.onnx"
    assert main(["export", "gpt", "--checkpoint", str(out / "checkpoint.safetensors"), "-o",
                 str(path)]) == 0
    assert "onnxruntime vs eager (2 x 16 tokens): max |difference|" in capsys.readouterr().out
    assert path.exists()
