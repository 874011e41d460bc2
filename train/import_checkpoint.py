"""Import a published CAK checkpoint (``final_wgan_grain.pt`` layout) and its normalization stats as a preset."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cak_dsp.preset import Preset, PresetError

from .model import TEMP_FINAL

PREFIX = "cak."
WEIGHT, BIAS, SCALE, THRESHOLD = (PREFIX + k for k in ("detector.conv.weight", "detector.conv.bias", "scale", "threshold"))
STATS_KEYS = ("alpha", "global_low", "global_high", "gamma")


def _require(mapping: Any, key: str, source: Path, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise PresetError(f"{source}: missing key '{where}{key}'")
    return mapping[key]


def _scalar(value: Any, source: Path, key: str) -> float:
    array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    if array.size != 1 or not np.isfinite(array).all():
        raise PresetError(f"{source}: key '{key}' must be one finite number, got shape {array.shape}")
    return float(array.reshape(()))


def import_checkpoint(
    checkpoint_path: str | os.PathLike[str], stats_path: str | os.PathLike[str], name: str | None = None
) -> Preset:
    """Preset from a checkpoint's ``generator`` state dict plus ``global_normalization_stats.json``.

    Temperature is the final annealing value (20); errors are one line naming the file and the key.
    """
    ckpt, stats_file = Path(checkpoint_path), Path(stats_path)
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise PresetError(f"{ckpt}: no such checkpoint file") from None
    except Exception as exc:
        raise PresetError(f"{ckpt}: not a readable PyTorch checkpoint ({type(exc).__name__})") from None
    try:
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PresetError(f"{stats_file}: no such stats file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PresetError(f"{stats_file}: not valid JSON ({exc})".splitlines()[0]) from None
    generator = _require(state, "generator", ckpt, "")
    weight_t = _require(generator, WEIGHT, ckpt, "generator.")
    weight = np.asarray(weight_t.detach().cpu(), dtype=np.float64)
    if weight.shape != (1, 1, 3, 3):
        raise PresetError(f"{ckpt}: key 'generator.{WEIGHT}' must have shape (1, 1, 3, 3), got {weight.shape}")
    values = {k: _scalar(_require(generator, k, ckpt, "generator."), ckpt, "generator." + k) for k in (BIAS, SCALE, THRESHOLD)}
    norm = {k: _scalar(_require(stats, k, stats_file, ""), stats_file, k) for k in STATS_KEYS}
    stft = {"sample_rate": 44100, "n_fft": 2048, "hop": 512}
    for key, stats_key in (("sample_rate", "sample_rate"), ("n_fft", "n_fft"), ("hop", "hop_length")):
        if stats_key in stats:
            stft[key] = int(stats[stats_key])
    history = state.get("history", {}) if isinstance(state, dict) else {}
    finals = {k: float(v[-1]) for k, v in history.items() if isinstance(v, list) and v}
    data = {
        "format": "cak-preset",
        "version": 1,
        "name": name or ckpt.stem,
        "description": f"imported from {ckpt.name}",
        "kernel": {"weight": weight[0, 0].tolist(), "bias": values[BIAS], "scale": values[SCALE],
                   "threshold": values[THRESHOLD], "temperature": TEMP_FINAL},
        "normalization": norm,
        "stft": {**stft, "window": "hann"},
        "provenance": {"method": "AuGAN WGAN-GP, arXiv 2508.02643 (imported checkpoint)", "checkpoint": ckpt.name,
                       "stats": stats_file.name, "final_history": finals},
    }
    return Preset.from_dict(data, source=str(ckpt))
