"""Cross-check the sequence/attention layers against PyTorch, when PyTorch happens to be installed.

PyTorch's weights are loaded into the hybridgrad module through ``load_state_dict`` (so the
parameter names, shapes and gate order must agree), the same float64 inputs go through both, and
the largest absolute differences of outputs and input gradients are printed. PyTorch is not a
dependency of hybridgrad; this script is a one-off check.

Run: ``python benchmarks/compare_torch_seq.py``
"""

from __future__ import annotations

import sys

import numpy as np

import hybridgrad as hg
from hybridgrad.nn import activation as A
from hybridgrad.nn.attention import scaled_dot_product_attention

try:
    import torch
except ImportError:  # pragma: no cover - optional
    print("PyTorch is not installed; nothing to compare.")
    sys.exit(0)

torch.set_default_dtype(torch.float64)
RESULTS: list[tuple[str, float, float]] = []


def to_hg_state(module) -> dict:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def flatten(result) -> list:
    if isinstance(result, (tuple, list)):
        return [t for item in result for t in flatten(item)]
    return [] if result is None else [result]


def compare(name, torch_fn, hg_fn, inputs: list[np.ndarray], modules=None):
    """Run both on the same inputs; compare every output and the gradients of the inputs and
    (for modules) of every parameter, matched by name."""
    torch_inputs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    hg_inputs = [hg.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    torch_out, hg_out = flatten(torch_fn(*torch_inputs)), flatten(hg_fn(*hg_inputs))
    assert len(torch_out) == len(hg_out), name
    out_diff = max(float(np.max(np.abs(t.detach().numpy() - h._array)))
                   for t, h in zip(torch_out, hg_out))
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(t.shape) for t in torch_out]
    sum(((t * torch.tensor(w)).sum() for t, w in zip(torch_out, weights))).backward()
    sum(((h * hg.tensor(w)).sum() for h, w in zip(hg_out, weights))).backward()
    grad_diff = 0.0
    torch_module, hg_module = modules if modules is not None else (torch_fn, hg_fn)
    if isinstance(torch_module, torch.nn.Module) and isinstance(hg_module, hg.nn.Module):
        hg_parameters = dict(hg_module.named_parameters())
        for key, parameter in torch_module.named_parameters():
            got = hg_parameters[key].grad._array
            grad_diff = max(grad_diff, float(np.max(np.abs(parameter.grad.numpy() - got))))
            parameter.grad = None
        hg_module.zero_grad()
    for t, h in zip(torch_inputs, hg_inputs):
        if t.grad is not None:
            grad_diff = max(grad_diff, float(np.max(np.abs(t.grad.numpy() - h.grad._array))))
    RESULTS.append((name, out_diff, grad_diff))


