"""``afx devices``: the audio inputs a live patch can capture from."""
from __future__ import annotations

import json

from afx_graph.media.capture import input_devices

HELP = "list the audio inputs a live patch can capture from (microphones, line-ins, monitors)"


def register(sub) -> None:
    p = sub.add_parser("devices", help=HELP, description=HELP + ". On Linux, what the computer "
                       "plays is the PulseAudio/PipeWire monitor, reached as the ALSA device "
                       "'pulse' (pick its monitor source with pavucontrol or pactl "
                       "set-default-source); on macOS install a loopback driver (BlackHole); "
                       "on Windows pick a WASAPI loopback device where one is listed.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    devices = input_devices()
    if args.json:
        print(json.dumps([d.__dict__ for d in devices], indent=2))
        return 0
    if not devices:
        print("no audio input devices")
        return 0
    for d in devices:
        mark = "*" if d.default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.api}, {d.channels} ch, {d.rate:g} Hz)")
    print("(* the default input; give --input INDEX or part of a name)")
    return 0
