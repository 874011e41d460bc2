"""Layering: the core (cak_dsp) imports neither the live host, the trainer nor the command line;
the command line sits above all three and loads the live host and torch only for the commands
that need them."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ABOVE_THE_CORE = ("cak_realtime", "cak_train", "cak_cli", "realtime", "train", "cli")


def _loaded_after(statement: str) -> list[str]:
    """Top-level packages of ABOVE_THE_CORE (and torch) in sys.modules after ``statement``, in a fresh interpreter."""
    code = (f"import sys\n{statement}\n"
            f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(ABOVE_THE_CORE) | {'torch'}!r})))")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return done.stdout.split()


def test_importing_the_core_imports_nothing_above_it() -> None:
    assert _loaded_after("import cak_dsp") == []


def test_importing_the_cli_loads_neither_the_live_host_nor_torch() -> None:
    assert _loaded_after("import cak_cli; cak_cli.build_parser()") == ["cak_cli"]


def test_no_core_module_imports_anything_above_the_core() -> None:
    """Also the imports inside functions, which importing cak_dsp does not run."""
    found = []
    for path in sorted((ROOT / "cak_dsp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}" for name in names
                      if name.split(".")[0] in ABOVE_THE_CORE]
    assert not found


def test_python_m_cak_cli_is_cak() -> None:
    done = subprocess.run([sys.executable, "-m", "cak_cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "usage: cak" in done.stdout
