"""CAK preset files (format version 1): the one documented contract between trainer and runtime.

A preset is a JSON object::

    {
      "format": "cak-preset", "version": 1,
      "name": "...", "description": "...",
      "kernel": {"weight": [[...], [...], [...]], "bias": b, "scale": s,
                 "threshold": tau, "temperature": T},
      "normalization": {"alpha": a, "global_low": lo, "global_high": hi, "gamma": g},
      "stft": {"sample_rate": 44100, "n_fft": 2048, "hop": 512, "window": "hann"},
      "provenance": {"method": "...", ...}
    }

``kernel.weight`` uses torch ``Conv2d`` cross-correlation layout over a (frequency, time)
spectrogram: rows are frequency offsets -1, 0, +1 (bins), columns are time offsets -1, 0, +1
(frames). The effect on a normalized magnitude ``x`` is
``y = x + (conv3x3(x) + bias) * c * sigmoid((c - threshold) * temperature) * scale``.
See ``docs/presets.md`` for the full description.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_text_atomic
from .limits import check_number, check_sample_rate
from .residual import gate, residual_gain

FORMAT_NAME = "cak-preset"
FORMAT_VERSION = 1
WINDOWS = ("hann",)
N_FFT_RANGE = (64, 16384)  # a power of two
MIN_OVERLAP, MAX_OVERLAP = 2, 16  # hop between n_fft / 16 and n_fft / 2
# Every number a preset holds lies in a range wide enough for any trained kernel and narrow
# enough that the engine's float32 arithmetic stays finite (alpha 1e300 would silence it).
RANGES: dict[str, tuple[float, float]] = {
    "kernel.weight": (-100.0, 100.0),
    "kernel.bias": (-100.0, 100.0),
    "kernel.scale": (-100.0, 100.0),
    "kernel.threshold": (-10.0, 10.0),
    "kernel.temperature": (1e-3, 1e3),
    "normalization.alpha": (1e-6, 1e6),
    "normalization.global_low": (-100.0, 100.0),
    "normalization.global_high": (-100.0, 100.0),
    "normalization.gamma": (0.01, 10.0),
}
MIN_SPAN = 1e-3  # global_high - global_low


class PresetError(ValueError):
    """A preset file or dictionary is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Preset:
    """A validated CAK preset. Build with :func:`load_preset` or :meth:`Preset.from_dict`."""

    name: str
    weight: np.ndarray
    bias: float
    scale: float
    threshold: float
    temperature: float
    alpha: float
    global_low: float
    global_high: float
    gamma: float
    sample_rate: int = 44100
    n_fft: int = 2048
    hop: int = 512
    window: str = "hann"
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def is_causal(self) -> bool:
        """True when the kernel never reads the next frame (future-time column is all zero)."""
        return bool(np.all(self.weight[:, 2] == 0.0))

    def gate(self, texture: float) -> float:
        """The soft gate ``sigmoid((c - tau) * T)``."""
        return gate(float(texture), self.threshold, self.temperature)

    def gain(self, texture: float) -> float:
        """The residual's total multiplier ``c * gate(c) * s`` applied to ``conv3x3(x) + bias``."""
        return residual_gain(float(texture), self.scale, self.threshold, self.temperature)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dictionary of this preset (format version 1)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "kernel": {
                "weight": [[float(v) for v in row] for row in self.weight],
                "bias": self.bias,
                "scale": self.scale,
                "threshold": self.threshold,
                "temperature": self.temperature,
            },
            "normalization": {
                "alpha": self.alpha,
                "global_low": self.global_low,
                "global_high": self.global_high,
                "gamma": self.gamma,
            },
            "stft": {
                "sample_rate": self.sample_rate,
                "n_fft": self.n_fft,
                "hop": self.hop,
                "window": self.window,
            },
            "provenance": self.provenance,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the preset as indented JSON, atomically."""
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def __post_init__(self) -> None:
        """Hold every field to the file format's rules, however the preset was built (a file's
        errors name the file: :func:`load_preset`, :meth:`from_dict`)."""
        try:
            data = _plain(self.to_dict())
        except (TypeError, ValueError):
            raise PresetError(f"{_BUILT}: field 'kernel.weight': expected a 3x3 array of numbers, "
                              f"got {type(self.weight).__name__}") from None
        _fields(data, _BUILT)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<preset>") -> Preset:
        """Validate ``data`` and build a preset; errors name ``source`` and the field."""
        return cls(**_fields(data, source))


_BUILT = "Preset(...)"


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as the Python numbers and lists JSON holds."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def _fields(data: Any, source: str) -> dict[str, Any]:
    """The keyword arguments of a :class:`Preset` read from the format's dictionary ``data``;
    a one-line :class:`PresetError` naming ``source`` and the field for anything out of its rules."""
    v = _Validator(source)
    if not isinstance(data, dict):
        raise v.error("(top level)", "expected a JSON object")
    fmt = v.get(data, "format", str)
    if fmt != FORMAT_NAME:
        raise v.error("format", f"expected '{FORMAT_NAME}', got {fmt!r}")
    version = v.get(data, "version", int)
    if version != FORMAT_VERSION:
        raise v.error("version", f"unsupported version {version!r}; this cak reads version {FORMAT_VERSION}")
    kernel = v.get(data, "kernel", dict)
    norm = v.get(data, "normalization", dict)
    stft = v.get(data, "stft", dict)
    provenance = v.get(data, "provenance", dict)
    method = v.get(provenance, "method", str, "provenance.method")
    if not method.strip():
        raise v.error("provenance.method", "must say how the preset was made")
    window = v.get(stft, "window", str, "stft.window")
    if window not in WINDOWS:
        raise v.error("stft.window", f"unsupported window {window!r}; supported: {', '.join(WINDOWS)}")
    n_fft = v.get(stft, "n_fft", int, "stft.n_fft")
    lo, hi = N_FFT_RANGE
    if not (lo <= n_fft <= hi and n_fft & (n_fft - 1) == 0):
        raise v.error("stft.n_fft", f"must be a power of two between {lo} and {hi}, got {n_fft}")
    hop = v.get(stft, "hop", int, "stft.hop")
    if not n_fft // MAX_OVERLAP <= hop <= n_fft // MIN_OVERLAP:
        raise v.error("stft.hop", f"must be between n_fft/{MAX_OVERLAP} = {n_fft // MAX_OVERLAP} and "
                                  f"n_fft/{MIN_OVERLAP} = {n_fft // MIN_OVERLAP}, got {hop}")
    sample_rate = v.get(stft, "sample_rate", int, "stft.sample_rate")
    try:
        check_sample_rate(sample_rate, "")
    except ValueError as exc:
        raise v.error("stft.sample_rate", str(exc)) from None
    low = v.number(norm, "global_low", "normalization.global_low")
    high = v.number(norm, "global_high", "normalization.global_high")
    if not high - low >= MIN_SPAN:
        raise v.error("normalization.global_high", f"must exceed global_low ({low}) by at least {MIN_SPAN:g}, "
                                                   f"got {high}")
    return dict(
        name=v.get(data, "name", str),
        description=v.get(data, "description", str),
        weight=v.matrix3(kernel, "weight", "kernel.weight"),
        bias=v.number(kernel, "bias", "kernel.bias"),
        scale=v.number(kernel, "scale", "kernel.scale"),
        threshold=v.number(kernel, "threshold", "kernel.threshold"),
        temperature=v.number(kernel, "temperature", "kernel.temperature"),
        alpha=v.number(norm, "alpha", "normalization.alpha"),
        global_low=low,
        global_high=high,
        gamma=v.number(norm, "gamma", "normalization.gamma"),
        sample_rate=sample_rate,
        n_fft=n_fft,
        hop=hop,
        window=window,
        provenance=provenance,
    )


class _Validator:
    """Field readers that raise one-line :class:`PresetError` messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, field_name: str, problem: str) -> PresetError:
        return PresetError(f"{self.source}: field '{field_name}': {problem}")

    def get(self, obj: dict, key: str, kind: type, label: str | None = None) -> Any:
        label = label or key
        if key not in obj:
            raise self.error(label, "missing")
        value = obj[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            raise self.error(label, f"expected {kind.__name__}, got {type(value).__name__} {value!r}"[:200])
        return value

    def number(self, obj: dict, key: str, label: str) -> float:
        """A finite number within ``RANGES[label]``."""
        if key not in obj:
            raise self.error(label, "missing")
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(label, f"expected a number, got {type(value).__name__} {value!r}"[:200])
        try:
            return float(check_number(value, "", *RANGES[label]))
        except ValueError as exc:
            raise self.error(label, str(exc)[:200]) from None

    def matrix3(self, obj: dict, key: str, label: str) -> np.ndarray:
        if key not in obj:
            raise self.error(label, "missing")
        rows = obj[key]
        shape_ok = isinstance(rows, list) and len(rows) == 3 and all(isinstance(r, list) and len(r) == 3 for r in rows)
        if not shape_ok:
            raise self.error(label, "expected a 3x3 list of numbers (rows: frequency -1,0,+1; columns: time -1,0,+1)")
        flat = [x for r in rows for x in r]
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in flat):
            raise self.error(label, "expected numbers only")
        try:
            weight = np.array(rows, dtype=np.float64)
        except OverflowError:
            raise self.error(label, "contains a number too large for a float") from None
        if not np.all(np.isfinite(weight)):
            raise self.error(label, "contains NaN or infinity")
        lo, hi = RANGES[label]
        if np.any(np.abs(weight) > hi):
            worst = weight.flat[np.argmax(np.abs(weight))]
            raise self.error(label, f"every tap must be between {lo:g} and {hi:g}, got {worst}")
        weight.setflags(write=False)
        return weight


def load_preset(path: str | os.PathLike[str]) -> Preset:
    """Read and validate a preset file; any problem raises :class:`PresetError` naming file and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PresetError(f"{path}: no such preset file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read preset: {exc}") from None
    try:
        data = json.loads(text, parse_constant=lambda name: float(name))
    except json.JSONDecodeError as exc:
        raise PresetError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise PresetError(f"{path}: not a preset: nested too deeply") from None
    return Preset.from_dict(data, source=str(path))
