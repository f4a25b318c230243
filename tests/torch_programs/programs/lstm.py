# ruff: noqa: UP031, UP032, N817, B007 - written as PyTorch users write (%-formatting, DDP alias)
"""An LSTM sequence model in the ordinary PyTorch style: predict the next value of a sine."""
import math

import torch
import torch.nn as nn


class Predictor(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        output, (h, c) = self.lstm(x)
        return self.head(output[:, -1, :])


torch.manual_seed(0)
steps = torch.arange(0, 200, dtype=torch.float32) * 0.1
wave = torch.sin(steps)
windows = torch.stack([wave[i:i + 10] for i in range(180)]).unsqueeze(-1)
targets = torch.stack([wave[i + 10:i + 11] for i in range(180)])
model = Predictor()
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
loss_fn = nn.MSELoss()
first = None
for epoch in range(40):
    optimizer.zero_grad()
    loss = loss_fn(model(windows), targets)
    loss.backward()
    optimizer.step()
    first = loss.item() if first is None else first
print("first loss %.5f last loss %.5f" % (first, loss.item()))
assert not math.isnan(loss.item())
