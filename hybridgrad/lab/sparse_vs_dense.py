"""Sparse versus dense Transformers: does a mixture-of-experts GPT train faster for the same
compute? A dense character-level GPT and a mixture-of-experts GPT (Switch routing, top-1 over
``E`` expert MLPs, each the size of the dense MLP: the same compute per token, ``E`` times the
MLP parameters) train on Tiny Shakespeare with the same data, seed, optimizer and wall-time
budget. Their steps are interleaved (dense, sparse, dense...) so both see the same machine load;
each model's clock counts only its own steps. Validation loss is measured on the same fixed
batches against wall time and against tokens seen.

Example:
    >>> loss_at([0, 10, 20], [3.0, 2.0, 1.0], 15)
    1.5
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import hybridgrad as hg
from hybridgrad.lab import Result
from hybridgrad.lab.common import fmt, markdown_table, outcome, plt, save, verdict

CLAIM_ZH = "超大LLM模型Transformer的稀疏化：相同算力下提高训练速度"
CLAIM_EN = ("Sparsifying the Transformer of very large language models: faster training for the "
            "same compute.")

MARGIN = 0.01  # nats: a smaller difference in validation loss counts as a tie


def loss_at(xs, losses, x: float) -> float:
    """Validation loss interpolated linearly at ``x`` (a time or a token count)."""
    return float(np.interp(x, xs, losses))


def _train_interleaved(models: dict, train, evaluation, budget: float, eval_every: int,
                       lr: float) -> dict:
    """Alternate one step of each model until each has used ``budget`` seconds of its own."""
    from hybridgrad.models.gpt import optimizer_groups

    state = {}
    for name, model in models.items():
        optimizer = hg.optim.AdamW(optimizer_groups(model, 0.1), lr=lr, betas=(0.9, 0.99))
        state[name] = {"model": model, "optimizer": optimizer, "seconds": 0.0, "steps": 0,
                       "tokens": 0, "curve": [], "generator": np.random.default_rng(0)}

    def evaluate(entry):
        model = entry["model"]
        model.eval()
        with hg.no_grad():
            value = float(np.mean([model(x, y)[1].item() for x, y in evaluation]))
        model.train()
        entry["curve"].append((entry["seconds"], entry["tokens"], value))

    for entry in state.values():
        evaluate(entry)
    while any(entry["seconds"] < budget for entry in state.values()):
        for entry in state.values():
            if entry["seconds"] >= budget:
                continue
            x, y = train.sample(entry["generator"])  # the same batches for both models
            model, optimizer = entry["model"], entry["optimizer"]
            start = time.perf_counter()
            optimizer.zero_grad()
            _, loss = model(x, y)
            aux = model.auxiliary_loss()
            (loss if aux is None else loss + aux * 0.01).backward()
            hg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            entry["seconds"] += time.perf_counter() - start
            entry["steps"] += 1
            entry["tokens"] += x.size
            if entry["steps"] % eval_every == 0:
                evaluate(entry)
    for entry in state.values():
        if entry["curve"][-1][1] != entry["tokens"]:
            evaluate(entry)
    return state


def run(out_dir: Path, quick: bool = False, seed: int = 0) -> Result:
    """Train both models for the same wall time; compare validation loss at equal time and
    at equal tokens."""
    from hybridgrad.data.text import CharTokenizer, TextBatches, load_corpus, split_ids
    from hybridgrad.models.gpt import GPT

    out_dir = Path(out_dir)
    experts = 4
    config = ({"block_size": 32, "n_layer": 1, "n_head": 2, "n_embd": 32} if quick else
              {"block_size": 64, "n_layer": 2, "n_head": 4, "n_embd": 64})
    budget, batch, eval_every, eval_batches = ((3.0, 8, 10, 2) if quick else
                                               (150.0, 16, 50, 10))
    text = load_corpus()
    tokenizer = CharTokenizer.from_text(text)
    train_ids, val_ids = split_ids(tokenizer.encode(text))
    train = TextBatches(train_ids, config["block_size"], batch, 1, seed)
    val = TextBatches(val_ids, config["block_size"], batch, 1, seed)
    val_generator = np.random.default_rng(seed + 1)
    evaluation = [val.sample(val_generator) for _ in range(eval_batches)]
    models = {}
    for name, extra in (("dense", {}), ("sparse", {"moe_experts": experts, "moe_top_k": 1})):
        hg.manual_seed(seed)  # the same initial attention and embedding weights
        models[name] = GPT(vocab_size=tokenizer.vocab_size, **config, **extra)
    state = _train_interleaved(models, train, evaluation, budget, eval_every, 1e-3)

    numbers: dict = {"budget_seconds": budget, "experts": experts, "top_k": 1, **config,
                     "batch_size": batch}
    for name, entry in state.items():
        model = entry["model"]
        numbers[name] = {
            "parameters": int(sum(np.prod(p.shape) for p in model.parameters())),
            "steps": entry["steps"], "tokens": entry["tokens"],
            "seconds": round(entry["seconds"], 3),
            "tokens_per_second": entry["tokens"] / max(entry["seconds"], 1e-9),
            "final_val_loss": entry["curve"][-1][2],
            "curve": [list(point) for point in entry["curve"]]}
    dense, sparse = state["dense"]["curve"], state["sparse"]["curve"]
    common_tokens = min(dense[-1][1], sparse[-1][1])
    at_tokens = {name: loss_at([p[1] for p in curve], [p[2] for p in curve], common_tokens)
                 for name, curve in (("dense", dense), ("sparse", sparse))}
    at_time = {name: numbers[name]["final_val_loss"] for name in ("dense", "sparse")}
    loads = [block.mlp.load.tolist() for block in models["sparse"].transformer.h]
    fractions = [np.asarray(load) / max(sum(load), 1) for load in loads]
    numbers.update({"common_tokens": common_tokens, "val_loss_at_common_tokens": at_tokens,
                    "val_loss_at_equal_time": at_time, "expert_load": loads,
                    "expert_load_fractions": [f.tolist() for f in fractions],
                    "mlp_flops_per_token": {"dense": 16 * config["n_embd"] ** 2,
                                            "sparse": 16 * config["n_embd"] ** 2
                                            + 2 * config["n_embd"] * experts}})
    checks = {"sparse reaches a lower validation loss in the same wall time":
              at_time["sparse"] < at_time["dense"] - MARGIN,
              "sparse reaches a lower validation loss after the same tokens":
              at_tokens["sparse"] < at_tokens["dense"] - MARGIN}
    numbers["checks"] = checks
    failed, supported = outcome(checks)
    speed = numbers["sparse"]["tokens_per_second"] / numbers["dense"]["tokens_per_second"]
    because = (f"in {fmt(budget)} s each, validation loss dense {fmt(at_time['dense'])} vs "
               f"sparse ({experts} experts, top-1) {fmt(at_time['sparse'])}; after "
               f"{common_tokens} tokens dense {fmt(at_tokens['dense'])} vs sparse "
               f"{fmt(at_tokens['sparse'])}; the sparse model processed {fmt(speed)}x the "
               f"dense one's tokens per second with {fmt(numbers['sparse']['parameters'])} vs "
               f"{fmt(numbers['dense']['parameters'])} parameters (same MLP FLOPs per token "
               f"plus a {experts}-way router)")
    if failed:
        because += ". Failed checks: " + "; ".join(failed)

    pyplot = plt()
    figure, (by_time, by_tokens) = pyplot.subplots(1, 2, figsize=(11, 4))
    for name, curve in (("dense", dense), ("sparse", sparse)):
        label = "dense GPT" if name == "dense" else f"MoE GPT ({experts} experts, top-1)"
        by_time.plot([p[0] for p in curve], [p[2] for p in curve], marker=".", label=label)
        by_tokens.plot([p[1] for p in curve], [p[2] for p in curve], marker=".", label=label)
    by_time.set_xlabel("training wall time of the model (s)")
    by_tokens.set_xlabel("tokens seen")
    for axes in (by_time, by_tokens):
        axes.set_ylabel("validation loss (nats/char)")
        axes.grid(alpha=0.3)
        axes.legend()
    curves = save(figure, out_dir / "val-loss.png")
    figure, axes = pyplot.subplots(figsize=(6, 3.5))
    width = 0.8 / len(fractions)
    for layer, fraction in enumerate(fractions):
        axes.bar(np.arange(experts) + layer * width, fraction, width, label=f"layer {layer}")
    axes.axhline(1.0 / experts, color="gray", linestyle="--", label="uniform")
    axes.set_xlabel("expert")
    axes.set_ylabel("fraction of training tokens")
    axes.set_xticks(np.arange(experts) + width * (len(fractions) - 1) / 2)
    axes.set_xticklabels([str(e) for e in range(experts)])
    axes.legend()
    histogram = save(figure, out_dir / "expert-load.png")

    rows = [[name, numbers[name]["parameters"], numbers[name]["steps"], numbers[name]["tokens"],
             numbers[name]["tokens_per_second"], at_tokens[name], at_time[name]]
            for name in ("dense", "sparse")]
    details = markdown_table(["model", "parameters", "steps", "tokens", "tokens/s",
                              f"val loss at {common_tokens} tokens",
                              f"val loss after {fmt(budget)} s"], rows)
    details += "\n\nExpert load (fraction of training tokens per expert, first choice):\n\n"
    details += markdown_table(["layer"] + [f"expert {e}" for e in range(experts)],
                              [[layer] + list(f) for layer, f in enumerate(fractions)])
    return Result(verdict(supported, because), supported, numbers, [curves, histogram],
                  details=details)
