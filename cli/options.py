"""The options that several ``cak`` commands share, each defined once: the preset, the texture
knob, the sound options (``--mode``, ``--level``, ``--soft-clip``), the frame geometry, the chain
file, the MIDI options and ``--force``. A command module adds them with these functions and
keeps only the options that are its own.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from cak_dsp.level import LEVEL_MODES
from cak_dsp.normalization import DEFAULT_MODE, MODES
from cak_dsp.presets import DEFAULT_PRESET, shipped_presets
from cak_dsp.texture import check_texture

from . import EXIT_ERROR

MIDI_APIS = ("default", "alsa", "jack", "coremidi", "winmm")
GEOMETRIES = ("standard", "low-latency")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the option, the value, the valid range)
    pointing at ``--help``, instead of a usage block and the error."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def checked(check: Callable[[float, str], float], integer: bool = False) -> Callable[[str], float]:
    """An argparse type: the text as a number (an int when ``integer``), then ``check(value, "")``,
    one of the :mod:`cak_dsp.limits` checks, whose one-line error argparse prefixes with the option."""
    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if integer else 'a number'}: {text!r}") from None
        try:
            return check(value, "")
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = check.__name__
    return parse


def texture(text: str) -> float:
    """The argparse type of ``--texture``: a number in the texture range (:mod:`cak_dsp.texture`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return check_texture(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def preset_help() -> str:
    names = ", ".join(shipped_presets()) or "none yet"
    return f"preset JSON file, or the name of a shipped preset ({names}); default: {DEFAULT_PRESET}"


def add_preset(p, positional: bool = False) -> None:
    """``--preset/-p NAME`` (or, for ``cak preset``, an optional positional ``preset``)."""
    if positional:
        p.add_argument("preset", nargs="?", default=None, help=preset_help())
    else:
        p.add_argument("--preset", "-p", default=None, help=preset_help())


def add_texture(p, default: float | None, help: str) -> None:
    """``--texture/-c``: the texture amount c, checked against the texture range."""
    p.add_argument("--texture", "-c", type=texture, default=default, help=help)


def add_sound_options(p: argparse.ArgumentParser, live: bool) -> None:
    """``--mode``, ``--level`` and ``--soft-clip``: the same three options on every command that makes sound."""
    p.add_argument("--mode", choices=tuple(MODES), default=DEFAULT_MODE,
                   help="'gain' (default): the published CAK effect applied as a per-bin gain to the input "
                        "(identity at c = 0, bins above the published spectral ceiling kept, not flattened); "
                        "'reference': the published inference math exactly")
    default = "each CAK stage's own; 'match' runs as 'follow' live" if live else "match, or each chain stage's own"
    p.add_argument("--level", choices=LEVEL_MODES, default=None,
                   help="loudness: 'match' the whole file's RMS to the input's as the published GUI did "
                        "(offline: two passes), 'follow' it with a 4 s loudness follower (live and offline "
                        f"alike), or 'off' (the raw published level, 7-19 dB louder). Default: {default}")
    p.add_argument("--soft-clip", action=argparse.BooleanOptionalAction, default=None,
                   help="the published tanh soft clip after the level stage, blended in by the texture's gate "
                        "so c = 0 stays the identity (default: on)")


def add_geometry(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--geometry standard|low-latency``: the engine's frame geometry."""
    p.add_argument("--geometry", choices=GEOMETRIES, default="standard",
                   help=f"{prefix}frame geometry: 'standard' (default: the published frames, 58 ms at 44.1 kHz) or "
                        "'low-latency' (same bins, asymmetric windows: 14.5 ms, 2.9 ms for a causal preset; "
                        "the lowest latency the preset allows). 'cak preset show' lists both")


def add_chain(p, help: str) -> None:
    """``--chain FILE``: a chain file (JSON or TOML) of plugins and CAK stages."""
    p.add_argument("--chain", type=Path, default=None, help=help)


def add_force(p, help: str = "overwrite the output file if it exists") -> None:
    p.add_argument("--force", "-f", action="store_true", help=help)


def add_midi_api(p) -> None:
    p.add_argument("--midi-api", choices=MIDI_APIS, default="default", help="MIDI API (default: rtmidi's choice)")


def add_midi_map(p, help: str) -> None:
    """``--midi-map FILE``: the JSON mapping file of ``cak live`` (docs: ``cak live --help``)."""
    p.add_argument("--midi-map", type=Path, default=None, help=help)


def add_texture_cc(p, purpose: str = "", channel_scope: str = "") -> None:
    """``--cc``, ``--cc-channel`` and ``--cc-range``: the controller that moves c. The defaults
    are None so that a command can tell a given flag from the default (controller 1, the mod
    wheel; range 0 1.5)."""
    p.add_argument("--cc", type=int, default=None, help=f"controller number for c{purpose} (default 1, the mod wheel)")
    p.add_argument("--cc-channel", type=int, default=None,
                   help=f"MIDI channel 1..16{channel_scope} (default: any)")
    p.add_argument("--cc-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="c at controller 0 and at full scale (default 0 1.5)")
