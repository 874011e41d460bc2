"""The studio's web server: one page, a WebSocket, uploads and downloads, all on 127.0.0.1.

Security. The server binds 127.0.0.1 unless told otherwise and makes a random token that the
URL it opens carries (``/?token=...``). Every HTTP request and the WebSocket need that token,
a ``Host`` header naming this server (a DNS-rebinding page cannot reach it under another name)
and, when an ``Origin`` is sent, this server's origin (the WebSocket must send one): anything
else is refused with 403 and one line. Uploads are streamed to a private temporary folder and
refused past the size limit (by their ``Content-Length`` before any byte is read, or when the
body grows past it), then checked as audio, a preset or a mapping file. The page comes from the
package's own files with a Content-Security-Policy that allows nothing from elsewhere.

The page talks JSON over the WebSocket (see ``static/studio.js``): ``set`` a control,
``transport``, ``export``, the MIDI requests; the server answers with ``state`` after every
change, ``error`` (one line, never a stack trace) and pushes ``meters`` with the spectrogram
columns at :data:`PUSH_HZ`. Blocking work (opening devices, reading files, exporting) runs in
threads, so the page never stalls; the audio never depends on a page being connected.
"""
from __future__ import annotations

import asyncio
import functools
import json
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import WSMsgType, web

from cak_dsp.errors import first_line

from .session import Studio
from .spectrum import Columns

