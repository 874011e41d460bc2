"""``cak plugins``: every plugin in a folder listed with its parameters, channel counts and
latency, each loaded in a process of its own, so that broken plugins are reported and the
listing goes on."""
from __future__ import annotations

import json
import shutil

from cak_cli import main


def test_cak_plugins_lists_parameters_and_layouts_and_survives_broken_plugins(tmp_path, plugins_dir,
                                                                              broken_plugins, capsys):
    folder = tmp_path / "plugins"
    shutil.copytree(broken_plugins, folder, ignore=shutil.ignore_patterns("*.c"))
    for name in ("d_latency", "d_parameters", "d_states"):
        (folder / f"{name}.vst3").symlink_to(plugins_dir / f"{name}.vst3")
    assert main(["plugins", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Latency by DISTRHO" in out and "channels in = out: 1 (mono); latency 48000 samples at 48000 Hz" in out
    assert "latency_frames 0..3840000" in out
    assert "Parameters by DISTRHO" in out and "channels in = out: 2 (stereo)" in out and "parameters (10):" in out
    assert "current_program Default|Custom = Default" in out
    assert "garbage.vst3\n  BROKEN: VST3Plugin: Unable to scan plugin" in out
    broken = 2 if (folder / "crash.vst3").exists() else 1
    if broken == 2:
        assert "crash.vst3\n  BROKEN: crashed while loading (SIGSEGV)" in out
    assert out.strip().endswith(f"{3 + broken} plugin file(s) in {folder}; {broken} broken")
    assert main(["plugins", str(folder / "d_states.vst3"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["plugins"][0]["channels"] == [2] and listed["error"] is None
