# ruff: noqa: UP031, UP032, N806, N816, N817, B007, A002 - written as PyTorch users write
"""An LSTM regression in the time_sequence_prediction style: double precision, LBFGS, a
closure, in-place hidden-state tensors on a device."""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 16)
        self.linear = nn.Linear(16, 1)

    def forward(self, input):
        outputs = []
        h_t = torch.zeros(input.size(0), 16, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 16, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            outputs += [self.linear(h_t)]
        return torch.cat(outputs, dim=1)


np.random.seed(0)
torch.manual_seed(0)
x = np.sin(np.arange(100)[None, :] / 5.0 + np.random.randint(-20, 20, (8, 1)))
data = torch.from_numpy(x)
seq = Sequence().double()
criterion = nn.MSELoss()
optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
for step in range(2):
    def closure():
        optimizer.zero_grad()
        loss = criterion(seq(data[:, :-1]), data[:, 1:])
        print("loss:", loss.item())
        loss.backward()
        return loss
    optimizer.step(closure)