def main() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 4))  # (N, L, F)

    for kind in ("RNN", "LSTM", "GRU"):
        for layers, bidirectional in ((1, False), (2, True)):
            torch_layer = getattr(torch.nn, kind)(4, 3, num_layers=layers,
                                                  bidirectional=bidirectional, batch_first=True)
            hg_layer = getattr(hg.nn, kind)(4, 3, num_layers=layers,
                                            bidirectional=bidirectional, batch_first=True,
                                            dtype=hg.float64)
            hg_layer.load_state_dict(to_hg_state(torch_layer))
            h0 = rng.standard_normal((layers * (2 if bidirectional else 1), 3, 3))
            if kind == "LSTM":
                c0 = rng.standard_normal(h0.shape)
                compare(f"{kind} layers={layers} bidirectional={bidirectional}",
                        lambda a, h, c, m=torch_layer: m(a, (h, c)),
                        lambda a, h, c, m=hg_layer: m(a, (h, c)), [x, h0, c0],
                        (torch_layer, hg_layer))
            else:
                compare(f"{kind} layers={layers} bidirectional={bidirectional}",
                        lambda a, h, m=torch_layer: m(a, h), lambda a, h, m=hg_layer: m(a, h),
                        [x, h0], (torch_layer, hg_layer))
    for kind in ("RNNCell", "LSTMCell", "GRUCell"):
        torch_cell, hg_cell = getattr(torch.nn, kind)(4, 3), getattr(hg.nn, kind)(
            4, 3, dtype=hg.float64)
        hg_cell.load_state_dict(to_hg_state(torch_cell))
        compare(kind, torch_cell, hg_cell, [x[:, 0]])

    for name in ("relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus"):
        compare(name, getattr(torch.nn.functional, name), getattr(A, name), [x])
    compare("gelu tanh", lambda a: torch.nn.functional.gelu(a, approximate="tanh"),
            lambda a: A.gelu(a, "tanh"), [x])
    compare("log_softmax", lambda a: torch.log_softmax(a, 1), lambda a: A.log_softmax(a, 1), [x])

    torch_norm, hg_norm = torch.nn.LayerNorm((5, 4)), hg.nn.LayerNorm((5, 4), dtype=hg.float64)
    with torch.no_grad():
        torch_norm.weight.normal_()
        torch_norm.bias.normal_()
    hg_norm.load_state_dict(to_hg_state(torch_norm))
    compare("LayerNorm", torch_norm, hg_norm, [x * 3 + 2])

    q, k, v = (rng.standard_normal((2, 3, 4, 5)) for _ in range(3))
    bool_mask = rng.standard_normal((4, 4)) > 0
    bool_mask[:, 0] = True
    float_mask = rng.standard_normal((4, 4))
    compare("sdpa", torch.nn.functional.scaled_dot_product_attention,
            scaled_dot_product_attention, [q, k, v])
    compare("sdpa bool mask",
            lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(
                a, b, c, attn_mask=torch.tensor(bool_mask)),
            lambda a, b, c: scaled_dot_product_attention(a, b, c, attn_mask=hg.tensor(bool_mask)),
            [q, k, v])
    compare("sdpa float mask + scale",
            lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(
                a, b, c, attn_mask=torch.tensor(float_mask), scale=0.7),
            lambda a, b, c: scaled_dot_product_attention(a, b, c,
                                                         attn_mask=hg.tensor(float_mask),
                                                         scale=0.7), [q, k, v])
    compare("sdpa causal",
            lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c,
                                                                             is_causal=True),
            lambda a, b, c: scaled_dot_product_attention(a, b, c, is_causal=True), [q, k, v])

    padding = np.array([[False] * 5, [False, False, True, True, True], [False] * 4 + [True]])
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    for kwargs in ({}, {"kdim": 3, "vdim": 2}):
        torch_mha = torch.nn.MultiheadAttention(4, 2, batch_first=True, **kwargs)
        hg_mha = hg.nn.MultiheadAttention(4, 2, batch_first=True, dtype=hg.float64, **kwargs)
        with torch.no_grad():
            for parameter in torch_mha.parameters():
                parameter.normal_()
        hg_mha.load_state_dict(to_hg_state(torch_mha))
        key = rng.standard_normal((3, 5, kwargs.get("kdim", 4)))
        value = rng.standard_normal((3, 5, kwargs.get("vdim", 4)))
        suffix = " kdim/vdim" if kwargs else ""
        compare("MultiheadAttention" + suffix, lambda a, b, c, m=torch_mha: m(a, b, c),
                lambda a, b, c, m=hg_mha: m(a, b, c), [x, key, value], (torch_mha, hg_mha))
        compare("MHA key_padding_mask + attn_mask, per-head weights" + suffix,
                lambda a, b, c, m=torch_mha: m(a, b, c, key_padding_mask=torch.tensor(padding),
                                               attn_mask=torch.tensor(causal),
                                               average_attn_weights=False),
                lambda a, b, c, m=hg_mha: m(a, b, c, key_padding_mask=hg.tensor(padding),
                                            attn_mask=hg.tensor(causal),
                                            average_attn_weights=False), [x, key, value],
                (torch_mha, hg_mha))

    src = rng.standard_normal((3, 5, 8))
    for norm_first in (False, True):
        for activation in ("relu", "gelu"):
            torch_layer = torch.nn.TransformerEncoderLayer(
                8, 2, dim_feedforward=16, dropout=0.0, activation=activation, batch_first=True,
                norm_first=norm_first)
            torch_encoder = torch.nn.TransformerEncoder(torch_layer, 2,
                                                        norm=torch.nn.LayerNorm(8),
                                                        enable_nested_tensor=False).eval()
            hg_layer = hg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                                     activation=activation, batch_first=True,
                                                     norm_first=norm_first, dtype=hg.float64)
            hg_encoder = hg.nn.TransformerEncoder(hg_layer, 2, norm=hg.nn.LayerNorm(
                8, dtype=hg.float64)).eval()
            with torch.no_grad():
                for parameter in torch_encoder.parameters():
                    parameter.normal_(std=0.5)
            hg_encoder.load_state_dict(to_hg_state(torch_encoder))
            compare(f"TransformerEncoder norm_first={norm_first} {activation} + padding mask",
                    lambda a, m=torch_encoder: m(a, src_key_padding_mask=torch.tensor(padding)),
                    lambda a, m=hg_encoder: m(a, src_key_padding_mask=hg.tensor(padding)), [src],
                    (torch_encoder, hg_encoder))

    tgt = rng.standard_normal((3, 4, 8))
    tgt_padding = np.array([[False] * 4, [False, False, False, True], [False] * 4])
    for norm_first in (False, True):
        torch_model = torch.nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=2,
                                           dim_feedforward=16, dropout=0.0, batch_first=True,
                                           norm_first=norm_first).eval()
        hg_model = hg.nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=2,
                                     dim_feedforward=16, dropout=0.0, batch_first=True,
                                     norm_first=norm_first, dtype=hg.float64).eval()
        with torch.no_grad():
            for parameter in torch_model.parameters():
                parameter.normal_(std=0.5)
        hg_model.load_state_dict(to_hg_state(torch_model))
        torch_mask = torch.nn.Transformer.generate_square_subsequent_mask(4)
        hg_mask = hg.nn.Transformer.generate_square_subsequent_mask(4, dtype=hg.float64)
        compare(f"Transformer norm_first={norm_first} causal tgt + padding masks",
                lambda a, b, m=torch_model, mask=torch_mask: m(
                    a, b, tgt_mask=mask, src_key_padding_mask=torch.tensor(padding),
                    tgt_key_padding_mask=torch.tensor(tgt_padding),
                    memory_key_padding_mask=torch.tensor(padding)),
                lambda a, b, m=hg_model, mask=hg_mask: m(
                    a, b, tgt_mask=mask, src_key_padding_mask=hg.tensor(padding),
                    tgt_key_padding_mask=hg.tensor(tgt_padding),
                    memory_key_padding_mask=hg.tensor(padding)),
                [src, tgt], (torch_model, hg_model))

    width = max(len(name) for name, _, _ in RESULTS)
    print(f"PyTorch {torch.__version__}, float64; max |difference|")
    print(f"{'check':<{width}}  {'outputs':>9}  {'gradients':>11}")
    for name, out_diff, grad_diff in RESULTS:
        print(f"{name:<{width}}  {out_diff:>9.1e}  {grad_diff:>11.1e}")
    worst = max(max(o, g) for _, o, g in RESULTS)
    print(f"worst: {worst:.1e}")
    sys.exit(0 if worst < 1e-8 else 1)


if __name__ == "__main__":
    main()
