"""cak_dsp.jit_stamp: an edit to any module with jitted code invalidates the engine's cached code."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from cak_dsp import jit_stamp

JITTED = re.compile(r"@njit|njit\(|@intrinsic|@overload|rocket_fft")


def test_the_list_names_every_module_with_jitted_code() -> None:
    found = {path.stem for path in jit_stamp.PACKAGE.glob("*.py")
             if path.stem != "jit_stamp" and JITTED.search(path.read_text(encoding="utf-8"))}
    assert found == set(jit_stamp.JITTED_MODULES)


def test_the_package_stamp_follows_every_listed_module(tmp_path: Path) -> None:
    for name in jit_stamp.JITTED_MODULES:
        shutil.copy(jit_stamp.PACKAGE / f"{name}.py", tmp_path)
    before = jit_stamp.package_stamp(tmp_path)
    assert jit_stamp.package_stamp(tmp_path) == before
    for name in ("normalization", "vecmath"):
        path = tmp_path / f"{name}.py"
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        after = jit_stamp.package_stamp(tmp_path)
        assert after != before
        before = after


def test_cak_functions_carry_the_package_stamp_and_others_keep_numbas(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.py").write_text(textwrap.dedent("""
        from numba import njit

        @njit(cache=True)
        def twice(x):
            return 2 * x
    """), encoding="utf-8")
    script = textwrap.dedent("""
        import sys
        from cak_dsp import engine, jit_stamp
        import elsewhere
        ours = engine._process._cache._impl.locator
        theirs = elsewhere.twice._cache._impl.locator
        assert type(ours).__module__ == "cak_dsp.jit_stamp", type(ours)
        assert ours.get_source_stamp()[1] == jit_stamp.package_stamp()
        assert not isinstance(theirs.get_source_stamp(), tuple), theirs.get_source_stamp()
        assert elsewhere.twice(21) == 42
        print("ok")
    """)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
