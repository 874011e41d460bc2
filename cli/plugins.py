"""``cak plugins``: list VST3/AU plugins with their parameters and channel layouts."""
from __future__ import annotations

import argparse
import math
from pathlib import Path


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("plugins", help="list VST3/AU plugins with their parameters and channel layouts",
                       description="List the VST3 (and on macOS Audio Unit) plugins in the standard plugin folders "
                                   "or in FOLDER: name, maker, the channel counts each takes, latency, state size and "
                                   "every parameter with its range and value. Each plugin is loaded in a separate "
                                   "process, so a broken one is reported and the listing goes on.")
    p.set_defaults(handler=run)
    p.add_argument("folder", nargs="?", type=Path, default=None,
                   help="folder to search, or one plugin (default: the standard plugin folders)")
    p.add_argument("--json", action="store_true", help="print JSON (one object per plugin file)")
    p.add_argument("--timeout", type=_seconds, default=60.0, help="seconds a plugin may take to load (default 60)")


def run(args: argparse.Namespace) -> int:
    import json

    from cak_dsp.plugin_scan import find_plugins, format_report, inspect, standard_folders

    if args.folder is not None and not args.folder.exists():
        raise FileNotFoundError(f"{args.folder}: no such folder or plugin")
    folders = [args.folder] if args.folder is not None else [f for f in standard_folders() if f.is_dir()]
    paths = [path for folder in folders for path in find_plugins(folder)]
    broken = 0
    for path in paths:
        report = inspect(path, args.timeout)
        broken += report.error is not None
        if args.json:
            print(json.dumps({"path": str(path), "plugins": report.plugins, "error": report.error}), flush=True)
        else:
            print(format_report(report), flush=True)
    if not args.json:
        where = ", ".join(map(str, folders)) or "no standard plugin folder exists"
        print(f"{len(paths)} plugin file(s) in {where}; {broken} broken")
    return 0
