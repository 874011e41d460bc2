"""The studio's state and actions over the live host and the offline renderer (no web code here).

A :class:`Studio` owns one :class:`~cak_realtime.stream.LiveHost` whose program bank holds the
shipped presets and the preset files the user adds (the preset menu is Program Change, with
its crossfade), a :class:`~cak_realtime.studio.player.FilePlayer` that feeds the host in file
mode (device input in input mode), a :class:`~cak_realtime.studio.player.Tap` for the pictures,
and, when a port is chosen, a :class:`~cak_realtime.midi.MidiControl`. Exports run the renderer
of ``cak render`` (:class:`cak_dsp.batch.RenderJob` and :func:`cak_dsp.file_render.render_file`)
with the same settings, so an export equals ``cak render`` by construction.

Every method may raise ``ValueError`` or ``OSError`` with a one-line message; the server shows
it in the page. The audio device is optional: without one (``audio=False`` or none found) the
studio still loads, shows and exports files, and says why it cannot play.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from cak_dsp.atomic import write_text_atomic
from cak_dsp.automation import load_automation
from cak_dsp.batch import RenderJob
from cak_dsp.chain_file import load_chain
from cak_dsp.demo import plot_spectrograms
from cak_dsp.errors import first_line
from cak_dsp.file_render import READ_FORMATS, WRITE_FORMATS, render_file
from cak_dsp.level import LEVEL_MODES
from cak_dsp.presets import DEFAULT_PRESET, resolve_preset, shipped_presets
from cak_dsp.texture import check_texture

from ..bypass_chain import BypassChain
from ..midi import TARGETS, MidiControl
from ..midimap import MidiMap, load_midi_map, save_midi_map
from ..stream import LiveConfig, LiveHost
from .player import FilePlayer, Tap

GEOMETRIES = ("standard", "low-latency")
SOURCES = ("file", "input")
GAIN_RANGE_DB = (-60.0, 12.0)


@dataclass
class StudioOptions:
    """What ``cak studio`` starts with (the command line's options as plain values)."""

    file: Path | None = None
    chain: Path | None = None
    preset: str | None = None
    texture: float = 0.8
    mode: str = "gain"
    level: str = "match"
    soft_clip: bool | None = None
    geometry: str = "standard"
    input_device: int | str | None = None
    output_device: int | str | None = None
    samplerate: int | None = None
    blocksize: int = 0
    channels: int = 2
    ceiling_db: float = 0.0
    output_dir: Path = field(default_factory=Path.cwd)
    midi_map: Path | None = None
    midi_api: str = "default"
    audio: bool = True


def number(value: object, name: str, low: float, high: float) -> float:
    """``value`` as a finite float within ``low..high``, else a one-line ValueError."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: not a number: {value!r}") from None
    if not (math.isfinite(result) and low <= result <= high):
        raise ValueError(f"{name}: must be between {low:g} and {high:g}, got {result}")
    return result


class Studio:
    """The studio's model: settings, the host, the file, MIDI and exports (see the module docstring)."""

    def __init__(self, options: StudioOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.lock = threading.RLock()
        self.preset_refs: list[str] = shipped_presets()
        if options.preset and options.preset not in self.preset_refs:
            resolve_preset(options.preset)
            self.preset_refs.append(options.preset)
        self.presets = [resolve_preset(ref) for ref in self.preset_refs]
        self.chain_stages: list[str] = []
        self.stage_bypass: list[bool] = []
        if options.chain is not None:
            chain = load_chain(options.chain)  # checked now: a bad chain file is a one-line error at start
            self.chain_stages = [_stage_label(spec, name) for spec, name in zip(chain.specs, chain.names)]
            self.stage_bypass = [False] * len(self.chain_stages)
        check_texture(options.texture, "--texture")
        self.settings = {"preset": self.preset_refs.index(options.preset or DEFAULT_PRESET),
                         "texture": options.texture, "level": options.level, "mix": 1.0, "gain_db": 0.0,
                         "bypass": False, "loop": True, "geometry": options.geometry, "source": "file",
                         "input_device": options.input_device, "output_device": options.output_device}
        self.host = None
        self.tap: Tap | None = None
        self.audio_error: str | None = None if options.audio else "no audio device (started with --no-audio)"
        self.file: Path | None = None
        self.file_name = ""
        self.file_rate = 0
        self.player: FilePlayer | None = None
        self.player_rate = 0
        self.midi: MidiControl | None = None
        self.midi_map = load_midi_map(options.midi_map) if options.midi_map is not None else MidiMap()
        self.midi_port = ""
        self.exports: dict[str, Path] = {}
        self.spectrogram: Path | None = None
        self.export_progress = 0.0

    # -- the host ------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the audio device (a failure is kept as ``audio_error``) and load the start file."""
        if self.options.audio:
            try:
                self.rebuild()
            except (OSError, ValueError) as exc:
                self.audio_error = first_line(exc)
        if self.options.file is not None:
            self.load_file(self.options.file, self.options.file.name)

    def rebuild(self) -> None:
        """(Re)open the host with the current settings: devices, geometry, the preset bank."""
        with self.lock:
            old, self.host = self.host, None
            if old is not None:
                old.stop()
            s = self.settings
            chain = None
            if self.options.chain is not None:
                chain = BypassChain.of(load_chain(self.options.chain))
                for index, on in enumerate(self.stage_bypass):
                    chain.set_bypass(index, on)
            # the preset menu is Program Change over every preset (with --chain, the chain's own)
            programs = {} if chain is not None else dict(enumerate(self.presets))
            config = LiveConfig(preset=self.presets[s["preset"]], texture=s["texture"], mode=self.options.mode,
                                level=_live_level(s["level"]), soft_clip=self.options.soft_clip,
                                ceiling_db=self.options.ceiling_db, geometry=s["geometry"],
                                input_device=s["input_device"], output_device=s["output_device"],
                                channels=self.options.channels, samplerate=self.options.samplerate,
                                blocksize=self.options.blocksize, mix=s["mix"],
                                output_gain=10 ** (s["gain_db"] / 20), programs=programs, chain=chain)
            try:
                host = LiveHost(config)
            except (OSError, ValueError) as exc:
                self.audio_error = first_line(exc)
                raise
            host.set_bypass(s["bypass"])
            self.tap = Tap(self.options.channels)
            host.tap = self.tap
            if self.player is not None and self.file_rate and host.samplerate != self.player_rate:
                self.player = None  # the device rate changed: the file is read again below
            if self.player is None and self.file is not None:
                self.player = self._player_for(self.file, host.samplerate)
            host.source = self.player if s["source"] == "file" and self.player is not None else None
            host.start()
            self.host = host
            self.audio_error = None
            if self.midi is not None:
                self.midi.setters, self.midi.program = host.setters(), host.set_program

    def close(self) -> None:
        """Stop MIDI and the audio stream (Ctrl-C, SIGTERM, SIGHUP)."""
        with self.lock:
            if self.midi is not None:
                self.midi.stop()
                self.midi = None
            if self.host is not None:
                self.host.stop()
                self.host = None

    @property
    def samplerate(self) -> int:
        return self.host.samplerate if self.host is not None else self.file_rate

    # -- the file ------------------------------------------------------------------------------
    def load_file(self, path: Path, name: str) -> None:
        """Check ``path`` as audio (soundfile), read it at the device rate and audition it."""
        if Path(name).suffix.lower() not in READ_FORMATS:
            raise ValueError(f"{name}: not an audio file name (use one of: "
                             f"{', '.join(f.lstrip('.') for f in READ_FORMATS)})")
        try:
            info = sf.info(str(path))
        except (RuntimeError, OSError) as exc:
            raise ValueError(f"{name}: not an audio file soundfile can read ({first_line(exc)})") from None
        if info.frames <= 0:
            raise ValueError(f"{name}: empty audio file (0 samples)")
        with self.lock:
            rate = self.host.samplerate if self.host is not None else int(info.samplerate)
            player = self._player_for(path, rate)
            if self.player is not None:
                self.player.stop()
            self.player, self.file, self.file_name, self.file_rate = player, path, name, int(info.samplerate)
            if self.host is not None and self.settings["source"] == "file":
                self.host.source = player
            self.spectrogram = None

    def _player_for(self, path: Path, rate: int) -> FilePlayer:
        """The file resampled to ``rate`` (pedalboard, as ``cak render --samplerate``), mono
        spread over the host's channels, extra channels dropped."""
        from pedalboard.io import AudioFile

        try:
            with AudioFile(str(path)) as source:
                reader = source if rate == source.samplerate else source.resampled_to(float(rate))
                with reader:
                    audio = reader.read(int(reader.frames))
        except (ValueError, RuntimeError, OSError) as exc:
            raise ValueError(f"{path.name}: cannot read audio ({first_line(exc)})") from None
        channels = self.options.channels
        if audio.shape[0] < channels:
            audio = np.concatenate([audio] + [audio[-1:]] * (channels - audio.shape[0]))
        self.player_rate = rate
        return FilePlayer(audio[:channels], loop=self.settings["loop"])

    # -- controls ------------------------------------------------------------------------------
    def set_control(self, name: str, value: object) -> None:
        """One control from the page: texture, mix, gain_db, bypass, loop, level, preset,
        source, geometry, input_device, output_device."""
        s, host = self.settings, self.host
        if name == "texture":
            s["texture"] = check_texture(value, "texture")
            if host is not None:
                host.set_texture(s["texture"])
        elif name == "mix":
            s["mix"] = number(value, "mix", 0.0, 1.0)
            if host is not None:
                host.set_mix(s["mix"])
        elif name == "gain_db":
            s["gain_db"] = number(value, "output gain (dB)", *GAIN_RANGE_DB)
            if host is not None:
                host.set_gain_db(s["gain_db"])
        elif name == "bypass":
            s["bypass"] = bool(value)
            if host is not None:
                host.set_bypass(s["bypass"])
        elif name == "loop":
            s["loop"] = bool(value)
            if self.player is not None:
                self.player.loop = s["loop"]
        elif name == "level":
            if value not in LEVEL_MODES:
                raise ValueError(f"level: must be one of {', '.join(LEVEL_MODES)}, got {value!r}")
            s["level"] = value
            if host is not None:
                for cak in host.processor.cak_stages:
                    cak.level = _live_level(value)
        elif name == "preset":
            index = int(number(value, "preset", 0, len(self.presets) - 1))
            if self.options.chain is not None:
                raise ValueError("the preset menu is off with --chain: the chain file names its presets")
            s["preset"] = index
            if host is not None:
                host.set_program(index)
        elif name == "source":
            if value not in SOURCES:
                raise ValueError(f"source: must be one of {', '.join(SOURCES)}, got {value!r}")
            s["source"] = value
            if host is not None:
                host.source = self.player if value == "file" else None
        elif name in ("geometry", "input_device", "output_device"):
            if name == "geometry" and value not in GEOMETRIES:
                raise ValueError(f"geometry: must be one of {', '.join(GEOMETRIES)}, got {value!r}")
            previous = s[name]
            s[name] = None if value in ("", None) else value
            try:
                self.rebuild()
            except (OSError, ValueError):
                s[name] = previous
                self.rebuild()
                raise
        else:
            raise ValueError(f"unknown control {name!r}")

    def set_stage_bypass(self, index: object, on: object) -> None:
        """Bypass chain stage ``index`` (0-based) while listening; exports render the whole chain."""
        if not self.chain_stages:
            raise ValueError("stage bypass needs a chain (cak studio --chain FILE)")
        index = int(number(index, "stage", 0, len(self.chain_stages) - 1))
        self.stage_bypass[index] = bool(on)
        if self.host is not None:
            self.host.processor.set_bypass(index, bool(on))

    def add_preset(self, path: Path) -> None:
        """A preset file from the page joins the menu (and the bank: the host reopens)."""
        preset = resolve_preset(str(path))
        self.preset_refs.append(str(path))
        self.presets.append(preset)
        self.settings["preset"] = len(self.presets) - 1
        if self.host is not None:
            self.rebuild()

    # -- transport -----------------------------------------------------------------------------
    def transport(self, action: str, value: object = None) -> None:
        player = self._need_player()
        if action == "play":
            if self.host is None:
                raise OSError(f"cannot play: {self.audio_error or 'no audio device'}")
            if self.settings["source"] != "file":
                raise ValueError("switch the source to 'file' to play it")
            player.play()
        elif action == "stop":
            player.stop()
        elif action == "pause":
            player.stop(rewind=False)
        elif action == "seek":
            player.seek(int(number(value, "position", 0.0, 1.0) * (player.length - 1)))
        else:
            raise ValueError(f"unknown transport action {action!r}")

    def _need_player(self) -> FilePlayer:
        if self.player is None:
            raise ValueError("open an audio file first")
        return self.player

    # -- export --------------------------------------------------------------------------------
    def export(self, name: str, with_take: bool, progress=None) -> dict:
        """Render the file as ``cak render`` would, with the current settings or the take's knob
        (saved first as ``NAME-knob.csv``); returns the written names."""
        if self.file is None:
            raise ValueError("open an audio file first")
        dst = self._output_path(name, WRITE_FORMATS)
        automation, csv = None, None
        if with_take:
            times, values = self.player.knob_points(self.player_rate) if self.player is not None else ((), ())
            if len(times) == 0:
                raise ValueError("no knob take recorded: play the file from its start and move the knob")
            csv = dst.with_name(dst.stem + "-knob.csv")
            points = "".join(f"{float(t)!r},{float(v)!r}\n" for t, v in zip(times, values))
            write_text_atomic(csv, "time,texture\n" + points)
            automation = load_automation(csv)
        s = self.settings
        job = RenderJob(chain_file=None if self.options.chain is None else str(self.options.chain),
                        preset=None if self.options.chain is not None else self.preset_refs[s["preset"]],
                        mode=self.options.mode, level=s["level"], soft_clip=self.options.soft_clip,
                        geometry=s["geometry"], texture=None if automation else s["texture"], automation=automation)
        total = [1]
        done = [0]

        def on_length(n: int) -> None:
            total[0] = max(n, 1)

        def on_block(n: int) -> None:
            done[0] += n
            self.export_progress = min(done[0] / total[0], 1.0)
            if progress is not None:
                progress(self.export_progress)

        self.export_progress = 0.0
        render_file(self.file, dst, job.build_chain(), texture=job.knob, progress=on_block, on_length=on_length)
        self.exports[dst.name] = dst
        written = {"audio": dst.name, "csv": csv.name if csv else None, "command": self.render_command(dst, csv)}
        if csv is not None:
            self.exports[csv.name] = csv
        self.spectrogram = self._plot(dst)
        return written

    def render_command(self, dst: Path, csv: Path | None) -> str:
        """The ``cak render`` line that writes the same file."""
        s = self.settings
        source = f"--chain {self.options.chain}" if self.options.chain else f"--preset {self.preset_refs[s['preset']]}"
        knob = f"--automation {csv}" if csv else f"--texture {s['texture']:g}"
        extra = "" if self.options.mode == "gain" else f" --mode {self.options.mode}"
        if self.options.soft_clip is not None:
            extra += " --soft-clip" if self.options.soft_clip else " --no-soft-clip"
        return (f"cak render {self.file_name} {dst.name} {source} {knob} --level {s['level']} "
                f"--geometry {s['geometry']}{extra}")

    def _output_path(self, name: str, formats: tuple[str, ...]) -> Path:
        """A new file in the output folder: a bare name with a known extension; never the input,
        never an existing file (``-2``, ``-3``... are added)."""
        name = str(name).strip()
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"export name {name!r}: give a file name without a folder, e.g. take-wet.wav")
        if Path(name).suffix.lower() not in formats:
            raise ValueError(f"export name {name!r}: the extension must be one of: "
                             f"{', '.join(f.lstrip('.') for f in formats)}")
        folder = self.options.output_dir
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: output folder does not exist")
        path, k = folder / name, 1
        while path.exists() or (self.file is not None and path.resolve() == self.file.resolve()):
            k += 1
            path = folder / f"{Path(name).stem}-{k}{Path(name).suffix}"
        return path

    def _plot(self, dst: Path) -> Path:
        """The static dry / wet / wet-minus-dry spectrogram of the export."""
        wet, rate = sf.read(str(dst), dtype="float32", always_2d=True)
        dry, _ = sf.read(str(self.file), dtype="float32", always_2d=True)
        png = self.workdir / f"spectrogram-{len(self.exports)}.png"
        n = min(len(dry), len(wet))
        plot_spectrograms(dry[:n].T, wet[:n].T, rate, png, f"{self.file_name} -> {dst.name}")
        return png

    # -- MIDI ----------------------------------------------------------------------------------
    def open_midi(self, port: str, api: str | None = None) -> None:
        """Listen on MIDI input ``port`` (a name substring) with the current mapping ('' closes)."""
        with self.lock:
            if self.midi is not None:
                self.midi.stop()
                self.midi, self.midi_port = None, ""
            if not port:
                return
            if self.host is None:
                raise OSError(f"MIDI needs the audio host: {self.audio_error or 'no audio device'}")
            control = MidiControl(self.midi_map.controls, self.host.setters(), port=port,
                                  api=api or self.options.midi_api, program=self.host.set_program,
                                  program_channel=self.midi_map.program_channel)
            control.start()
            self.midi, self.midi_port = control, control.port_name or port

    def learn(self, target: str) -> None:
        if target not in TARGETS:
            raise ValueError(f"learn: unknown control {target!r}")
        if self.midi is None:
            raise ValueError("choose a MIDI port first")
        self.midi.learn(target)

    def bindings(self) -> dict[str, str]:
        """Each target's binding as the page shows it (``CC 21``, ``CC 21 ch 5``, ``note 60``, ``learning``)."""
        mappings = self.midi.mappings if self.midi is not None else self.midi_map.controls
        shown: dict[str, str] = {}
        for m in mappings:
            if m.cc is None and m.note is None:
                shown[m.target] = "learning"
                continue
            text = f"note {m.note}" if m.note is not None else f"CC {m.cc}"
            shown[m.target] = text + (f" ch {m.channel}" if m.channel is not None else "")
        return shown

    def save_midi_map(self, name: str) -> str:
        mappings = self.midi.mappings if self.midi is not None else self.midi_map.controls
        path = self._output_path(name, (".json",))
        save_midi_map(MidiMap([m for m in mappings], dict(self.midi_map.programs), self.midi_map.program_channel),
                      path)
        self.exports[path.name] = path
        return path.name

    def load_midi_map(self, path: Path) -> None:
        """Use the mapping file ``path`` (reopening the MIDI port with it)."""
        self.midi_map = load_midi_map(path)
        if self.midi is not None:
            port = self.midi.port
            self.open_midi(port)

    # -- what the page shows -------------------------------------------------------------------
    def state(self) -> dict:
        """Everything the page's controls show (sent on connect and after each change)."""
        s = dict(self.settings)
        host = self.host
        return {"type": "state", **s, "presets": [Path(r).stem if r.endswith(".json") else r for r in self.preset_refs],
                "levels": list(LEVEL_MODES), "geometries": list(GEOMETRIES), "chain": self.chain_stages,
                "stage_bypass": self.stage_bypass,
                "file": self.file_name, "file_seconds": (self.player.length / self.player_rate) if self.player else 0,
                "audio_error": self.audio_error, "samplerate": self.samplerate,
                "latency_samples": host.total_latency_samples if host else 0,
                "latency_ms": 1e3 * host.total_latency_samples / host.samplerate if host else 0.0,
                "midi_port": self.midi_port, "bindings": self.bindings(),
                "texture_range": [0.0, 2.0], "gain_range": list(GAIN_RANGE_DB)}

    def meters(self) -> dict:
        """Peaks, knob, gate, load, xruns, MIDI activity and transport (at most 30 times a second)."""
        host, player = self.host, self.player
        midi = self.midi
        out: dict = {"type": "meters", "playing": bool(player and player.playing),
                     "position": (player.position / player.length) if player else 0.0,
                     "seconds": (player.position / self.player_rate) if player else 0.0,
                     "recording": bool(player and player.recording), "midi_events": midi.events if midi else 0,
                     "midi_lost": bool(midi and midi.lost), "learning": bool(midi and midi.learning),
                     "bindings": self.bindings()}
        if host is None:
            return out
        snap = host.snapshot()
        preset = host.bank.presets[host.bank.active] if host.bank is not None else None
        out.update(texture=snap.texture, texture_target=snap.texture_target, mix=snap.mix,
                   gain_db=20 * math.log10(max(snap.gain, 1e-9)), bypass=snap.bypass,
                   gate=preset.gate(snap.texture) if preset is not None else 0.0, program=snap.program,
                   in_peak=[float(p) for p in snap.in_peak], out_peak=[float(p) for p in snap.out_peak],
                   load=snap.load_last, xruns=snap.xruns, callbacks=snap.callbacks)
        return out


def _stage_label(spec: dict, name: str | None) -> str:
    """How the page lists a chain stage: its name, else its type (a CAK stage with its preset)."""
    kind = str(spec.get("type", "stage"))
    label = name or kind
    return f"{label} {spec.get('preset', 'drums')}" if kind == "cak" else label


def _live_level(level: str) -> str:
    """The level mode the live host runs for the studio's setting: 'match' needs the whole file
    (offline only) and follows live, as ``cak live`` does."""
    return "follow" if level == "match" else level
