"""Running ``cak studio`` for the browser tests: the server in a process of its own (as a user
runs it), Debian's chromium driven by playwright, and a WebSocket client that reads the meters.

Everything skips with a reason when a piece is missing: aiohttp, playwright, or /usr/bin/chromium
(``make test`` installs them: the ``test`` extra and the Debian package ``chromium``).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CAK_TEST_CHROMIUM", "/usr/bin/chromium"))
START_TIMEOUT = 180.0  # a cold start compiles the engine on a loaded 2-core machine


def need_browser() -> None:
    pytest.importorskip("aiohttp", reason="aiohttp not installed (pip install 'cak[studio]')")
    pytest.importorskip("playwright", reason="playwright not installed (pip install 'cak[test]')")
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")


class StudioProcess:
    """``python -m cak_cli studio ... --no-browser``; :attr:`url` is the URL it prints."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "cak_cli", "studio", "--no-browser", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                        env=env)
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = self._wait_for_url()

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _wait_for_url(self) -> str:
        lines: list[str] = []
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("cak studio: http://"):
                return line.split(": ", 1)[1].strip()
        self.process.kill()
        raise AssertionError(f"cak studio did not print its URL: {lines} {self.stderr}")

    @property
    def base(self) -> str:
        return self.url.split("/?")[0]

    @property
    def token(self) -> str:
        return self.url.split("token=")[1]

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C; returns the exit status."""
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"cak studio did not stop on SIGINT: {self.stderr}") from None


@contextlib.contextmanager
def chromium(marker: str | None = None) -> Iterator:
    """A headless Debian chromium under playwright; ``marker`` tags its command line (to find and kill it)."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
    if marker:
        args.append(f"--cak-test-marker={marker}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                browser.close()


def kill_marked(marker: str) -> int:
    """SIGKILL the chromium browser process whose command line carries ``marker``; returns how many."""
    killed = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"--cak-test-marker={marker}".encode() in cmdline and not any(a.startswith(b"--type=") for a in cmdline):
            os.kill(int(proc.name), signal.SIGKILL)
            killed += 1
    return killed


def new_marker() -> str:
    return uuid.uuid4().hex


def read_meters(studio: StudioProcess, count: int = 1, timeout: float = 10.0) -> list[dict]:
    """``count`` meter messages from the studio, over a WebSocket of our own (with the page's Origin)."""
    import asyncio

    import aiohttp

    async def main() -> list[dict]:
        got: list[dict] = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{studio.base}/ws?token={studio.token}",
                                          headers={"Origin": studio.base}) as ws:
                while len(got) < count:
                    message = await asyncio.wait_for(ws.receive(), timeout)
                    data = json.loads(message.data)
                    if data["type"] == "meters":
                        got.append(data)
        return got

    result: dict = {}

    def run() -> None:  # a thread of its own: playwright's sync API runs an event loop in this one
        try:
            result["meters"] = asyncio.run(main())
        except Exception as exc:  # noqa: BLE001 - raised again in the caller's thread
            result["error"] = exc

    reader = threading.Thread(target=run)
    reader.start()
    reader.join()
    if "error" in result:
        raise result["error"]
    return result["meters"]
