"""The outside world of the system under test: news publishers serving RSS, and a webhook receiver.

Both run on their own event loop in a thread of the harness process. They stand in for the internet, so they
keep the books of what crossed the boundary: which story was *served* (first sent in a 200 answer) and which
notification was *received* (by ``Idempotency-Key``). Their own thread means a busy harness loop (topic taps,
Redis checks) cannot delay an answer and distort the poll-lag measurements.

Each publisher is the consumers' test feed server (``tests/support/consumers_fixtures.FeedServer``: ETag and
Last-Modified, conditional GET, request log) on its own port, i.e. its own host for the consumers' politeness
gate, plus the hostile modes the resilience scenarios need: a body trickled one byte a second, an endless body,
a 10 MB body without Content-Length, and a redirect to itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web

from alerts.delivery.signing import HEADER, verify
from tests.support.consumers_fixtures import FeedServer, Hit, Route
from tests.support.resilience.newsroom import NewsItem, Newsroom, rss_document

T = TypeVar("T")
HOSTILE_MODES = ("trickle", "endless", "huge", "loop")
_TRICKLE_MAX_S = 3600  # a trickle stops after an hour even if nobody hangs up
_ENDLESS_MAX_BYTES = 1 << 30
_HUGE_BYTES = 10 * 1024 * 1024


@dataclass
class Feed:
    """One normal feed: every item ever written, the newest ``window`` of them in the body, what was served."""

    name: str
    path: str
    source: str
    window: int
    items: list[NewsItem] = field(default_factory=list)
    served: dict[str, float] = field(default_factory=dict)  # story id -> monotonic time first served
    last_served: dict[str, float] = field(default_factory=dict)  # story id -> monotonic time last served

    def body(self) -> bytes:
        return rss_document(self.items[-self.window:], f"{self.source} {self.name}")

    def on_feed(self) -> list[NewsItem]:
        return self.items[-self.window:]


class Publisher(FeedServer):
    """A news site on its own port serving normal feeds (and, for scenario 5, hostile ones)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.feeds: dict[str, Feed] = {}
        self.hostile: dict[str, str] = {}

    def add_feed(self, name: str, window: int) -> Feed:
        feed = Feed(name, f"/{name}.rss", self.name, window)
        self.feeds[feed.path] = feed
        self.add(feed.path, feed.body())
        return feed

    def add_hostile(self, name: str, mode: str) -> str:
        if mode not in HOSTILE_MODES:
            raise ValueError(f"hostile mode {mode!r}: choose one of {HOSTILE_MODES}")
        path = f"/{name}.rss"
        self.hostile[path] = mode
        self.add(path, b"", redirect_to=self.url(path) if mode == "loop" else None)
        return path

    def refresh(self, feed: Feed) -> None:
        self.set_body(feed.path, feed.body())

    async def _answer(self, request: web.Request, route: Route | None, hit: Hit) -> web.StreamResponse:
        mode = self.hostile.get(request.path)
        if mode == "trickle":
            return await self._trickle(request, hit)
        if mode in ("endless", "huge"):
            return await self._flood(request, hit, _HUGE_BYTES if mode == "huge" else _ENDLESS_MAX_BYTES)
        response = await super()._answer(request, route, hit)
        feed = self.feeds.get(request.path)
        if feed is not None and response.status == 200:
            now = time.monotonic()
            for item in feed.on_feed():
                feed.served.setdefault(item.id, now)
                feed.last_served[item.id] = now
        return response

    async def _trickle(self, request: web.Request, hit: Hit) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        try:
            for _ in range(_TRICKLE_MAX_S):
                await response.write(b" ")
                hit.body_bytes += 1
                await asyncio.sleep(1.0)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: that is the point
        return response

    async def _flood(self, request: web.Request, hit: Hit, limit: int) -> web.StreamResponse:
        """``limit`` bytes of well-formed-looking RSS, chunked (no Content-Length), as fast as it is read."""
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        chunk = b"<rss><channel>" + b"<item><title>spam</title></item>" * 2000
        try:
            while hit.body_bytes < limit:
                await response.write(chunk)
                hit.body_bytes += len(chunk)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading at its body cap
        return response


@dataclass
class Received:
    """One webhook request and what it carried: notification identities (fingerprint, status, starts, eval)."""

    at: float
    key: str
    attempt: int
    signed: bool
    status: int
    notifications: list[tuple[str, str, str, str]]


