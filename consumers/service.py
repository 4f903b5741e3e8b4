"""The ingest service: one asyncio task per feed, the shared producer, and ``/metrics`` + ``/health``.

Each feed runs its own loop (poll, then sleep for its interval or its backoff), so a slow or dead feed only ever
delays itself; feeds on one host share that host's politeness gate, nothing else. The loop survives anything a
poll can throw: an unexpected exception is logged with its traceback, counted as ``internal`` and backed off like
any failure. ``bearwatch ingest`` runs :func:`run_ingest`; ``bearwatch up`` can run the same coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from consumers.backoff import OUTAGE_BACKOFF, FeedSchedule
from consumers.dedup import Deduplicator
from consumers.fetch import Fetcher
from consumers.health import FeedHealth, HealthStore, IngestSummary, now
from consumers.linking import build_linker
from consumers.metrics import ERRORS, FEED_HEALTHY, LAST_SUCCESS, POLLS
from consumers.politeness import HostGate
from consumers.poller import FeedPoller, PollOutcome
from consumers.produce import ProducerStopped, StoryProducer
from consumers.registry import FeedConfig, Registry, load_registry
from consumers.validators import ValidatorStore
from monitor.ground.loop_metrics import watch_tasks
from monitor.ground.redis import SERVICE, blocking_redis_client
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)


class IngestService:
    def __init__(
        self, settings: Settings, registry: Registry | None = None, *, start_jitter_s: float = 5.0
    ) -> None:
        if not settings.redis_url:
            raise ValueError("no Redis URL: set BEARWATCH_REDIS_URL or run `bearwatch up`")
        self.settings = settings
        self.registry = registry or load_registry(settings)
        self.engine = self.registry.engine
        self.start_jitter_s = start_jitter_s
        self.redis = redis_client(settings.redis_url)
        self.dedup = Deduplicator(
            self.redis, settings.redis_namespace, seen_ttl_s=self.engine.seen_ttl_s,
            window_s=self.engine.near_dup_window_s, threshold=self.engine.near_dup_threshold,
        )
        self.producer = StoryProducer(
            settings, self.dedup, queue_size=self.engine.produce_queue,
            delivery_timeout_s=self.engine.delivery_timeout_s,
        )
        self.fetcher = Fetcher(
            self.engine, settings.user_agent, HostGate(self.registry.host_policy), settings.private_addresses
        )
        self.poller = FeedPoller(
            engine=self.engine, fetcher=self.fetcher,
            validators=ValidatorStore(self.redis, settings.redis_namespace), dedup=self.dedup,
            sink=self.producer, linker=build_linker(settings),
        )
        self.health = HealthStore(self.redis, settings.redis_namespace)
        self.feeds = self.registry.active_feeds()
        self.schedules = {feed.name: FeedSchedule(self.engine, feed.interval_s) for feed in self.feeds}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._site_runner: web.AppRunner | None = None
        self.port: int | None = None
        self.started_at = now()
        self.last_success = 0.0  # of any feed: when none succeeds for feeds_stale_after_s, /health is degraded
        self.last_error = ""

    async def start(self, serve_http: bool = True) -> None:
        if any(feed.kind == "sec-edgar" for feed in self.feeds) and "@" not in self.settings.user_agent:
            log.warning("SEC EDGAR asks for a contact e-mail in the User-Agent: set BEARWATCH_USER_AGENT")
        await self.producer.start()
        watch_tasks("ingest")
        if serve_http:
            await self._serve_http()
        for feed in self.feeds:
            self._tasks.append(asyncio.create_task(self._feed_loop(feed), name=f"feed:{feed.name}"))
        log.info("ingest: polling %d feeds into %s", len(self.feeds), self.settings.topics.raw)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.producer.stop()
        await self.fetcher.aclose()
        if self._site_runner is not None:
            await self._site_runner.cleanup()
            self._site_runner = None
        await self.redis.aclose()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Start, wait for ``stop`` (or forever), then stop cleanly."""
        await self.start()
        try:
            await (stop or asyncio.Event()).wait()
        finally:
            await self.stop()

    async def _feed_loop(self, feed: FeedConfig) -> None:
        schedule = self.schedules[feed.name]
        health = FeedHealth(feed.name)
        with contextlib.suppress(RedisError, OSError):
            health = await self.health.load(feed.name)
        FEED_HEALTHY.labels(feed.name).set(1)
        await self._sleep(random.uniform(0, min(self.start_jitter_s, feed.interval_s)))
        store_failures = 0
        while not self._stop.is_set():
            try:
                outcome = await self.poller.poll(feed)
            except ProducerStopped:
                return
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # Our state store is down, not the feed: count it, leave the feed's schedule and health alone
                # (an outage must not park every feed as unhealthy) and retry soon, so that once Redis is back
                # polling resumes within seconds and stories still on the feed are not missed.
                store_failures += 1
                self._internal_failure(feed, "redis", f"state store unavailable: {exc}")
                if store_failures == 1:
                    log.warning("feed %s: Redis unavailable (%s); retrying until it answers", feed.name, exc)
                await self._sleep(OUTAGE_BACKOFF.delay(store_failures))
                continue
            except Exception as exc:  # noqa: BLE001 - a feed loop must never die; the traceback is logged
                log.exception("feed %s: unexpected error while polling", feed.name)
                outcome = self._internal_failure(feed, "internal", f"{type(exc).__name__}: {exc}")
            store_failures = 0
            delay = self._record(feed, schedule, health, outcome)
            with contextlib.suppress(RedisError, OSError):
                await self.health.record(health)
                await self.health.record_summary(self.summary())
            await self._sleep(delay)

    def _record(self, feed: FeedConfig, schedule: FeedSchedule, health: FeedHealth, outcome: PollOutcome) -> float:
        health.last_poll = now()
        if outcome.status == "error":
            delay = schedule.after_failure(outcome.retry_after_s)
            health.last_error = outcome.error or ""
            health.last_error_kind = outcome.error_kind or ""
            health.status = "failing" if schedule.healthy else "unhealthy"
            if not schedule.healthy and schedule.consecutive_failures == self.engine.unhealthy_after:
                log.error(
                    "feed %s marked unhealthy after %d failures (last: %s); probing every %g s",
                    feed.name, schedule.consecutive_failures, outcome.error, self.engine.unhealthy_probe_s,
                )
            self.last_error = f"{feed.name}: {outcome.error_kind}: {outcome.error or ''}"[:300]
        else:
            delay = schedule.after_success()
            health.last_success = health.last_poll
            self.last_success = health.last_poll
            health.status = "ok"
            health.stories += outcome.stories
            LAST_SUCCESS.labels(feed.name).set(health.last_success)
        health.consecutive_failures = schedule.consecutive_failures
        health.next_poll = health.last_poll + delay
        FEED_HEALTHY.labels(feed.name).set(1 if schedule.healthy else 0)
        return delay

    @staticmethod
    def _internal_failure(feed: FeedConfig, kind: str, detail: str) -> PollOutcome:
        ERRORS.labels(feed.name, kind).inc()
        POLLS.labels(feed.name, "error").inc()
        return PollOutcome(feed.name, "error", error_kind=kind, error=detail)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, seconds))

    async def _serve_http(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        self._site_runner = web.AppRunner(app, access_log=None)
        await self._site_runner.setup()
        site = web.TCPSite(self._site_runner, self.settings.http_host, self.settings.ingest_port)
        await site.start()
        self.port = self._site_runner.addresses[0][1]
        log.info("ingest: /metrics and /health on http://%s:%d", self.settings.http_host, self.port)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def summary(self) -> IngestSummary:
        return IngestSummary(self.started_at, self.last_success, self.last_error, len(self.feeds))

    async def _health(self, request: web.Request) -> web.Response:
        unhealthy = sorted(name for name, schedule in self.schedules.items() if not schedule.healthy)
        stale = self.summary().stale_reason(now(), self.settings.feeds_stale_after_s)
        body = {
            "status": "degraded" if unhealthy or stale else "ok",
            "feeds": len(self.feeds),
            "unhealthy_feeds": unhealthy,
            "produce_queue": self.producer.outstanding,
            "stories_acknowledged": self.producer.acknowledged,
        }
        if stale:
            body["problem"] = stale
        # One broken feed of many is a finding, not an outage (200); no feed succeeding at all is (503).
        return web.json_response(body, status=503 if stale else 200)


def redis_client(url: str, max_connections: int = 32) -> Redis:
    """The consumers' shared Redis client: hundreds of feed tasks share ``max_connections`` connections, waiting
    up to 30 s for a free one (:func:`monitor.ground.redis.blocking_redis_client`, service timeouts)."""
    return blocking_redis_client(url, SERVICE, max_connections=max_connections, pool_timeout_s=30.0)


async def run_ingest(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the consumers until ``stop`` is set (the entry point of ``bearwatch ingest`` and ``bearwatch up``)."""
    await IngestService(settings).run(stop)
