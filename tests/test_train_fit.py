"""Training on a tiny generated corpus: finite losses, exact resume, export, causal kernels, CLI."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from cak_dsp.preset import load_preset  # noqa: E402
from cak_train.cli import main  # noqa: E402
from cak_train.corpus import Corpus, prepare  # noqa: E402
from cak_train.fit import FitConfig, Trainer, _batches, export_preset, fit, training_pairs  # noqa: E402
from cak_train.model import audit_stats  # noqa: E402

pytestmark = pytest.mark.train

SR = 44100
TINY = FitConfig(epochs=2, batch_size=4, crop=(16, 16), n_critic=2, seed=5)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    t = np.arange(SR // 2) / SR
    (root / "audio").mkdir()
    for i in range(4):
        tone = np.sin(2 * np.pi * 220 * (i + 1) * t) * (1 - i / 4) + rng.standard_normal(t.size) * i / 8
        sf.write(root / "audio" / f"{i}.wav", 0.3 * tone, SR)
    return prepare(root / "audio", root / "corpus", labels="flatness", seconds=0.5, fade=0.05, log=io.StringIO(),
                   progress=False)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pairs_are_identity_plus_low_to_high() -> None:
    pairs = training_pairs(np.array([0.9, 0.1, 0.5, 0.3]))
    assert pairs[:4] == [(0, 0, 0.0), (1, 1, 0.0), (2, 2, 0.0), (3, 3, 0.0)]
    assert [(a, b) for a, b, _ in pairs[4:]] == [(1, 2), (3, 0), (1, 2), (3, 0)]
    assert pairs[4][2] == pytest.approx(0.4) and pairs[5][2] == pytest.approx(0.6)


def test_few_steps_have_finite_losses_and_export_loads(tiny_corpus: Corpus, tmp_path: Path) -> None:
    trainer = fit(tiny_corpus, TINY, progress=False)
    assert trainer.epoch == 2
    for key, values in trainer.history.items():
        assert len(values) == 2 and np.all(np.isfinite(values)), key
    assert trainer.history["temperature"] == [2.0, 5.6]
    preset = export_preset(trainer, tiny_corpus, "tiny", "test", {"seed": 5})
    preset.save(tmp_path / "tiny.json")
    loaded = load_preset(tmp_path / "tiny.json")
    assert np.array_equal(loaded.weight, trainer.detector.kernel().detach().double().numpy()[0, 0])
    assert loaded.temperature == pytest.approx(5.6) and loaded.provenance["method"].startswith("AuGAN WGAN-GP")
    assert loaded.global_high == pytest.approx(tiny_corpus.meta["normalization"]["global_high"])


def test_resume_matches_uninterrupted_run(tiny_corpus: Corpus, tmp_path: Path) -> None:
    whole = fit(tiny_corpus, TINY, checkpoint=tmp_path / "whole.pt", progress=False)
    first = FitConfig(**{**TINY.__dict__, "epochs": 1})
    fit(tiny_corpus, first, checkpoint=tmp_path / "split.pt", progress=False)
    resumed = fit(tiny_corpus, TINY, checkpoint=tmp_path / "split.pt", resume=True, progress=False, log=io.StringIO())
    assert resumed.epoch == 2
    assert states_equal(whole.generator.state_dict(), resumed.generator.state_dict())
    assert states_equal(whole.critic.state_dict(), resumed.critic.state_dict())
    assert whole.history == resumed.history
    saved = torch.load(tmp_path / "split.pt", weights_only=False)
    assert states_equal(saved["generator"], whole.generator.state_dict())


def test_seeded_runs_are_reproducible(tiny_corpus: Corpus) -> None:
    a = fit(tiny_corpus, TINY, progress=False)
    b = fit(tiny_corpus, TINY, progress=False)
    assert states_equal(a.generator.state_dict(), b.generator.state_dict())


def test_causal_training_keeps_future_column_exactly_zero(tiny_corpus: Corpus) -> None:
    trainer = fit(tiny_corpus, FitConfig(**{**TINY.__dict__, "causal": True}), progress=False)
    preset = export_preset(trainer, tiny_corpus, "causal", "", {})
    assert np.all(preset.weight[:, 2] == 0.0) and not np.signbit(preset.weight[:, 2]).any() and preset.is_causal
    assert np.all(preset.weight[:, :2] != 0.0)


def test_cli_fit_and_plot(tiny_corpus: Corpus, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    argv = ["fit", str(tiny_corpus.path), "-o", str(out), "--epochs", "1", "--batch-size", "4", "--crop", "16x16",
            "--checkpoint", str(tmp_path / "c.pt"), "--plot", str(tmp_path / "curves.png"), "-q"]
    assert main(argv) == 0
    provenance = load_preset(out).provenance
    assert provenance["command"] == "cak train " + " ".join(argv)
    assert provenance["corpus"]["sha256"] == tiny_corpus.meta["sha256"] and provenance["label_mode"] == "flatness"
    assert provenance["epochs"] == 1 and set(provenance["final_losses"]) >= {"g_loss", "c_loss"}
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert main(["plot", str(tmp_path / "c.pt"), "-o", str(tmp_path / "again.png")]) == 0
    assert json.loads(out.read_text())["format"] == "cak-preset"


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", str(tmp_path), "-o", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a prepared corpus" in err


def test_full_spectrogram_option(tiny_corpus: Corpus) -> None:
    trainer = fit(tiny_corpus, FitConfig(epochs=1, batch_size=8, crop=None, n_critic=1), progress=False)
    assert np.isfinite(trainer.history["g_loss"][0])


def test_audit_sees_the_input_segments_whole_spectrogram_not_the_crop() -> None:
    """Each pair's audit statistics are those of its input segment's whole spectrogram (the published audit)."""
    levels = np.array([0.2, 0.3, 0.5, 0.7], dtype=np.float32)
    mags = np.repeat(levels[:, None, None], 40, axis=1).repeat(50, axis=2)
    mags[:, 20:] *= 0.01  # bright lower half, nearly silent upper half: crop means vary, segment means do not
    corpus = Corpus(Path("."), mags, np.array([0.2, 0.9, 0.4, 0.6]), {})
    stats = np.stack([audit_stats(m) for m in mags]).astype(np.float32)
    for x, _, _, _, batch_stats in _batches(corpus, FitConfig(batch_size=8, crop=(16, 16)), 0, stats):
        values = np.concatenate([levels, 0.01 * levels])
        segment = [int(np.argmin(np.abs(values - x_i.max()))) % 4 for x_i in x]
        assert batch_stats[:, 0, 2, 2] == pytest.approx(mags[segment].mean(axis=(1, 2)), rel=1e-5)
    trainer = Trainer(FitConfig(batch_size=2, crop=(16, 16), n_critic=1, lr=0.0), torch.device("cpu"))
    x = torch.full((2, 1, 16, 16), 0.7)  # bright crops of a segment whose whole spectrogram is half silent
    c = torch.tensor([0.0, 0.0])
    metrics = trainer.step(x, x, c, torch.rand(1, 2), torch.from_numpy(stats[[3, 3]]))
    whole = trainer.critic.violation(trainer.generator(torch.from_numpy(mags[3:4, None]), c[:1])[0], c[:1]).item()
    assert metrics["violations"] == pytest.approx(whole, rel=1e-3)
    assert abs(metrics["violations"] - trainer.critic.violation(x, c).mean().item()) > 1e-3