class Receiver:
    """An Alertmanager-compatible webhook receiver that records every request; it can go down and come back on
    the same port (down = the port is closed, so senders see "connection refused")."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = 0
        self.requests: list[Received] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def is_up(self) -> bool:
        return self._runner is not None

    async def up(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def down(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = json.loads(body)
            notes = [
                (a["fingerprint"], a["status"], a["startsAt"], a["annotations"].get("evaluated_at", ""))
                for a in payload.get("alerts", [])
            ]
            status = 200
        except (ValueError, KeyError, TypeError, AttributeError):
            notes, status = [], 400
        self.requests.append(Received(
            time.monotonic(), request.headers.get("Idempotency-Key", ""),
            int(request.headers.get("X-Bearwatch-Attempt", "0") or 0),
            verify(self.secret, body, request.headers.get(HEADER)), status, notes,
        ))
        return web.Response(status=status, text="ok" if status == 200 else "bad payload")


class OutsideWorld:
    """Publishers, a receiver and the printing press, on one event loop in a daemon thread.

    The harness calls in with :meth:`call` (run a function or coroutine in the world's loop and await the
    result), so every read of the books is a consistent snapshot.
    """

    def __init__(self, newsroom: Newsroom, secret: str) -> None:
        self.newsroom = newsroom
        self.publishers: list[Publisher] = []
        self.receiver = Receiver(secret)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="outside-world", daemon=True)
        self._started = time.monotonic()
        self._press: asyncio.Task[None] | None = None
        self._rate = 0.0
        self._rate_since = 0.0
        self._written_since = 0
        self._written = 0
        self._normal: list[tuple[Publisher, Feed]] = []

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    async def call(self, fn: Callable[[], T | Awaitable[T]]) -> T:
        """Run ``fn`` in the world's loop (awaiting it if it returns an awaitable) and return its result."""

        async def run() -> T:
            result = fn()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                return await result  # type: ignore[no-any-return]
            return result  # type: ignore[return-value]

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def start(self, publishers: int, feeds_per_publisher: int, window: int) -> OutsideWorld:
        self._thread.start()
        for p in range(publishers):
            publisher = Publisher(f"pub{p}")
            self._run(publisher.start())
            for f in range(feeds_per_publisher):
                self._normal.append((publisher, publisher.add_feed(f"{publisher.name}-f{f}", window)))
            self.publishers.append(publisher)
        self._run(self.receiver.up())
        self._started = time.monotonic()
        return self

    def add_hostile(self, mode: str) -> str:
        """A publisher of its own (own host) whose one feed misbehaves as ``mode``; returns the feed URL."""
        publisher = Publisher(f"hostile-{mode}")
        self._run(publisher.start())
        self.publishers.append(publisher)
        return publisher.url(publisher.add_hostile(f"hostile-{mode}", mode))

    def feed_urls(self) -> list[tuple[str, str, str]]:
        """(feed name, source, url) of every normal feed."""
        return [(feed.name, feed.source, pub.url(feed.path)) for pub, feed in self._normal]

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._press is not None:
                self._press.cancel()
            for publisher in self.publishers:
                await publisher.stop()
            await self.receiver.down()

        try:
            self._run(shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

    # --- the printing press (runs in the world loop) --------------------------------------------------------

    def set_rate(self, stories_per_s: float) -> None:
        """Write stories at this pace from now on (0 pauses); call through :meth:`call`."""
        self._rate = stories_per_s
        self._rate_since = time.monotonic()
        self._written_since = 0
        if self._press is None:
            self._press = asyncio.create_task(self._run_press())

    async def _run_press(self, tick_s: float = 0.25) -> None:
        while True:
            await asyncio.sleep(tick_s)
            due = int(self._rate * (time.monotonic() - self._rate_since)) - self._written_since
            if due > 0:
                self.write(due)
                self._written_since += due

    def write(self, count: int) -> list[NewsItem]:
        """Write ``count`` stories now, round-robin over the normal feeds, and refresh the changed bodies."""
        items, touched = [], set()
        for _ in range(count):
            publisher, feed = self._normal[self._written % len(self._normal)]
            self._written += 1
            item = self.newsroom.write(feed.name, feed.source, self.elapsed())
            feed.items.append(item)
            items.append(item)
            touched.add((publisher, feed.path))
        for publisher, path in touched:
            publisher.refresh(publisher.feeds[path])
        return items

    def write_marker(self, ahead_s: float) -> NewsItem:
        """A ticker-less story ``ahead_s`` event seconds after the newest one (flushes the last windows)."""
        publisher, feed = self._normal[0]
        newest = max(item.published_at for _, f in self._normal for item in f.items[-1:])
        item = self.newsroom.marker(feed.name, feed.source, newest + timedelta(seconds=ahead_s))
        feed.items.append(item)
        publisher.refresh(feed)
        return item

    # --- the books (call through :meth:`call`) ----------------------------------------------------------------

    def written(self) -> dict[str, NewsItem]:
        return {item.id: item for _, feed in self._normal for item in feed.items}

    def served(self) -> dict[str, float]:
        return {sid: at for _, feed in self._normal for sid, at in feed.served.items()}

    def served_since(self, since: float) -> set[str]:
        """Ids carried by a 200 answer at or after ``since`` (monotonic): what the consumers could fetch again."""
        return {sid for _, feed in self._normal for sid, at in feed.last_served.items() if at >= since}

    def on_feeds(self) -> set[str]:
        """Ids a poll of every feed would return right now (the newest ``window`` items of each)."""
        return {item.id for _, feed in self._normal for item in feed.on_feed()}

    def hits(self) -> list[tuple[str, str, Hit]]:
        """(publisher, path, hit) of every request any publisher answered."""
        return [(pub.name, hit.path, hit) for pub in self.publishers for hit in list(pub.hits)]
