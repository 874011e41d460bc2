"""Trainer == runtime: the engine's offline reference render equals the torch generator on the same spectrogram."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cak_dsp import Preset, load_preset, render  # noqa: E402
from cak_train.corpus import Corpus  # noqa: E402
from cak_train.fit import FitConfig, Trainer, export_preset  # noqa: E402

pytestmark = pytest.mark.train

SR = 44100
PRESETS = Path(__file__).resolve().parents[1] / "presets"


def exported_preset(causal: bool) -> Preset:
    """An untrained trainer with a strong seeded kernel, exported through the trainer's own path."""
    trainer = Trainer(FitConfig(causal=causal, epochs=100), torch.device("cpu"))
    trainer.epoch = 100
    with torch.no_grad():
        trainer.detector.conv.weight.copy_(torch.from_numpy(np.random.default_rng(9).normal(0, 0.3, (1, 1, 3, 3))))
        trainer.detector.conv.bias.fill_(-0.04)
        trainer.generator.cak.scale.fill_(0.8)
    meta = {"normalization": {"alpha": 10.0, "gamma": 0.85, "global_low": 0.0, "global_high": 4.5},
            "stft": {"sample_rate": SR, "n_fft": 2048, "hop": 512, "window": "hann"}}
    corpus = Corpus(path=Path("."), magnitudes=np.zeros((2, 1, 1), np.float32), labels=np.zeros(2, np.float32), meta=meta)
    return export_preset(trainer, corpus, "strong", "", {})


def torch_reference(audio: np.ndarray, preset: Preset, texture: float) -> np.ndarray:
    """Torch STFT -> reference normalization -> trainer generator -> reference inverse -> input phase -> iSTFT."""
    from cak_train.model import Generator, SharedDetector

    x = torch.from_numpy(audio.astype(np.float64))
    window = torch.hann_window(preset.n_fft, periodic=True, dtype=torch.float64)
    spec = torch.stft(x, preset.n_fft, preset.hop, window=window, center=True, pad_mode="constant", return_complex=True)
    lo, hi, a, g = preset.global_low, preset.global_high, preset.alpha, preset.gamma
    norm = torch.clamp((torch.log1p(a * spec.abs().sqrt()) - lo) / (hi - lo + 1e-8), 0, 1) ** g
    gen = Generator(SharedDetector(causal=preset.is_causal)).double()
    gen.set_epoch(100)
    assert gen.cak.temperature == preset.temperature
    with torch.no_grad():
        gen.cak.detector.conv.weight.copy_(torch.tensor(preset.weight).reshape(1, 1, 3, 3))
        gen.cak.detector.conv.bias.fill_(preset.bias)
        gen.cak.scale.fill_(preset.scale)
        gen.cak.threshold.fill_(preset.threshold)
        y, _ = gen(norm[None, None], torch.tensor([texture], dtype=torch.float64))
    u = (torch.clamp(y[0, 0], 0, 1) + 1e-8) ** (1 / g)
    root = torch.clamp((torch.exp(u * (hi - lo) + lo) - 1) / a, min=0)
    out_spec = torch.polar(root**2, spec.angle())
    return torch.istft(out_spec, preset.n_fft, preset.hop, window=window, center=True, length=audio.size).numpy()


def presets_under_test() -> list[Preset]:
    shipped = [load_preset(p) for p in sorted(PRESETS.glob("*.json"))]
    return [exported_preset(False), exported_preset(True), *shipped]


@pytest.mark.parametrize("texture", [0.0, 0.45, 1.0])
def test_engine_reference_render_equals_torch_generator(drums: np.ndarray, texture: float) -> None:
    clip = drums[: 2 * SR]
    for preset in presets_under_test():
        engine = render(clip[None, :], SR, preset, texture=texture, mode="reference", level="off", soft_clip=False)[0]
        expected = torch_reference(clip, preset, texture)
        assert np.max(np.abs(engine - expected)) <= 1e-4, preset.name


def test_identity_in_torch_at_zero_texture() -> None:
    from cak_train.model import Generator, SharedDetector

    gen = Generator(SharedDetector())
    gen.set_epoch(100)
    x = torch.rand(2, 1, 40, 30)
    y, _ = gen(x, torch.zeros(2))
    assert torch.equal(y, x)


def test_causal_export_runs_one_hop_earlier() -> None:
    from cak_dsp import CakEngine

    latencies = []
    for causal in (False, True):
        preset = exported_preset(causal)
        assert preset.is_causal == causal
        engine = CakEngine(preset)
        engine.prepare(SR, max_block=512, channels=1)
        latencies.append(engine.latency_samples)
    assert latencies[0] - latencies[1] == 512
