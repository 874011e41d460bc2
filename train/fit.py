"""The WGAN-GP training loop on random time-frequency crops (or full spectrograms), seeded and resumable."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from cak_dsp.atomic import atomic_path
from cak_dsp.preset import Preset

from .corpus import Corpus
from .model import (Critic, Generator, SharedDetector, audit_stats, critic_loss, generator_loss, gradient_penalty,
                    temperature)

METHOD = "AuGAN WGAN-GP, arXiv 2508.02643"
AUDITS = ("spectrogram", "crop")
HISTORY_KEYS = ("g_loss", "c_loss", "wasserstein_d", "violations", "pattern_strength", "temperature", "scale")


class FitError(ValueError):
    """Training cannot start or resume; the message says why in one line."""


@dataclass(frozen=True)
class FitConfig:
    """Training hyper-parameters; the published recipe except for ``crop`` (None = full spectrograms).

    ``audit``: where ``V = |mean(D(fake)) - c|`` is measured. "spectrogram" (the published audit) takes the mean
    over each pair's whole spectrogram even when the other terms see crops; "crop" takes it over the crop only,
    which confines the kernel (crop means vary far more than segment means) and was the recipe before it.
    """

    epochs: int = 100
    batch_size: int = 16
    n_critic: int = 5
    lr: float = 1e-4
    betas: tuple[float, float] = (0.0, 0.9)
    anneal_epochs: int = 5
    crop: tuple[int, int] | None = (64, 64)
    causal: bool = False
    seed: int = 0
    audit: str = "spectrogram"

    def same_run(self, other: FitConfig) -> bool:
        """True when ``other`` continues this run (everything but ``epochs`` equal)."""
        return asdict(self) | {"epochs": 0} == asdict(other) | {"epochs": 0}


@dataclass
class Trainer:
    """Networks, optimizers and history of one training run."""

    config: FitConfig
    device: torch.device
    detector: SharedDetector = field(init=False)
    generator: Generator = field(init=False)
    critic: Critic = field(init=False)
    history: dict[str, list[float]] = field(init=False)
    epoch: int = 0

    def __post_init__(self) -> None:
        torch.manual_seed(self.config.seed)
        self.detector = SharedDetector(causal=self.config.causal).to(self.device)
        self.generator = Generator(self.detector, self.config.anneal_epochs).to(self.device)
        self.critic = Critic(self.detector).to(self.device)
        cfg = self.config
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.c_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.history = {key: [] for key in HISTORY_KEYS}

    def state(self, corpus_sha256: str) -> dict[str, Any]:
        """Checkpoint dictionary (published layout: generator / critic / shared_detector / history, plus resume state)."""
        return {
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "shared_detector": self.detector.state_dict(),
            "history": self.history,
            "g_optimizer": self.g_opt.state_dict(),
            "c_optimizer": self.c_opt.state_dict(),
            "epoch": self.epoch,
            "config": asdict(self.config),
            "corpus_sha256": corpus_sha256,
        }

    def load(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.g_opt.load_state_dict(state["g_optimizer"])
        self.c_opt.load_state_dict(state["c_optimizer"])
        self.history = {key: list(state["history"][key]) for key in HISTORY_KEYS}
        self.epoch = int(state["epoch"])

    def step(self, real_in: torch.Tensor, real_out: torch.Tensor, c: torch.Tensor, mixes: torch.Tensor,
             stats: torch.Tensor) -> dict[str, float]:
        """``n_critic`` critic updates then one generator update on one batch (``stats``: inputs' audit_stats)."""
        g, critic = self.generator, self.critic
        n = real_in.shape[0]
        crop_audit = self.config.audit == "crop"
        for k in range(self.config.n_critic):
            with torch.no_grad():
                fake, _ = g(real_in, c)
            scores = critic.score(torch.cat([real_out, fake]))
            gp = gradient_penalty(critic, real_out, fake, mixes[k])
            violation = (critic.violation(fake, c) if crop_audit else
                         critic.spectrogram_violation(stats, g.cak.amount(c), c, fixed_fake=True))
            c_loss, wasserstein = critic_loss(scores[:n], scores[n:], gp, violation)
            self.c_opt.zero_grad(set_to_none=True)
            c_loss.backward()
            self.c_opt.step()
        fake, patterns = g(real_in, c)
        violation = (critic.violation(fake, c) if crop_audit else
                     critic.spectrogram_violation(stats, g.cak.amount(c), c, fixed_fake=False))
        g_loss = generator_loss(critic.score(fake), violation, fake, real_out, patterns)
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        return {
            "g_loss": g_loss.item(),
            "c_loss": c_loss.item(),
            "wasserstein_d": wasserstein.item(),
            "violations": violation.mean().item(),
            "pattern_strength": patterns.abs().mean().item(),
        }


def training_pairs(labels: np.ndarray) -> list[tuple[int, int, float]]:
    """Identity pairs ``(i, i, 0)`` for every segment plus as many low -> high texture pairs.

    Segments are ranked by label; the k-th of the lower half is paired with the k-th of the upper
    half, ``c = label(high) - label(low)``.
    """
    n = len(labels)
    if n < 2:
        raise FitError(f"need at least 2 segments to form texture pairs, corpus has {n}")
    order = np.argsort(labels, kind="stable")
    half = n // 2
    pairs = [(i, i, 0.0) for i in range(n)]
    for k in range(n):
        low, high = int(order[k % half]), int(order[n - half + k % half])
        pairs.append((low, high, float(labels[high] - labels[low])))
    return pairs


def _batches(corpus: Corpus, cfg: FitConfig, epoch: int, stats: np.ndarray):
    """The epoch's batches ``(input, target, c, critic mixes, inputs' audit stats)``, determined by (seed, epoch)."""
    rng = np.random.default_rng([cfg.seed, epoch])
    pairs = training_pairs(corpus.labels)
    order = rng.permutation(len(pairs))
    _, bins, frames = corpus.magnitudes.shape
    fb, ft = cfg.crop if cfg.crop else (bins, frames)
    if fb > bins or ft > frames:
        raise FitError(f"crop {fb}x{ft} is larger than the spectrograms ({bins}x{frames})")
    for start in range(0, len(order), cfg.batch_size):
        chosen = [pairs[i] for i in order[start : start + cfg.batch_size]]
        f0 = rng.integers(0, bins - fb + 1, size=len(chosen))
        t0 = rng.integers(0, frames - ft + 1, size=len(chosen))
        x = np.stack([corpus.magnitudes[a, f : f + fb, t : t + ft] for (a, _, _), f, t in zip(chosen, f0, t0)])
        y = np.stack([corpus.magnitudes[b, f : f + fb, t : t + ft] for (_, b, _), f, t in zip(chosen, f0, t0)])
        c = np.array([p[2] for p in chosen], dtype=np.float32)
        mixes = rng.random((cfg.n_critic, len(chosen)), dtype=np.float32)
        yield x[:, None], y[:, None], c, mixes, stats[[a for a, _, _ in chosen]]


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fit(
    corpus: Corpus,
    config: FitConfig,
    checkpoint: Path | None = None,
    resume: bool = False,
    device: torch.device | None = None,
    progress: bool = True,
    log: TextIO = sys.stderr,
) -> Trainer:
    """Train (or continue training) on ``corpus``; saves ``checkpoint`` after every epoch when given."""
    device = device or default_device()
    trainer = Trainer(config, device)
    sha = corpus.meta.get("sha256", "")
    if resume and checkpoint is not None and checkpoint.exists():
        try:
            state = torch.load(checkpoint, map_location=device, weights_only=False)
        except Exception as exc:
            raise FitError(f"{checkpoint}: cannot read checkpoint ({type(exc).__name__}); delete it or drop --resume") from None
        if not config.same_run(FitConfig(**{"audit": "crop", **state["config"]})) or state.get("corpus_sha256") != sha:
            raise FitError(f"{checkpoint}: was trained with different settings or corpus; delete it or drop --resume")
        trainer.load(state)
        print(f"resuming from {checkpoint} after epoch {trainer.epoch}", file=log)
    cfg = config
    if cfg.audit not in AUDITS:
        raise FitError(f"audit must be one of {', '.join(AUDITS)}, got {cfg.audit!r}")
    stats = np.stack([audit_stats(m) for m in corpus.magnitudes]).astype(np.float32)
    per_epoch = -(-2 * len(corpus.labels) // cfg.batch_size)
    bar = tqdm(total=cfg.epochs * per_epoch, initial=trainer.epoch * per_epoch, disable=not progress,
               desc="training", unit="batch", file=log, dynamic_ncols=True)
    while trainer.epoch < cfg.epochs:
        epoch = trainer.epoch
        trainer.generator.set_epoch(epoch)
        temp = trainer.generator.cak.temperature
        sums: dict[str, float] = {}
        count = 0
        for batch in _batches(corpus, cfg, epoch, stats):
            metrics = trainer.step(*(torch.from_numpy(a).to(device) for a in batch))
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            bar.update()
            bar.set_postfix(epoch=epoch + 1, T=f"{temp:.1f}", G=f"{metrics['g_loss']:.3f}",
                            C=f"{metrics['c_loss']:.3f}", W=f"{metrics['wasserstein_d']:.3f}")
        for key, total in sums.items():
            trainer.history[key].append(total / count)
        trainer.history["temperature"].append(temp)
        trainer.history["scale"].append(trainer.generator.cak.scale.item())
        trainer.epoch = epoch + 1
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(checkpoint) as tmp:
                torch.save(trainer.state(sha), tmp)
    bar.close()
    return trainer


def code_version() -> str:
    """``git describe`` of the checkout, else the installed package version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    try:
        from importlib.metadata import version

        return f"cak {version('cak')} (no git revision)"
    except Exception:
        return "unknown"


def export_preset(trainer: Trainer, corpus: Corpus, name: str, description: str, provenance: dict[str, Any]) -> Preset:
    """The trained kernel as a :class:`cak_dsp.preset.Preset` with the corpus' normalization."""
    cak = trainer.generator.cak
    norm, stft = corpus.meta["normalization"], corpus.meta["stft"]
    weight = cak.detector.kernel().detach().cpu().double().numpy()[0, 0].copy()
    return Preset(
        name=name,
        weight=weight,
        bias=float(cak.detector.conv.bias.item()),
        scale=float(cak.scale.item()),
        threshold=float(cak.threshold.item()),
        temperature=temperature(max(trainer.epoch - 1, 0), trainer.config.anneal_epochs),
        alpha=float(norm["alpha"]),
        global_low=float(norm["global_low"]),
        global_high=float(norm["global_high"]),
        gamma=float(norm["gamma"]),
        sample_rate=int(stft["sample_rate"]),
        n_fft=int(stft["n_fft"]),
        hop=int(stft["hop"]),
        window=str(stft["window"]),
        description=description,
        provenance={"method": METHOD, **provenance},
    )
