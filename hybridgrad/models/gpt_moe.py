"""Mixture-of-experts MLP for the GPT (the sparse Transformer of the ``sparse-vs-dense`` lab
experiment): a router sends each token to ``top_k`` of ``E`` expert MLPs (each the size of the
dense MLP), so the compute per token stays that of ``top_k`` MLPs while the parameters grow
``E`` times.

Routing as in the Switch Transformer (Fedus et al. 2021): router probabilities
``softmax(x W_r)``, each token goes to its most probable expert(s) and the expert's output is
scaled by that probability (renormalised over the chosen experts when ``top_k > 1``), so the
router learns through the gate. The auxiliary load-balancing loss is
``E * sum_e f_e * P_e`` (``f_e``: fraction of tokens whose first choice is ``e``, a constant;
``P_e``: mean router probability of ``e``), 1 when the load is uniform and ``E`` when every
token goes to one expert with certainty. No capacity limit: no token is dropped.

Example:
    >>> import numpy as np
    >>> import hybridgrad as hg
    >>> hg.manual_seed(0)
    >>> layer = MoEMLP(n_embd=8, experts=4, top_k=1)
    >>> layer(hg.randn(2, 5, 8)).shape, int(layer.last_load.sum())
    ((2, 5, 8), 10)
    >>> 1.0 <= layer.last_balance_loss.item() <= 4.0
    True
"""

from __future__ import annotations

import numpy as np

import hybridgrad as hg
from hybridgrad import nn
from hybridgrad.nn import functional as F

__all__ = ["MoEMLP", "switch_balance_loss"]


def switch_balance_loss(router_probabilities, first_choice: np.ndarray, experts: int):
    """The Switch Transformer's auxiliary loss ``E * sum_e f_e * P_e`` for router
    probabilities ``(tokens, E)`` and each token's first-choice expert (int array).

    Example:
        >>> import hybridgrad as hg
        >>> uniform = hg.full((4, 2), 0.5)
        >>> switch_balance_loss(uniform, np.array([0, 1, 0, 1]), 2).item()
        1.0
        >>> switch_balance_loss(hg.tensor([[1.0, 0.0]] * 4), np.zeros(4, int), 2).item()
        2.0
    """
    choice = np.asarray(first_choice).reshape(-1)
    fractions = np.bincount(choice, minlength=experts).astype(np.float64) / max(len(choice), 1)
    dtype = router_probabilities.dtype
    mean_probabilities = router_probabilities.mean(0)
    return (mean_probabilities * hg.tensor(fractions.astype(dtype))).sum() * float(experts)


class MoEMLP(nn.Module):
    """``router`` (C -> E, no bias) and ``experts`` (E MLPs C -> 4C -> C).

    After each forward: ``last_balance_loss`` (a tensor in the graph), ``last_load`` (tokens
    per expert, first choices) and ``load`` (the running sum of ``last_load`` in training).

    Example:
        >>> import hybridgrad as hg
        >>> MoEMLP(4, experts=2, top_k=2)(hg.zeros(1, 3, 4)).shape
        (1, 3, 4)
    """

    def __init__(self, n_embd: int, experts: int = 4, top_k: int = 1, dropout: float = 0.0,
                 bias: bool = True):
        super().__init__()
        from hybridgrad.models.gpt import MLP

        if experts < 1 or not 1 <= top_k <= experts:
            raise ValueError(f"MoEMLP: need experts >= 1 and 1 <= top_k <= experts, got "
                             f"experts={experts}, top_k={top_k}")
        self.num_experts, self.top_k = int(experts), int(top_k)
        self.router = nn.Linear(n_embd, experts, bias=False)
        self.experts = nn.ModuleList([MLP(n_embd, dropout, bias) for _ in range(experts)])
        self.last_balance_loss = None
        self.last_load = np.zeros(experts, dtype=np.int64)
        self.load = np.zeros(experts, dtype=np.int64)

    def forward(self, x):
        shape = tuple(x.shape)
        tokens = x.reshape(-1, shape[-1])
        count = tokens.shape[0]
        probabilities = F.softmax(self.router(tokens), dim=-1)  # (tokens, E)
        ranked = np.argsort(-probabilities._array, axis=-1, kind="stable")[:, :self.top_k]
        self.last_balance_loss = switch_balance_loss(probabilities, ranked[:, 0],
                                                     self.num_experts)
        self.last_load = np.bincount(ranked[:, 0], minlength=self.num_experts)
        if self.training:
            self.load = self.load + self.last_load
        # One row per (token, chosen expert), grouped by expert: each expert runs once on a
        # contiguous block of its tokens.
        token_of = np.repeat(np.arange(count), self.top_k)
        expert_of = ranked.reshape(-1)
        order = np.argsort(expert_of, kind="stable")
        token_of, expert_of = token_of[order], expert_of[order]
        gates = probabilities[token_of, expert_of]  # (rows,)
        if self.top_k > 1:  # renormalise over the chosen experts
            chosen = probabilities[np.arange(count)[:, None], ranked].sum(-1)
            gates = gates / chosen[token_of]
        bounds = np.searchsorted(expert_of, np.arange(self.num_experts + 1))
        outputs = []
        for expert in range(self.num_experts):
            start, stop = int(bounds[expert]), int(bounds[expert + 1])
            if stop > start:
                outputs.append(self.experts[expert](tokens[token_of[start:stop]]))
        mixed = hg.cat(outputs, 0) * gates.unsqueeze(-1)
        if self.top_k == 1:
            inverse = np.empty_like(token_of)
            inverse[token_of] = np.arange(len(token_of))
            combined = mixed[inverse]
        else:  # a token's rows are summed
            combined = hg.ops.api.index_put_add((count, shape[-1]), token_of, mixed)
        return combined.reshape(shape)
