# ruff: noqa: UP031, UP032, N806, N816, N817, B007, A002 - written as PyTorch users write
"""A GAN in DCGAN's style: weights initialised through .data, models moved to a device,
labels filled in place, a whole-batch grid saved with torchvision."""
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision.utils as vutils


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Linear") != -1:
        m.weight.data.normal_(0.0, 0.02)
        m.bias.data.fill_(0)


device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
torch.manual_seed(0)
netG = nn.Sequential(nn.Linear(8, 32), nn.ReLU(True), nn.Linear(32, 16), nn.Tanh()).to(device)
netD = nn.Sequential(nn.Linear(16, 32), nn.LeakyReLU(0.2, inplace=True), nn.Linear(32, 1),
                     nn.Sigmoid()).to(device)
netG.apply(weights_init)
netD.apply(weights_init)
criterion = nn.BCELoss()
optimizerD = optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
optimizerG = optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
for i in range(50):
    real = (torch.rand(16, 16, device=device) * 0.5 + 0.25)
    label = torch.full((16,), 1.0, dtype=real.dtype, device=device)
    netD.zero_grad()
    errD_real = criterion(netD(real).view(-1), label)
    errD_real.backward()
    noise = torch.randn(16, 8, device=device)
    fake = netG(noise)
    label.fill_(0.0)
    errD_fake = criterion(netD(fake.detach()).view(-1), label)
    errD_fake.backward()
    optimizerD.step()
    netG.zero_grad()
    label.fill_(1.0)
    errG = criterion(netD(fake).view(-1), label)
    errG.backward()
    optimizerG.step()
    if i % 10 == 0:
        print("[%d/50] Loss_D: %.4f Loss_G: %.4f" % (i, (errD_real + errD_fake).item(),
                                                     errG.item()))
vutils.save_image(fake.detach().view(16, 1, 4, 4), "dcgan_style_samples.png", normalize=True)
