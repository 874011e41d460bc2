"""The low-latency geometry makes the same spectral change as the standard offline render.

Measured with the benchmark's own material and metrics (``benchmarks/low_latency.py`` prints
the full table): on drums, a sustained pad and speech, for every shipped preset, the low-latency
output is spectrally closer to the standard wet output than the dry signal is, the amount of
change is about the same, and the wet-minus-dry waveforms are no worse than uncorrelated (the
geometries apply the change at different moments and with different effective phase, so the
waveforms are not expected to match; see docs/latency.md).
"""
from __future__ import annotations

import pytest

from benchmarks.low_latency import fidelity, materials
from cak_dsp.presets import resolve_preset, shipped_presets

TEXTURE = 1.0


@pytest.fixture(scope="module")
def material() -> dict:
    found = materials()
    missing = {"drums", "pad", "speech"} - set(found)
    if missing:
        pytest.skip(f"material not installed: {', '.join(sorted(missing))} (hydrogen-drumkits, alsa-utils)")
    return found


@pytest.mark.parametrize("name", shipped_presets())
def test_low_latency_reproduces_the_standard_change(material: dict, name: str) -> None:
    preset = resolve_preset(name)
    for kind, audio in material.items():
        row = fidelity(audio, preset, TEXTURE)
        assert row["effect_db"] > -30.0, (kind, row)
        assert row["lsd_db"] < 0.9 * row["lsd_dry_standard_db"], (kind, row)
        assert 0.5 < row["lsd_dry_geometry_db"] / row["lsd_dry_standard_db"] < 1.35, (kind, row)
        assert row["ser_db"] > -3.0, (kind, row)
