"""The GPT's mixture-of-experts MLP: the Switch load-balancing loss (hand-computed values and a
float64 gradient check), the layer against a per-token loop, and a MoE GPT training step."""

from __future__ import annotations

import numpy as np
import pytest

import hybridgrad as hg
from hybridgrad.nn import functional as F
from hybridgrad.testing import gradcheck


def test_switch_balance_loss_hand_computed_values_and_gradcheck():
    from hybridgrad.models.gpt_moe import switch_balance_loss

    probabilities = hg.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.25, 0.25],
                               [0.2, 0.2, 0.6]])
    first = np.array([0, 1, 0, 2])
    # f = (2/4, 1/4, 1/4); P = (1.5/4, 1.25/4, 1.25/4); 3 * sum f P = 3 * 5.5 / 16.
    assert switch_balance_loss(probabilities, first, 3).item() == pytest.approx(1.03125)
    logits = hg.tensor(np.random.default_rng(0).normal(size=(6, 4)), requires_grad=True)
    choice = np.array([0, 3, 3, 1, 2, 3])
    assert gradcheck(lambda z: switch_balance_loss(F.softmax(z, dim=-1), choice, 4), (logits,))


@pytest.mark.parametrize("top_k", [1, 2])
def test_moe_layer_gradcheck_and_equals_its_experts(top_k):
    from hybridgrad.models.gpt_moe import MoEMLP

    hg.manual_seed(0)
    layer = MoEMLP(4, experts=3, top_k=top_k)
    for parameter in layer.parameters():
        parameter._array = parameter._array.astype(np.float64)
    x = hg.tensor(np.random.default_rng(1).normal(size=(2, 5, 4)), requires_grad=True)
    out = layer(x)
    # Against a per-token loop: the gated sum of the chosen experts' outputs.
    probabilities = F.softmax(layer.router(x.reshape(10, 4)), dim=-1)._array
    expected = np.zeros((10, 4))
    for token in range(10):
        chosen = np.argsort(-probabilities[token], kind="stable")[:top_k]
        gates = probabilities[token, chosen] / probabilities[token, chosen].sum()
        if top_k == 1:
            gates = probabilities[token, chosen]
        for expert, gate in zip(chosen, gates):
            row = x.reshape(10, 4)[token:token + 1]
            expected[token] += gate * layer.experts[int(expert)](row)._array[0]
    np.testing.assert_allclose(out._array.reshape(10, 4), expected, rtol=1e-12, atol=1e-12)
    assert layer.last_load.sum() == 10

    def through_router_and_experts(value):
        return layer(value) + layer.last_balance_loss

    assert gradcheck(through_router_and_experts, (x,))
    router = layer.router.weight
    layer(x).sum().backward()
    assert router.grad is not None and np.abs(router.grad._array).sum() > 0


def test_moe_gpt_trains_and_reports_the_balance_loss():
    from hybridgrad.models.gpt import GPT

    hg.manual_seed(0)
    model = GPT(vocab_size=7, block_size=8, n_layer=2, n_head=2, n_embd=8, moe_experts=4)
    names = list(model.state_dict())
    assert "transformer.h.0.mlp.router.weight" in names
    assert "transformer.h.1.mlp.experts.3.c_fc.weight" in names
    ids = np.random.default_rng(0).integers(0, 7, (3, 8))
    _, loss = model(ids, ids)
    balance = model.auxiliary_loss()
    assert 1.0 <= balance.item() <= 4.0
    (loss + balance * 0.01).backward()
    assert all(p.grad is not None for p in model.parameters())
