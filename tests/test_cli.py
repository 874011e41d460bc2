"""The ``cak`` command line: render files, presets, demo; torch stays out of the runtime."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pedalboard.io import AudioFile

from cak_dsp import Preset, load_preset, render
from cak_cli import main

from .conftest import REFERENCE_DIR


@pytest.fixture
def preset_file(synthetic_preset: Preset, tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.json"
    synthetic_preset.save(path)
    return path


def _tone(channels: int, rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * (200 + 100 * c) * t) for c in range(channels)]).astype(np.float32)


@pytest.mark.parametrize(("ext", "subtype", "channels", "rate"), [
    ("wav", "PCM_16", 1, 44100), ("wav", "PCM_24", 2, 48000), ("wav", "FLOAT", 6, 96000),
    ("flac", "PCM_24", 2, 44100), ("ogg", "VORBIS", 2, 48000),
])
def test_render_keeps_rate_channels_and_format(tmp_path: Path, preset_file: Path, synthetic_preset: Preset,
                                               ext: str, subtype: str, channels: int, rate: int) -> None:
    src, dst = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
    sf.write(src, _tone(channels, rate).T, rate, subtype=subtype)
    before = src.read_bytes()
    assert main(["render", str(src), str(dst), "--preset", str(preset_file), "--texture", "1.2", "-q"]) == 0
    info = sf.info(str(dst))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (rate, channels, subtype, sf.info(str(src)).frames)
    assert src.read_bytes() == before
    with AudioFile(str(src)) as f:  # the renderer's reader (its int-to-float rounding differs from soundfile's)
        dry = f.read(f.frames)
    wet, _ = sf.read(str(dst), dtype="float32", always_2d=True)
    expected = render(dry, rate, synthetic_preset, 1.2).T
    if subtype != "FLOAT":
        expected = np.clip(expected, -1.0, 1.0)  # integer files hold -1..1
    tolerance = {"PCM_16": 2e-4, "PCM_24": 1e-6, "FLOAT": 0.0, "VORBIS": 0.05}[subtype]
    assert np.abs(wet - expected).max() <= tolerance
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, dst.name, preset_file.name])


def test_render_refuses_to_overwrite(tmp_path: Path, preset_file: Path, capsys: pytest.CaptureFixture) -> None:
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, _tone(1, 44100).T, 44100)
    dst.write_bytes(b"keep me")
    assert main(["render", str(src), str(dst), "--preset", str(preset_file), "-q"]) == 2
    assert dst.read_bytes() == b"keep me"
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(["render", str(src), str(src), "--preset", str(preset_file), "-q", "--force"]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert main(["render", str(src), str(dst), "--preset", str(preset_file), "-q", "--force"]) == 0
    assert sf.info(str(dst)).frames == 22050


def test_clear_errors(tmp_path: Path, preset_file: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really")
    assert main(["render", str(bad), str(tmp_path / "o.wav"), "--preset", str(preset_file), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cak: error: {bad}: cannot read audio") and "\n" not in err
    assert main(["render", str(tmp_path / "none.wav"), str(tmp_path / "o.wav"), "--preset", str(preset_file)]) == 2
    assert "no such input file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "cak-preset", "version": 1}))
    sf.write(tmp_path / "in.wav", _tone(1, 44100).T, 44100)
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "o.wav"), "--preset", str(broken)]) == 2
    assert f"{broken}: field 'kernel': missing" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "o.xyz"), "--preset", str(preset_file)]) == 2
    assert "o.xyz: unknown output format '.xyz'; use one of:" in capsys.readouterr().err
    assert not (tmp_path / "o.xyz").exists()
    with pytest.raises(SystemExit):
        main(["render", "a.wav", "b.wav", "--texture", "3"])
    assert "texture must be between 0.0 and 2.0" in capsys.readouterr().err


def test_preset_show_reports_latency(preset_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["preset", "show", str(preset_file), "-r", "44100", "-r", "48000"]) == 0
    out = capsys.readouterr().out
    assert "44100 Hz:  2558 samples =  58.00 ms" in out
    assert "48000 Hz:  2787 samples" in out


def test_preset_import_of_published_checkpoint(tmp_path: Path) -> None:
    if not (REFERENCE_DIR / "final_wgan_grain.pt").exists():
        pytest.skip(f"published checkpoint not found in {REFERENCE_DIR}")
    pytest.importorskip("torch")
    import torch

    out = tmp_path / "published.json"
    args = ["preset", "import", str(REFERENCE_DIR / "final_wgan_grain.pt"),
            "--stats", str(REFERENCE_DIR / "global_normalization_stats.json"), "-o", str(out)]
    assert main(args) == 0
    preset = load_preset(out)
    state = torch.load(REFERENCE_DIR / "final_wgan_grain.pt", map_location="cpu", weights_only=False)["generator"]
    assert np.array_equal(preset.weight, state["cak.detector.conv.weight"][0, 0].double().numpy())
    assert preset.temperature == 20.0
    assert preset.scale == pytest.approx(float(state["cak.scale"]))
    stats = json.loads((REFERENCE_DIR / "global_normalization_stats.json").read_text())
    assert (preset.global_low, preset.global_high) == (stats["global_low"], stats["global_high"])
    assert main(args) == 2


def test_runtime_never_imports_torch(tmp_path: Path, preset_file: Path) -> None:
    src = tmp_path / "in.wav"
    sf.write(src, _tone(2, 44100).T, 44100)
    code = (
        "import sys, cak_dsp, cak_realtime\n"
        "from cak_cli import main\n"
        f"assert main(['render', {str(src)!r}, {str(tmp_path / 'o.flac')!r}, '--preset', {str(preset_file)!r}, '-q']) == 0\n"
        "assert main(['preset', 'show', " + repr(str(preset_file)) + "]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_demo_writes_dry_wet_and_spectrogram(tmp_path: Path, preset_file: Path) -> None:
    assert main(["demo", "-o", str(tmp_path / "demo"), "--preset", str(preset_file)]) == 0
    dry, rate = sf.read(str(tmp_path / "demo" / "dry.wav"), always_2d=True)
    wet, _ = sf.read(str(tmp_path / "demo" / "wet.wav"), always_2d=True)
    assert rate == 44100 and dry.shape == wet.shape and dry.shape[1] == 2
    assert np.abs(wet - dry).max() > 1e-3
    assert (tmp_path / "demo" / "spectrogram.png").read_bytes()[:4] == b"\x89PNG"


def test_outputs_get_ordinary_permissions(tmp_path: Path, synthetic_preset: Preset) -> None:
    import os

    path = tmp_path / "p.json"
    synthetic_preset.save(path)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_render_as_the_program_exits_at_once_after_the_exit_functions(tmp_path: Path, preset_file: Path) -> None:
    """Run as ``python -m cak_cli``, ``cak render`` ends the process itself once done, without
    tearing the interpreter down (an object's finalizer at teardown never runs): the exit status,
    the output, the flushed streams and the ``atexit`` functions are all there; an error exits
    the same way with its status."""
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, _tone(2, 44100).T, 44100, subtype="PCM_24")
    code = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print('exit functions ran', flush=True))\n"
            "class TornDown:\n    def __del__(self):\n        print('torn down', flush=True)\n"
            "keep = TornDown()\n"
            "sys.argv = ['cak', *sys.argv[1:]]\n"
            "runpy.run_module('cak_cli', run_name='__main__', alter_sys=True)\n")
    ok = subprocess.run([sys.executable, "-c", code, "render", str(src), str(dst), "--preset", str(preset_file), "-q"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].startswith(f"wrote {dst}") and ok.stdout.splitlines()[-1] == "exit functions ran"
    assert "torn down" not in ok.stdout
    assert sf.info(dst).frames == sf.info(src).frames
    bad = subprocess.run([sys.executable, "-c", code, "render", str(tmp_path / "missing.wav"), str(dst), "-q"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("cak: error:") and "exit functions ran" in bad.stdout