PUSH_HZ = 30
# The audio callback is Python code that needs the interpreter lock, which this process's event
# loop holds while it serves the page; Python hands the lock over only every switch interval
# (5 ms by default, a whole JACK period at 256 frames), so the studio asks for a shorter one.
SWITCH_INTERVAL_S = 0.0002
SMALL_UPLOAD = 1 << 20  # presets and mapping files
STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"studio.js": "text/javascript", "studio.css": "text/css"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class StudioServer:
    """The aiohttp application around a :class:`Studio` (see the module docstring)."""

    def __init__(self, studio: Studio, host: str = "127.0.0.1", max_upload: int = 1 << 30,
                 token: str | None = None) -> None:
        self.studio = studio
        self.bind_host = host
        self.max_upload = int(max_upload)
        self.token = token or secrets.token_urlsafe(24)
        self.allowed_hosts: set[str] = set()
        self.sockets: set[web.WebSocketResponse] = set()
        self.columns: Columns | None = None
        self.uploads = 0
        self.app = web.Application(middlewares=[self._errors, self._guard])
        self.app.add_routes([web.get("/", self._index), web.get("/static/{name}", self._static),
                             web.get("/ws", self._socket), web.post("/upload", self._upload),
                             web.get("/files/{name}", self._file), web.get("/spectrogram.png", self._spectrogram)])
        self._pusher: asyncio.Task | None = None

    # -- security --------------------------------------------------------------------------------
    def allow(self, port: int) -> None:
        """Accept requests for this server at ``port`` (known once the socket is bound)."""
        names = {self.bind_host}
        if self.bind_host in ("127.0.0.1", "localhost", "::1"):
            names |= {"127.0.0.1", "localhost"}
        self.allowed_hosts = {f"{name}:{port}" for name in names}

    def url(self, port: int) -> str:
        return f"http://{self.bind_host}:{port}/?token={self.token}"

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        any_host = self.bind_host in ("0.0.0.0", "::")
        if not any_host and request.host not in self.allowed_hosts:
            return _refuse(403, f"refused: unknown host {request.host!r}")
        origin = request.headers.get("Origin")
        if origin is not None and not (any_host or origin.removeprefix("http://") in self.allowed_hosts):
            return _refuse(403, f"refused: foreign origin {origin!r}")
        if request.path == "/ws" and origin is None:
            return _refuse(403, "refused: a WebSocket needs the page's Origin")
        if not secrets.compare_digest(request.query.get("token", ""), self.token):
            return _refuse(403, "refused: missing or wrong token (open the URL cak studio printed)")
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # noqa: BLE001 - the page gets one line, never a stack trace
            print(f"cak studio: {request.path}: {first_line(exc)}", file=sys.stderr)
            return _refuse(500, first_line(exc))

    # -- pages and files ---------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        page = (STATIC / "index.html").read_text(encoding="utf-8").replace("__TOKEN__", self.token)
        return web.Response(text=page, content_type="text/html", headers=self._headers())

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.Response(body=(STATIC / name).read_bytes(), content_type=STATIC_FILES[name],
                            headers=self._headers())

    @staticmethod
    def _headers() -> dict[str, str]:
        return {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer"}

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = self.studio.exports.get(request.match_info["name"])
        if path is None or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Disposition": f'attachment; filename="{path.name}"',
                                               **self._headers()})

    async def _spectrogram(self, request: web.Request) -> web.StreamResponse:
        if self.studio.spectrogram is None:
            raise web.HTTPNotFound()
        return web.FileResponse(self.studio.spectrogram, headers=self._headers())

    async def _upload(self, request: web.Request) -> web.Response:
        """The body is the file itself (``?kind=audio|preset|midimap&name=...``)."""
        kind = request.query.get("kind", "audio")
        name = Path(request.query.get("name", "upload")).name or "upload"
        if kind not in ("audio", "preset", "midimap"):
            return _refuse(400, f"unknown upload kind {kind!r}")
        limit = self.max_upload if kind == "audio" else SMALL_UPLOAD
        too_big = f"{name}: larger than the upload limit of {_size(limit)}"
        if request.content_length is not None and request.content_length > limit:
            refused = _refuse(413, too_big)
            refused.force_close()  # answer now, and never read the body
            return refused
        self.uploads += 1
        folder = self.studio.workdir / f"upload-{self.uploads}"  # the file keeps its name: the menus show it
        folder.mkdir()
        path = folder / name
        size = 0
        with open(path, "wb") as sink:
            async for chunk in request.content.iter_chunked(1 << 20):
                size += len(chunk)
                if size > limit:
                    sink.close()
                    path.unlink()
                    refused = _refuse(413, too_big)
                    refused.force_close()
                    return refused
                sink.write(chunk)
        action = {"audio": self.studio.load_file, "preset": lambda p, _: self.studio.add_preset(p),
                  "midimap": lambda p, _: self.studio.load_midi_map(p)}[kind]
        try:
            await self._blocking(action, path, name)
        except (OSError, ValueError) as exc:
            path.unlink(missing_ok=True)
            return _refuse(400, first_line(exc).replace(str(path), name))
        await self.broadcast(self.state())
        return web.json_response({"ok": name})

    # -- the WebSocket -------------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 16)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            await ws.send_json(self.state())
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    try:
                        await self._handle(ws, json.loads(message.data))
                    except Exception as exc:  # noqa: BLE001 - one line in the page; the socket stays open
                        await ws.send_json({"type": "error", "message": first_line(exc)})
        finally:
            self.sockets.discard(ws)
        return ws

    async def _handle(self, ws: web.WebSocketResponse, msg: dict) -> None:
        studio, kind = self.studio, msg.get("type")
        if kind == "set":
            name = msg["name"]
            if name in ("geometry", "input_device", "output_device"):
                await self._blocking(studio.set_control, name, msg.get("value"))
            else:
                studio.set_control(name, msg.get("value"))
        elif kind == "stage_bypass":
            studio.set_stage_bypass(msg.get("index"), msg.get("value"))
        elif kind == "transport":
            studio.transport(msg["action"], msg.get("value"))
        elif kind == "export":
            await self._export(str(msg.get("name", "")), bool(msg.get("take", False)))
            return
        elif kind == "midi_ports":
            ports = await self._blocking(_midi_ports, msg.get("api") or studio.options.midi_api)
            await ws.send_json({"type": "midi_ports", "ports": ports})
            return
        elif kind == "midi_open":
            await self._blocking(studio.open_midi, str(msg.get("port", "")), msg.get("api"))
        elif kind == "learn":
            studio.learn(str(msg.get("target")))
        elif kind == "save_map":
            saved = studio.save_midi_map(str(msg.get("name", "")))
            await ws.send_json({"type": "saved", "name": saved, "url": self._file_url(saved)})
        elif kind == "devices":
            await ws.send_json({"type": "devices", **await self._blocking(_devices)})
            return
        else:
            raise ValueError(f"unknown request {kind!r}")
        await self.broadcast(self.state())

    async def _export(self, name: str, take: bool) -> None:
        loop = asyncio.get_running_loop()
        last = [0.0]

        def progress(fraction: float) -> None:
            if fraction - last[0] >= 0.02 or fraction >= 1.0:
                last[0] = fraction
                asyncio.run_coroutine_threadsafe(self.broadcast({"type": "progress", "value": fraction}), loop)

        written = await self._blocking(self.studio.export, name, take, progress)
        await self.broadcast({"type": "exported", **written, "url": self._file_url(written["audio"]),
                              "csv_url": self._file_url(written["csv"]) if written["csv"] else None,
                              "spectrogram": f"/spectrogram.png?token={self.token}&v={len(self.studio.exports)}"})

    def state(self) -> dict:
        return {**self.studio.state(), "max_upload": self.max_upload}

    def _file_url(self, name: str) -> str:
        return f"/files/{name}?token={self.token}"

    async def broadcast(self, message: dict) -> None:
        text = json.dumps(message)
        for ws in list(self.sockets):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.sockets.discard(ws)

    @staticmethod
    async def _blocking(function: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))

    async def _push(self) -> None:
        """Meters and spectrogram columns to every page, at most :data:`PUSH_HZ` times a second."""
        while True:
            await asyncio.sleep(1.0 / PUSH_HZ)
            if not self.sockets:
                continue
            studio = self.studio
            message = studio.meters()
            tap, rate = studio.tap, studio.samplerate
            if tap is not None and rate:
                if self.columns is None or self.columns.rate != rate:
                    self.columns = Columns(rate)
                message["columns"] = self.columns.next(tap)
            message["export"] = studio.export_progress
            await self.broadcast(message)

    # -- running -------------------------------------------------------------------------------------
    async def start(self, port: int) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.bind_host, port)
        await site.start()
        port = int(runner.addresses[0][1])
        self.allow(port)
        self._pusher = asyncio.create_task(self._push())
        return runner, port

    async def close(self, runner: web.AppRunner) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
        for ws in list(self.sockets):
            await ws.close()
        await runner.cleanup()


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def _midi_ports(api: str) -> list[str]:
    """The MIDI inputs, listed in a process of its own: rtmidi's JACK client must not be opened
    in the audio process while the stream runs (see :mod:`cak_realtime.midi_port`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ..midi_port import list_ports

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [name for name in pool.submit(list_ports, api).result(timeout=20) if not name.startswith("cak:")]


def _devices() -> dict:
    from ..devices import sounddevice

    devices = sounddevice().query_devices()
    return {"inputs": [[d["index"], d["name"]] for d in devices if d["max_input_channels"] > 0],
            "outputs": [[d["index"], d["name"]] for d in devices if d["max_output_channels"] > 0]}


def serve(studio: Studio, host: str, port: int, max_upload: int, on_url: Callable[[str], None]) -> None:
    """Run the server until SIGINT, SIGTERM or SIGHUP; then close the page's sockets and the studio."""
    async def main() -> None:
        server = StudioServer(studio, host, max_upload)
        runner, bound = await server.start(port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        try:
            on_url(server.url(bound))
            await stop.wait()
        finally:
            await server.close(runner)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        asyncio.run(main())
    finally:
        studio.close()
        sys.setswitchinterval(previous)
