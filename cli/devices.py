"""``cak devices`` and ``cak midi-ports``: list the audio devices and MIDI input ports."""
from __future__ import annotations

import argparse

from .options import add_midi_api


def add_parser(sub) -> None:
    p = sub.add_parser("midi-ports", help="list MIDI input ports", description="List the MIDI input ports rtmidi sees.")
    p.set_defaults(handler=midi_ports)
    add_midi_api(p)
    p = sub.add_parser("devices", help="list audio devices", description="List the audio devices PortAudio sees.")
    p.set_defaults(handler=devices)


def devices(args: argparse.Namespace) -> int:
    from cak_realtime.run import print_devices

    return print_devices()


def midi_ports(args: argparse.Namespace) -> int:
    from cak_realtime.midi import list_ports

    ports = list_ports(args.midi_api)
    print("\n".join(f"{i}: {name}" for i, name in enumerate(ports)) or "no MIDI input ports found")
    return 0
