# ruff: noqa: UP031, UP032, N817, B007 - written as PyTorch users write (%-formatting, DDP alias)
"""A tiny GAN in the ordinary PyTorch style: learn a 1-D Gaussian at mean 3."""
import torch
import torch.nn as nn

torch.manual_seed(0)
generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
discriminator = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())
criterion = nn.BCELoss()
optimizer_g = torch.optim.Adam(generator.parameters(), lr=0.01, betas=(0.5, 0.999))
optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=0.01, betas=(0.5, 0.999))
real_label, fake_label = 1.0, 0.0
for step in range(300):
    real = torch.randn(32, 1) * 0.5 + 3.0
    noise = torch.randn(32, 4)
    fake = generator(noise)
    discriminator.zero_grad()
    loss_real = criterion(discriminator(real), torch.full((32, 1), real_label))
    loss_fake = criterion(discriminator(fake.detach()), torch.full((32, 1), fake_label))
    loss_d = loss_real + loss_fake
    loss_d.backward()
    optimizer_d.step()
    generator.zero_grad()
    loss_g = criterion(discriminator(fake), torch.full((32, 1), real_label))
    loss_g.backward()
    optimizer_g.step()
    if step % 100 == 0:
        print("step %d loss_d %.4f loss_g %.4f" % (step, loss_d.item(), loss_g.item()))
with torch.no_grad():
    samples = generator(torch.randn(1000, 4))
print("generated mean %.3f" % samples.mean().item())
