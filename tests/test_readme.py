"""The documentation works as written: its Python runs and its command lines parse.

* Every code block fenced ```python in README.md and docs/*.md is executed, the blocks of one
  file in order in one namespace (as a reader would type them), in an empty temporary folder.
  Blocks that need a sound card, torch or the reader's own files are fenced ```py instead, which
  renders the same but is not run.
* Every ``cak SUBCOMMAND`` the README names exists: ``cak SUBCOMMAND [ACTION] --help`` exits 0.
* Every ``cak ...`` command line in a code block of the README, docs/*.md, presets/README.md and
  benchmarks/README.md is accepted by the real argument parser (options exist, arities and
  choices are right); nothing runs beyond the parse.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_DOCS = [*DOCS, ROOT / "presets" / "README.md", ROOT / "benchmarks" / "README.md"]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
GROUPS = ("preset", "chain", "train")  # subcommands whose next word is an action


def code_blocks(path: Path) -> list[tuple[str, int, str]]:
    """(language, line number of the first code line, code) of every fenced block in ``path``."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(1), text.count("\n", 0, m.start(2)) + 1, m.group(2)) for m in FENCE.finditer(text)]


def command_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, argv after ``cak``) of every ``cak ...`` line in a non-Python code block."""
    found = []
    for language, first, code in code_blocks(path):
        if language in ("python", "py", "json", "toml"):
            continue
        lines = code.splitlines()
        i = 0
        while i < len(lines):
            start, line = first + i, lines[i].strip()
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            i += 1
            line = line.removeprefix("$ ")
            if not line.startswith("cak "):
                continue
            argv = shlex.split(line, comments=True)
            if argv[0] == "cak" and len(argv) > 1:
                found.append((start, argv[1:]))
    return found


# Runs in a subprocess: for each argv, parse it with the real parser and stop there.
RUNNER = r"""
import argparse, contextlib, importlib, io, json, sys

class Parsed(BaseException):
    pass

original = argparse.ArgumentParser.parse_args
def parse_only(self, *args, **kwargs):
    original(self, *args, **kwargs)
    raise Parsed()
argparse.ArgumentParser.parse_args = parse_only

main = importlib.import_module(sys.argv[1]).main
results = []
for argv in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["cak", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        status = "ran"
    except Parsed:
        status = 0
    except SystemExit as exc:
        status = exc.code
    except Exception as exc:
        status = f"{type(exc).__name__}: {exc}"
    results.append([status, err.getvalue().strip().splitlines()[-1:] or out.getvalue()[:200]])
print(json.dumps(results))
"""


def parse_all(argvs: list[list[str]]) -> list:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", RUNNER, "cak_cli"], input=json.dumps(argvs), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def readme_subcommands() -> list[tuple[str, ...]]:
    """Every ``cak SUBCOMMAND`` (and ``ACTION`` of preset, chain, train) the README names, in inline
    code (`cak render ...`) or in command lines of code blocks."""
    words = [m.groups() for m in re.finditer(r"`cak ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", README.read_text("utf-8"))]
    words += [(argv[0], next(iter(argv[1:2]), None)) for _, argv in command_lines(README)]
    words = [(sub, action if action and re.fullmatch(r"[a-z][a-z-]*", action) else None) for sub, action in words]
    named = {(sub, action) if sub in GROUPS and action else (sub,) for sub, action in words}
    return sorted(n for n in named if has_torch() or n[0] != "train")


def documented_commands(path: Path) -> list[tuple[int, list[str]]]:
    return [(n, argv) for n, argv in command_lines(path) if has_torch() or argv[0] != "train"]


@pytest.fixture(scope="module")
def parsed() -> dict[tuple[str, ...], list]:
    """What the parser says of every command line to check, in one subprocess (torch imports once)."""
    argvs = [[*n, "--help"] for n in readme_subcommands()]
    argvs += [argv for path in COMMAND_DOCS for _, argv in documented_commands(path)]
    unique = list(dict.fromkeys(map(tuple, argvs)))
    return dict(zip(unique, parse_all([list(a) for a in unique])))


@pytest.mark.parametrize("path", [p for p in DOCS if any(lang == "python" for lang, _, _ in code_blocks(p))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for language, first, code in code_blocks(path):
        if language == "python":
            # pad so that a traceback gives the line number in the Markdown file
            exec(compile("\n" * (first - 1) + code, str(path), "exec"), namespace)  # noqa: S102


def test_readme_has_runnable_python() -> None:
    assert any(lang == "python" for lang, _, _ in code_blocks(README))


def test_the_command_line_runs_as_a_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "cak_cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_every_subcommand_the_readme_names_exists(parsed: dict) -> None:
    names = readme_subcommands()
    assert {("render",), ("live",), ("demo",)} <= set(names)
    bad = [f"cak {' '.join(n)} --help: {parsed[(*n, '--help')]}" for n in names if parsed[(*n, "--help")][0] != 0]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", [p for p in COMMAND_DOCS if command_lines(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_command_lines_parse(path: Path, parsed: dict) -> None:
    lines = documented_commands(path)
    bad = [f"{path.name}:{n}: cak {shlex.join(argv)}\n    -> {parsed[tuple(argv)]}"
           for n, argv in lines if parsed[tuple(argv)][0] != 0]
    assert not bad, "\n".join(bad)
