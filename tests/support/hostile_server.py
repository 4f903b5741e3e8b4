"""A real hostile HTTP server on loopback: each path answers with one attack a feed or a webhook receiver could make.

Used by the hardening tests and by ``bench/hostile.py``. Bodies that would be huge (gigabytes once decoded, a
300 MB error page) are generated while streaming, so the server itself stays small; every request is logged with
its headers so a test can assert what the client sent (or did not send) where.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    path: str
    method: str
    headers: dict[str, str]


def gzip_of_zeros(decoded_bytes: int, layers: int = 2) -> bytes:
    """``layers`` nested gzip layers around ``decoded_bytes`` zero bytes, built in chunks (never held whole)."""
    squeezer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = []
    chunk = b"\0" * (1 << 20)
    left = decoded_bytes
    while left > 0:
        parts.append(squeezer.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    parts.append(squeezer.flush())
    data = b"".join(parts)
    for _ in range(layers - 1):
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as handle:
            handle.write(data)
        data = buffer.getvalue()
    return data


def quadratic_blowup_rss(entity_chars: int = 50_000, references: int = 2_000) -> bytes:
    """The XML "quadratic blowup": one big entity referenced many times (expat refuses, lenient parsers expand)."""
    refs = "&a;" * references
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "{"x" * entity_chars}">]>\n'
        f"<rss version=\"2.0\"><channel><title>t</title><item><title>Bomb</title><link>http://e.com/1</link>"
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


def billion_laughs_rss() -> bytes:
    levels = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{"".join(levels)}]>\n'
        "<rss version=\"2.0\"><channel><title>t</title><item><title>&l9;</title><link>http://e.com/1</link>"
        "</item></channel></rss>"
    ).encode()


class HostileServer:
    """``add(path, handler)`` then ``url(path)``; ``seen`` lists every request in arrival order."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def add(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    async def start(self) -> HostileServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.path, request.method, dict(request.headers)))
        if request.method == "POST":
            await request.read()
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such route")
        return await handler(request)


@asynccontextmanager
async def hostile_server(host: str = "127.0.0.1") -> AsyncIterator[HostileServer]:
    server = await HostileServer(host).start()
    try:
        yield server
    finally:
        await server.stop()


# --- handlers ----------------------------------------------------------------------------------------------------


def status(code: int, body: bytes = b"", **headers: str) -> Handler:
    async def handle(_: web.Request) -> web.StreamResponse:
        return web.Response(status=code, body=body, headers=headers)

    return handle


def redirect(location: str, code: int = 302) -> Handler:
    return status(code, Location=location)


def encoded(body: bytes, encoding: str, content_type: str = "application/rss+xml") -> Handler:
    async def handle(_: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Encoding": encoding, "Content-Type": content_type})

    return handle


def streamed(status_code: int, total_bytes: int, chunk: bytes = b"E" * 65_536) -> Handler:
    """A body of ``total_bytes`` generated while streaming (a 300 MB error page costs the server nothing)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status_code, headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        sent = 0
        try:
            while sent < total_bytes:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionResetError, RuntimeError):
            return response
        await response.write_eof()
        return response

    return handle


def trickle(status_code: int = 200, every_s: float = 0.5) -> Handler:
    """Headers at once, then one byte every ``every_s`` forever (a per-read timeout never fires)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status_code, headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b".")
                await asyncio.sleep(every_s)
        except (ConnectionResetError, RuntimeError):
            return response

    return handle
