# ruff: noqa: UP031, UP032, N817, B007 - written as PyTorch users write (%-formatting, DDP alias)
"""A classifier in the ordinary PyTorch style (run by tests through `hybridgrad run`)."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def main():
    parser = argparse.ArgumentParser(description="two blobs")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--save-model", action="store_true")
    args = parser.parse_args()
    use_cuda = torch.cuda.is_available()
    torch.manual_seed(1)
    if use_cuda:
        torch.cuda.manual_seed(1)
    torch.backends.cudnn.benchmark = True
    inputs = torch.cat([torch.randn(64, 2) + 2.0, torch.randn(64, 2) - 2.0])
    labels = torch.cat([torch.zeros(64, dtype=torch.long), torch.ones(64, dtype=torch.long)])
    loader = DataLoader(TensorDataset(inputs, labels), batch_size=16, shuffle=True)
    model = Net()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for data, target in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()
            total += loss.item()
        scheduler.step()
        print("epoch {} loss {:.4f}".format(epoch, total / len(loader)))
    model.eval()
    with torch.no_grad():
        correct = (model(inputs).argmax(dim=1) == labels).sum().item()
    print("accuracy {}/{}".format(correct, len(labels)))
    if args.save_model:
        torch.save(model.state_dict(), "classifier.pt")


if __name__ == "__main__":
    main()
