"""What the wheel carries: every package folder, and every shipped preset file as package data.

``make wheel-check`` (run by CI) builds the wheel for real and renders every shipped preset from a
clean venv; this catches a new package folder or preset file the pyproject would leave out.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed(setuptools_config: dict) -> None:
    mapping = {folder: name for name, folder in setuptools_config.get("package-dir", {}).items()}
    found = set()
    for top in ("cak_dsp", "cli", "realtime", "train", "presets"):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            found.add(".".join((mapping.get(parts[0], parts[0]), *parts[1:])))
    assert found == set(setuptools_config["packages"])


def test_every_shipped_file_is_package_data(setuptools_config: dict) -> None:
    patterns = setuptools_config["package-data"]["cak_presets"]
    files = [p.name for p in (ROOT / "presets").iterdir() if p.is_file() and p.suffix != ".py"]
    assert "published.json" in files and "LICENSE-published.txt" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert not missing, f"not in the wheel: {missing}"
