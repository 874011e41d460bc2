"""``cak studio``'s guards, without an audio device (``--no-audio``): the token, the Origin and the
Host of every HTTP request and WebSocket, upload limits and checks (one line in the page), a page
that loads nothing from elsewhere, and a clean stop on Ctrl-C."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import numpy as np
import pytest

from .studio_harness import StudioProcess, chromium, need_browser

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    need_browser()
    out = tmp_path_factory.mktemp("studio-out")
    process = StudioProcess(["--no-audio", "--output-dir", str(out), "--max-upload", str(LIMIT)])
    yield process
    assert process.interrupt() == 0, process.stderr
    assert process.stderr[-1] == "cak studio: stopped", process.stderr


def _ws_status(url: str, origin: str | None) -> int | dict:
    """The HTTP status of a refused WebSocket handshake, or the first message of an accepted one."""
    import aiohttp

    async def main():
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(url, headers=headers) as ws:
                    return json.loads((await ws.receive(timeout=10)).data)
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    return asyncio.run(main())


def test_websocket_needs_the_token_and_the_pages_origin(studio):
    ws = f"{studio.base}/ws"
    assert _ws_status(f"{ws}?token={studio.token}", studio.base)["type"] == "state"
    assert _ws_status(ws, studio.base) == 403
    assert _ws_status(f"{ws}?token=wrong", studio.base) == 403
    assert _ws_status(f"{ws}?token={studio.token}", "http://evil.example") == 403
    assert _ws_status(f"{ws}?token={studio.token}", None) == 403


def _http(studio: StudioProcess, request: str) -> tuple[int, str]:
    """Send a raw HTTP request; the status and the body."""
    host, port = studio.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        length = int(next(value for key, value in fields.items() if key.lower() == b"content-length"))
        while len(body) < length:
            body += conn.recv(65536)
    return int(head.split()[1]), body.decode()


def test_http_needs_the_token_the_host_and_the_origin(studio):
    port = studio.base.rsplit(":", 1)[1]
    ok = f"GET /?token={studio.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    assert _http(studio, ok)[0] == 200
    status, body = _http(studio, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
    assert status == 403 and "token" in json.loads(body)["error"]
    status, body = _http(studio, ok.replace(f"127.0.0.1:{port}", f"rebound.example:{port}"))
    assert status == 403 and "unknown host" in json.loads(body)["error"]
    status, body = _http(studio, ok.replace("Connection", "Origin: http://evil.example\r\nConnection"))
    assert status == 403 and "foreign origin" in json.loads(body)["error"]


def test_a_2_gb_upload_is_refused_before_its_body(studio):
    port = studio.base.rsplit(":", 1)[1]
    status, body = _http(studio, f"POST /upload?token={studio.token}&kind=audio&name=huge.wav HTTP/1.1\r\n"
                                 f"Host: 127.0.0.1:{port}\r\nContent-Length: {2 << 30}\r\nConnection: close\r\n\r\n")
    message = json.loads(body)["error"]
    assert status == 413 and message == "huge.wav: larger than the upload limit of 64 kB"


def test_page_loads_nothing_from_elsewhere(studio):
    import urllib.request

    with urllib.request.urlopen(studio.url) as response:
        csp = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    static = Path(__file__).resolve().parents[1] / "realtime" / "studio" / "static"
    for text in [page, *(p.read_text() for p in static.iterdir())]:
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_bad_uploads_get_one_line_in_the_page(studio, tmp_path):
    sf = pytest.importorskip("soundfile")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are my notes, not audio\n")
    too_big = tmp_path / "long.wav"
    sf.write(too_big, np.zeros(LIMIT, np.float32), 44100, subtype="FLOAT")
    with chromium() as browser:
        page = browser.new_page()
        page.goto(studio.url)
        page.set_input_files("#file-input", str(not_audio))
        message = page.locator("#message.error")
        message.filter(has_text="notes.wav").wait_for()
        text = page.text_content("#message")
        assert text.startswith("notes.wav: not an audio file soundfile can read") and "\n" not in text
        assert "Traceback" not in text
        page.set_input_files("#file-input", str(too_big))
        message.filter(has_text="long.wav").wait_for()
        assert page.text_content("#message") == "long.wav: larger than the upload limit of 64 kB"


def test_preset_and_mapping_files_from_the_page(studio, tmp_path):
    """A preset file joins the menu; a mapping file loads; a broken one of each is one line."""
    from cak_dsp.presets import SHIPPED_DIR

    mine = tmp_path / "mine.json"
    mine.write_text((SHIPPED_DIR / "melodic.json").read_text())
    broken = tmp_path / "broken.json"
    broken.write_text('{"controls": [{"target": "mix", "cc": 300}]}')
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"controls": [{"target": "mix", "cc": 7}]}')
    with chromium() as browser:
        page = browser.new_page()
        page.goto(studio.url)
        page.set_input_files("#preset-file", str(mine))
        page.locator("#preset option", has_text="mine").wait_for(state="attached")
        assert page.locator("#preset").input_value() == str(page.locator("#preset option").count() - 1)
        page.click("[data-view=setup]")
        page.set_input_files("#map-load", str(broken))
        page.locator("#message.error").filter(has_text="broken.json").wait_for()
        assert page.text_content("#message") == "broken.json: controls[0].cc: must be an integer 0..127, got 300"
        page.set_input_files("#map-load", str(mapping))
        page.locator("#message").filter(has_text="loaded mapping.json").wait_for()
        page.set_input_files("#preset-file", str(broken))
        page.locator("#message.error").filter(has_text="broken.json").wait_for()
        assert "\n" not in page.text_content("#message")
