"""A real HTTP feed server on loopback for the consumer tests, with the misbehaviours real publishers show.

Each path is a :class:`Route`: a body (changeable while running) served with ETag/Last-Modified and honouring
conditional requests, or a fault (slow answer, 429/503 with Retry-After, 500, redirect chain, endless body, gzip).
Every request is logged, with the conditional headers it carried and the bytes of body sent, so tests can
assert what went over the wire.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from xml.sax.saxutils import escape

from aiohttp import web

from consumers.registry import EngineConfig, FeedConfig, HostPolicy, Registry
from monitor.ground.contracts import Story, decode
from tests.support.ceilings import READY_CEILING_S


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    validators: bool = True
    send_etag: bool = True
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    gzip: bool = False
    redirect_to: str | None = None
    endless: bool = False
    modified_at: datetime = field(default_factory=lambda: datetime(2024, 5, 1, 12, tzinfo=UTC))

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Hit:
    path: str
    status: int
    body_bytes: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    started: float
    ended: float = 0.0


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None
        self.base = ""

    def add(self, path: str, body: bytes = b"", **options: object) -> str:
        self.routes[path] = Route(body=body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def set_body(self, path: str, body: bytes) -> None:
        """Change a feed: new ETag, and a Last-Modified one second later than before."""
        route = self.routes[path]
        route.body = body
        route.modified_at = route.modified_at + timedelta(seconds=1)

    def url(self, path: str) -> str:
        return self.base + path

    def hits_for(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path)
        hit = Hit(
            request.path, 404, 0, request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since"),
            request.headers.get("User-Agent"), time.monotonic(),
        )
        self.hits.append(hit)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request, route, hit)
            hit.status = response.status
            return response
        finally:
            self.in_flight -= 1
            hit.ended = time.monotonic()

    async def _answer(self, request: web.Request, route: Route | None, hit: Hit) -> web.StreamResponse:
        if route is None:
            return web.Response(status=404, text="no such feed")
        if route.delay_s:
            await asyncio.sleep(route.delay_s)
        if route.redirect_to is not None:
            raise web.HTTPFound(route.redirect_to)
        if route.status != 200:
            headers = {"Retry-After": route.retry_after} if route.retry_after else {}
            return web.Response(status=route.status, text=f"status {route.status}", headers=headers)
        if route.endless:
            return await self._endless(request, hit)
        headers = {"Content-Type": route.content_type}
        if route.validators:
            if route.send_etag:
                headers["ETag"] = route.etag
            headers["Last-Modified"] = format_datetime(route.modified_at, usegmt=True)
            if self._not_modified(request, route):
                return web.Response(status=304)
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        hit.body_bytes = len(body)
        return web.Response(body=body, headers=headers)

    @staticmethod
    def _not_modified(request: web.Request, route: Route) -> bool:
        tag = request.headers.get("If-None-Match")
        if tag is not None and route.send_etag:
            return tag == route.etag
        since = request.headers.get("If-Modified-Since")
        if since:
            try:
                return route.modified_at <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    async def _endless(self, request: web.Request, hit: Hit) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        chunk = b"<rss><channel>" + b"<item><title>spam</title></item>" * 2000
        try:
            while True:
                await response.write(chunk)
                hit.body_bytes += len(chunk)
                await asyncio.sleep(0)
        except (ConnectionResetError, asyncio.CancelledError, RuntimeError):
            return response


@asynccontextmanager
async def feed_server() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    try:
        yield server
    finally:
        await server.stop()


@contextmanager
def feed_server_in_thread() -> Iterator[FeedServer]:
    """The same server on its own event loop in a thread, for synchronous callers such as CLI tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(FeedServer().start(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def rss(items: list[dict[str, str]], title: str = "Test feed", lang: str | None = "en-us") -> bytes:
    """An RSS 2.0 document; item keys: title, link, guid, description, pubDate."""
    parts = [f"<?xml version='1.0' encoding='utf-8'?>\n<rss version='2.0'><channel><title>{escape(title)}</title>"]
    if lang:
        parts.append(f"<language>{lang}</language>")
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "guid", "description", "pubDate"):
            if key in item:
                parts.append(f"<{key}>{escape(item[key])}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def items(prefix: str, count: int, start: int = 0, base: str = "https://news.example.com") -> list[dict[str, str]]:
    when = datetime(2024, 5, 1, 12, tzinfo=UTC)
    return [
        {
            "title": f"{prefix} story number {n} about markets and {n * 7} other things",
            "link": f"{base}/{prefix}/{n}?utm_source=rss",
            "guid": f"{prefix}-{n}",
            "description": f"<p>Summary of <b>{prefix}</b> story {n}.</p>",
            "pubDate": format_datetime(when + timedelta(minutes=n), usegmt=True),
        }
        for n in range(start, start + count)
    ]


def fast_engine(**overrides: object) -> EngineConfig:
    """Engine knobs for tests: short timeouts and backoff, no politeness gap on loopback."""
    values: dict[str, object] = {
        "connect_timeout_s": 2.0, "read_timeout_s": 2.0, "total_timeout_s": 4.0, "backoff_base_s": 0.05,
        "backoff_max_s": 0.2, "unhealthy_after": 3, "unhealthy_probe_s": 0.5, "delivery_timeout_s": 3.0,
        "max_body_bytes": 200_000,
    }
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]


def registry_for(
    feeds: list[FeedConfig], engine: EngineConfig | None = None, host_policy: HostPolicy | None = None
) -> Registry:
    return Registry(
        engine=engine or fast_engine(), host_default=host_policy or HostPolicy(min_gap_s=0.0, max_in_flight=8),
        feeds=feeds,
    )


async def read_stories(bootstrap: str, topic: str, expected: set[str],
                       timeout_s: float = READY_CEILING_S) -> list[Story]:
    """Every story in ``topic`` from the beginning, read until the ids in ``expected`` have all arrived or
    ``timeout_s`` has passed. In arrival order, duplicates included; the key must equal the story id."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] | None = None
        while not partitions and time.monotonic() < deadline:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await asyncio.sleep(0.2)
        assert partitions, f"awaited topic {topic} on the broker for {timeout_s:g} s: it does not exist"
        consumer.assign([TopicPartition(topic, partition) for partition in partitions])
        await consumer.seek_to_beginning()
        stories: list[Story] = []
        while time.monotonic() < deadline and not expected <= {story.id for story in stories}:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    story = decode(Story, record.value or b"")
                    assert record.key == story.id.encode(), "message key is not the story id"
                    stories.append(story)
        return stories
    finally:
        await consumer.stop()
