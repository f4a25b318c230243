# ruff: noqa: UP031, UP032, N817, B007 - written as PyTorch users write (%-formatting, DDP alias)
"""A small transformer language model in the ordinary PyTorch style: learn to copy a cycle."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyLM(nn.Module):
    def __init__(self, vocab=8, width=32, context=8):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(context, width)
        layer = nn.TransformerEncoderLayer(d_model=width, nhead=4, dim_feedforward=64,
                                           dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(width, vocab)
        self.context = context

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tokens(idx) + self.positions(torch.arange(t))
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        return self.head(self.encoder(x, mask=mask))


torch.manual_seed(0)
sequence = torch.tensor([i % 8 for i in range(64)])
batch = torch.stack([sequence[i:i + 8] for i in range(0, 48, 2)])
targets = torch.stack([sequence[i + 1:i + 9] for i in range(0, 48, 2)])
model = TinyLM()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
for step in range(60):
    logits = model(batch)
    loss = F.cross_entropy(logits.reshape(-1, 8), targets.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 20 == 0:
        print("step", step, "loss", round(loss.item(), 4))
print("final loss", round(loss.item(), 4))
