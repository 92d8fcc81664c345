"""The loop a user writes by hand: what gancore's step is measured against, in the same run.

torchvision's MNIST through a DataLoader with ToTensor and Normalize (one PIL image at a time), the
same networks as gancore's mlp/conv pair, BCE on logits, Adam(2e-4, betas 0.5/0.999), and `.item()`
on both losses at every step to print or log them. Written the way tutorials write it (the PyTorch
DCGAN example's shape), not tuned: it is the baseline, not a straw man, so it keeps the tutorials'
economies too (the generator's batch from the critic step is reused for the generator step).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

from gancore.builtin.networks import ConvCritic, MLPCritic, MLPGenerator
from gancore.records import DataSpec

MNIST = DataSpec((1, 28, 28), "image", num_classes=10)
CRITICS = {"mlp": MLPCritic, "conv": ConvCritic}


class PlainLoop:
    """A vanilla GAN trained the hand-written way; ``steps(n)`` runs n generator steps."""

    def __init__(self, root: Path, critic: str, batch: int, device: str, seed: int = 0) -> None:
        torch.manual_seed(seed)
        transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
        dataset = torchvision.datasets.MNIST(str(root), train=True, download=False, transform=transform)
        self.loader = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)
        self.batches: Iterator = iter(self.loader)
        self.device = device
        self.G = MLPGenerator().build(MNIST, 100).to(device)
        self.D = CRITICS[critic]().build(MNIST, 100).to(device)
        self.bce = nn.BCEWithLogitsLoss()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.d_losses: list[float] = []
        self.g_losses: list[float] = []

    def next_batch(self) -> torch.Tensor:
        try:
            images, _ = next(self.batches)
        except StopIteration:  # a new epoch
            self.batches = iter(self.loader)
            images, _ = next(self.batches)
        return images.to(self.device)

    def step(self) -> None:
        real = self.next_batch()
        n = real.size(0)
        ones = torch.ones(n, 1, device=self.device)
        zeros = torch.zeros(n, 1, device=self.device)
        fake = self.G(torch.randn(n, 100, device=self.device)).view(n, 1, 28, 28)

        self.opt_d.zero_grad()
        d_loss = self.bce(self.D(real), ones) + self.bce(self.D(fake.detach()), zeros)
        d_loss.backward()
        self.opt_d.step()

        self.opt_g.zero_grad()
        g_loss = self.bce(self.D(fake), ones)
        g_loss.backward()
        self.opt_g.step()

        self.d_losses.append(d_loss.item())
        self.g_losses.append(g_loss.item())

    def steps(self, n: int) -> None:
        for _ in range(n):
            self.step()

    def epoch(self) -> int:
        """One full pass over the training set; returns the number of steps."""
        self.batches = iter(self.loader)
        steps = len(self.loader)
        self.steps(steps)
        return steps
