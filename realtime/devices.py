"""Audio devices: loading PortAudio, finding devices, checking a configuration before opening it.

Every failure becomes a :class:`LiveError` whose message is one line a musician can act on.
"""
from __future__ import annotations

from types import ModuleType


class LiveError(OSError):
    """A live-host problem with a one-line, actionable message (no PortAudio, no device, ...)."""


def sounddevice() -> ModuleType:
    """Import :mod:`sounddevice`, translating a missing PortAudio library into a clear error."""
    try:
        import sounddevice as sd
    except OSError as exc:
        raise LiveError(f"PortAudio library not found ({exc}); install it with: "
                        "apt-get install libportaudio2 (Debian/Ubuntu) or brew install portaudio (macOS)") from None
    return sd


def find_device(spec: int | str | None, kind: str) -> int:
    """Index of the ``kind`` (``"input"`` or ``"output"``) device matching ``spec``.

    ``spec`` is an index, a substring of the device name (sounddevice's rules), or None for
    the default device.
    """
    sd = sounddevice()
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    try:
        info = sd.query_devices(spec, kind)
    except (ValueError, sd.PortAudioError) as exc:
        what = "default" if spec is None else repr(spec)
        raise LiveError(f"no {kind} device {what}: {exc}; list devices with: cak devices") from None
    return int(info["index"])


def check_settings(input_device: int, output_device: int, inputs: int, outputs: int, samplerate: int) -> None:
    """Raise :class:`LiveError` if the devices cannot open ``inputs`` and ``outputs`` channels at ``samplerate``."""
    sd = sounddevice()
    for kind, device, channels, check in (("input", input_device, inputs, sd.check_input_settings),
                                          ("output", output_device, outputs, sd.check_output_settings)):
        info = sd.query_devices(device)
        available = int(info[f"max_{kind}_channels"])
        if channels > available:
            raise LiveError(f"{kind} device '{info['name']}' has {available} channel(s), {channels} needed")
        try:
            check(device=device, channels=channels, samplerate=samplerate, dtype="float32")
        except sd.PortAudioError as exc:
            raise LiveError(f"{kind} device '{info['name']}' cannot run {channels} channel(s) at "
                            f"{samplerate} Hz: {exc}") from None


def device_table() -> str:
    """A listing of all audio devices (index, name, host API, channels, default rate), like ``python -m sounddevice``."""
    sd = sounddevice()
    devices = sd.query_devices()
    if not devices:
        return "no audio devices found (is a sound server such as JACK or PipeWire running?)"
    return str(devices)
