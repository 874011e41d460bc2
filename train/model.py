"""The published CAK networks and losses (arXiv 2508.02643, section 3).

Module and attribute names mirror the published checkpoint's state-dict layout
(``cak.detector.conv.weight``, ``realism_net.10.bias``, ...) so both load into each other.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

THRESHOLD = 0.3
TEMP_INITIAL = 2.0
TEMP_FINAL = 20.0
ANNEAL_EPOCHS = 5
LAMBDA_GP = 10.0
LAMBDA_AUDIT = 2.0
LAMBDA_RECON = 5.0
LAMBDA_PATTERN = 0.01
PATTERN_EPS = 1e-8


def temperature(epoch: int, anneal_epochs: int = ANNEAL_EPOCHS) -> float:
    """Gate temperature: linear from 2 at epoch 0 to 20 at ``anneal_epochs``, then constant."""
    progress = 1.0 if anneal_epochs <= 0 else min(1.0, epoch / anneal_epochs)
    return TEMP_INITIAL + (TEMP_FINAL - TEMP_INITIAL) * progress


class SharedDetector(nn.Module):
    """The 3x3 detector D shared by generator and critic (10 parameters).

    ``causal=True`` masks the future-time column (``weight[..., 2]``) so it stays exactly zero.
    """

    def __init__(self, causal: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=3, padding=1)
        nn.init.xavier_normal_(self.conv.weight, gain=0.1)
        nn.init.zeros_(self.conv.bias)
        mask = torch.ones(1, 1, 3, 3)
        if causal:
            mask[..., 2] = 0.0
        self.register_buffer("mask", mask, persistent=False)
        with torch.no_grad():
            self.conv.weight.copy_(self.kernel())

    @property
    def causal(self) -> bool:
        return bool(torch.all(self.mask[..., 2] == 0))

    def kernel(self) -> torch.Tensor:
        """The effective 3x3 weight, shape (1, 1, 3, 3); masked taps are exactly +0.0."""
        return self.conv.weight.masked_fill(self.mask == 0, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel(), self.conv.bias, padding=1)


class SoftGateCAK(nn.Module):
    """``y = x + D(x) * c * sigmoid((c - tau) * T) * s`` with learned scale ``s`` (starts at 1)."""

    def __init__(self, detector: SharedDetector, anneal_epochs: int = ANNEAL_EPOCHS) -> None:
        super().__init__()
        self.detector = detector
        self.anneal_epochs = anneal_epochs
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("epoch", torch.tensor(0))
        self.register_buffer("threshold", torch.tensor(THRESHOLD))

    @property
    def temperature(self) -> float:
        return temperature(int(self.epoch.item()), self.anneal_epochs)

    def gate(self, c: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((c - self.threshold) * self.temperature)

    def amount(self, c: torch.Tensor) -> torch.Tensor:
        """``c * sigmoid((c - tau) * T) * s``: how much of ``D(x)`` is added, same shape as ``c``."""
        return c * self.gate(c) * self.scale

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        patterns = self.detector(x)
        c = c.reshape(-1, 1, 1, 1)
        return x + patterns * c * self.gate(c) * self.scale, patterns


class Generator(nn.Module):
    """The CAK generator: one soft-gate CAK layer (11 trainable parameters)."""

    def __init__(self, detector: SharedDetector, anneal_epochs: int = ANNEAL_EPOCHS) -> None:
        super().__init__()
        self.cak = SoftGateCAK(detector, anneal_epochs)

    def set_epoch(self, epoch: int) -> None:
        self.cak.epoch.fill_(epoch)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cak(x, c)


class Critic(nn.Module):
    """WGAN-GP critic: a realism branch plus the audit ``V(x, c) = |mean(D(x)) - c|`` with the shared D."""

    def __init__(self, detector: SharedDetector) -> None:
        super().__init__()
        self.detector = detector
        self.realism_net = nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.InstanceNorm2d(64),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, stride=2, padding=1),
            nn.InstanceNorm2d(128),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(128, 1),
        )

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Realism score per example, shape (batch,)."""
        return self.realism_net(x).squeeze(1)

    def violation(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Audit violation ``|mean(D(x)) - c|`` per example, shape (batch,)."""
        return (self.detector(x).mean(dim=(1, 2, 3)) - c.reshape(-1)).abs()

    def spectrogram_violation(
        self, stats: torch.Tensor, amount: torch.Tensor, c: torch.Tensor, fixed_fake: bool
    ) -> torch.Tensor:
        """``|mean(D(fake)) - c|`` over the WHOLE spectrogram of ``fake = x + amount * D(x)``, shape (batch,).

        ``stats`` is :func:`audit_stats` of each input spectrogram (batch, 2, 5, 5), so the audit sees what
        the published full-spectrogram recipe's audit sees even when the other terms train on crops.
        ``fixed_fake`` treats the fake as a constant (the critic's step: only the outer ``D`` learns).
        """
        w, b = self.detector.kernel()[0, 0], self.detector.conv.bias[0]
        wi, bi, a = (w.detach(), b.detach(), amount.detach()) if fixed_fake else (w, b, amount)
        shifted, valid = stats[:, 0], stats[:, 1, 1:4, 1:4]
        inner = F.conv2d(shifted[:, None], wi[None, None])[:, 0] + bi * valid
        fake = shifted[:, 1:4, 1:4] + a.reshape(-1, 1, 1) * inner
        return ((w * fake).sum(dim=(1, 2)) + b - c.reshape(-1)).abs()


def shift_means(spectrogram: np.ndarray) -> np.ndarray:
    """``table[2 + df, 2 + dt] = mean_p x[p + (df, dt)]`` over all positions of a (bins, frames) array, zero outside.

    Shifts of -2..2 bins and frames, shape (5, 5), float64. The mean of a 3x3 correlation of ``x``, and of two
    in a row (up to the one-cell border), is a linear form in these numbers.
    """
    x = np.asarray(spectrogram, dtype=np.float64)
    bins, frames = x.shape
    rows, cols = x.sum(axis=1), x.sum(axis=0)
    total = rows.sum()
    table = np.empty((5, 5))
    for i, df in enumerate(range(-2, 3)):
        r0, r1 = max(0, df), bins + min(0, df)
        for j, dt in enumerate(range(-2, 3)):
            c0, c1 = max(0, dt), frames + min(0, dt)
            kept = total - rows[:r0].sum() - rows[r1:].sum() - cols[:c0].sum() - cols[c1:].sum()
            kept += x[:r0, :c0].sum() + x[:r0, c1:].sum() + x[r1:, :c0].sum() + x[r1:, c1:].sum()
            table[i, j] = kept / x.size
    return table


def audit_stats(spectrogram: np.ndarray) -> np.ndarray:
    """The audit's view of one spectrogram: its ``shift_means`` and those of an all-ones array its size, (2, 5, 5)."""
    bins, frames = spectrogram.shape
    shifts = np.arange(-2, 3)
    valid = np.outer(1 - np.abs(shifts) / bins, 1 - np.abs(shifts) / frames)
    return np.stack([shift_means(spectrogram), valid])


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """WGAN-GP term ``E[(||grad C(x_hat)||_2 - 1)^2]`` at ``x_hat = mix * real + (1 - mix) * fake``."""
    mix = mix.reshape(-1, 1, 1, 1)
    x_hat = (mix * real + (1 - mix) * fake).requires_grad_(True)
    scores = critic.score(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def critic_loss(
    real_score: torch.Tensor, fake_score: torch.Tensor, gp: torch.Tensor, fake_violation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``L_C = -E[C(real)] + E[C(fake)] + 10 GP + 2 E[V(fake)]``; also returns the Wasserstein estimate."""
    wasserstein = real_score.mean() - fake_score.mean()
    return -wasserstein + LAMBDA_GP * gp + LAMBDA_AUDIT * fake_violation.mean(), wasserstein


def generator_loss(
    fake_score: torch.Tensor,
    fake_violation: torch.Tensor,
    fake: torch.Tensor,
    real: torch.Tensor,
    patterns: torch.Tensor,
) -> torch.Tensor:
    """``L_G = -E[C(fake)] + 2 E[V(fake)] + 5 |fake - real|_1 - 0.01 log(eps + mean|D(x_in)|)``."""
    return (
        -fake_score.mean()
        + LAMBDA_AUDIT * fake_violation.mean()
        + LAMBDA_RECON * F.l1_loss(fake, real)
        - LAMBDA_PATTERN * torch.log(patterns.abs().mean() + PATTERN_EPS)
    )
