"""The resilience harness: the whole system as a user deploys it, plus the outside world, plus fault injection.

Processes, as ``bearwatch up`` runs them: the embedded Tansu broker and Valkey (``EmbeddedStack``, so either can
be stopped and started again on the same port), ``bearwatch ingest`` and ``bearwatch worker`` as supervised
children (``monitor.shell.services.Service``: restarted with backoff when they exit, exactly as under ``up``). Around
them: publishers serving RSS and a webhook receiver (``outside.py``), taps on the three topics (``taps.py``), and
a sampler of each process's RSS, descriptors, threads and the worker's consumer lag (``probes.py``).

Every wait is bounded; a timeout does not raise here, it leaves the books unbalanced, and the scenario's
assertion says what is missing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from consumers.dedup import Deduplicator
from monitor.ground.kafka import ensure_topics
from monitor.ground.redis import RedisTimeouts, redis_client
from monitor.ground.settings import Settings, TopicNames, load_settings
from monitor.ground.stack import EmbeddedStack
from monitor.ground.stack.process import free_port, port_open, wait_until
from monitor.shell.services import Service, service_command
from monitor.stages.windows.layout import WindowKeys
from tests.support.ceilings import READY_CEILING_S
from tests.support.resilience.deployment import (
    CHANNEL,
    RULE_WINDOW_S,
    SECRET,
    HarnessConfig,
    service_environment,
    write_feeds,
    write_rules,
)
from tests.support.resilience.newsroom import Newsroom, default_t0
from tests.support.resilience.outside import OutsideWorld
from tests.support.resilience.probes import Sampler, get_json
from tests.support.resilience.taps import TopicTap, alert_identity, scored_identity, story_identity

__all__ = ["CHANNEL", "Harness", "HarnessConfig"]

log = logging.getLogger(__name__)


class Harness:
    """``async with Harness(config) as h:`` starts everything; leaving the block stops everything it started."""

    def __init__(self, config: HarnessConfig) -> None:
        self.config = config
        self.workdir = config.workdir
        self.newsroom = Newsroom(default_t0(), config.speed, seed=config.seed)
        self.world = OutsideWorld(self.newsroom, SECRET)
        self.stack = EmbeddedStack(self.workdir / "var", persist_redis=config.persist_redis,
                                   kafka_storage=config.kafka_storage)
        self.services: dict[str, Service] = {}
        self.supervisors: list[asyncio.Task[None]] = []
        self.timeline: list[tuple[float, str]] = []
        self.redis: aioredis.Redis | None = None
        self.taps: dict[str, TopicTap] = {}
        self.last_outbox: set[str] = set()  # notifications in the outbox when Valkey was last stopped
        self.sampler: Sampler | None = None
        self.worker_port = free_port()
        self.ingest_port = free_port()
        self.feed_urls: list[str] = []
        self._counted: set[str] = set()
        self.started_at = time.monotonic()

    # --- start / stop ---------------------------------------------------------------------------------------

    async def __aenter__(self) -> Harness:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A fresh deployment: a persisted Valkey left by an earlier run in the same --workdir must not be reloaded.
        shutil.rmtree(self.stack.redis_dir, ignore_errors=True)
        shutil.rmtree(self.stack.var_dir / "seaweedfs", ignore_errors=True)
        self.world.start(self.config.publishers, self.config.feeds_per_publisher, self.config.feed_window)
        hostile = [(f"hostile-{mode}", self.world.add_hostile(mode)) for mode in self.config.hostile]
        await asyncio.to_thread(self.stack.start)
        settings = self.settings()
        await ensure_topics(self.stack.kafka_url, settings)
        self.redis = redis_client(self.stack.redis_url, RedisTimeouts(connect_s=5.0, socket_s=5.0))
        feeds = [*self.world.feed_urls(), *((name, name, url) for name, url in hostile)]
        self.feed_urls = [url for _, _, url in feeds]
        env = service_environment(
            self.config, self.stack.kafka_url, self.stack.redis_url,
            feeds_file=write_feeds(self.workdir / "feeds.toml", self.config, feeds),
            rules_file=write_rules(self.workdir / "rules.toml"), receiver_url=self.world.receiver.url,
            worker_port=self.worker_port, ingest_port=self.ingest_port,
        )
        for name in ("ingest", "worker"):
            service = Service(name, service_command(name, None), env, self.workdir / "logs" / f"{name}.log")
            await service.start()
            self.services[name] = service
            self.supervisors.append(asyncio.create_task(service.supervise(max_backoff_s=4.0)))
        topics = settings.topics
        self.taps = {
            "raw": TopicTap(self.stack.kafka_url, topics.raw, story_identity).start(),
            "scored": TopicTap(self.stack.kafka_url, topics.scored, scored_identity).start(),
            "alerts": TopicTap(self.stack.kafka_url, topics.alerts, alert_identity).start(),
        }
        self.sampler = Sampler(self.pids, self.consumer_lag).start()
        self.started_at = time.monotonic()
        self.mark("started")

    async def stop(self) -> None:
        began = time.monotonic()
        if self.world.loop.is_running():
            await self.set_rate(0)
        if self.sampler is not None:
            await self.sampler.stop()
        for tap in self.taps.values():
            await tap.stop()
        await asyncio.gather(*(service.stop() for service in self.services.values()), return_exceptions=True)
        for task in self.supervisors:
            task.cancel()
        await asyncio.gather(*self.supervisors, return_exceptions=True)
        if self.redis is not None:
            await self.redis.aclose()
        await asyncio.to_thread(self.stack.stop)
        if self.world.loop.is_running():
            await asyncio.to_thread(self.world.stop)
        log.info("stopped everything in %.1f s", time.monotonic() - began)

    def settings(self) -> Settings:
        return load_settings(
            None, kafka_url=self.stack.kafka_url, redis_url=self.stack.redis_url, topics=TopicNames(),
            topic_partitions=self.config.partitions, redis_namespace=self.config.namespace,
            bucket_seconds=self.config.bucket_seconds, allowed_lateness_s=self.config.allowed_lateness_s,
            var_dir=self.workdir / "var",
        )

    # --- what runs where ------------------------------------------------------------------------------------

    def pids(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {}
        for name, server in self.stack.servers.items():
            found[name] = server.proc.pid if server.running() and server.proc else None
        for name, service in self.services.items():
            found[name] = service.proc.pid if service.proc and service.proc.returncode is None else None
        return found

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_port}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    async def consumer_lag(self) -> int | None:
        health = await get_json(f"{self.worker_url}/health", timeout_s=2.0)
        if not health or "consumer_lag" not in health:
            return None
        return int(health["consumer_lag"].get("total", 0))

    def mark(self, what: str) -> float:
        now = time.monotonic()
        self.timeline.append((now - self.started_at, what))
        log.info("[%6.1f s] %s", now - self.started_at, what)
        return now

    # --- the press ------------------------------------------------------------------------------------------

    async def set_rate(self, stories_per_s: float) -> None:
        await self.world.call(lambda: self.world.set_rate(stories_per_s))

    async def write(self, count: int) -> None:
        await self.world.call(lambda: self.world.write(count))

    # --- faults ---------------------------------------------------------------------------------------------

    async def stop_server(self, name: str, kill: bool = False) -> float:
        """Stop the embedded broker ('kafka', its memory is gone) or Valkey ('redis': SIGTERM, so a persisting
        Valkey writes its append-only file out first; a memory-only one loses everything). ``kill``: SIGKILL,
        no chance to flush anything (a crash)."""
        server = self.stack.servers[name]
        if kill and server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
        if name == "redis":
            # Freeze writes, then note what the outbox holds: exactly what dies with Valkey's memory.
            assert self.redis is not None
            await self.redis.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
            self.last_outbox = await self.outbox_notifications()
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(wait_until, lambda: not port_open("127.0.0.1", server.port), 10, f"{name} down")
        if name == "redis":
            self._counted.clear()
        return self.mark(f"{name} stopped")

    async def start_server(self, name: str) -> float:
        """Start it again on the same port (what a restarted container or systemd unit does)."""
        server = self.stack.servers[name]
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(self.stack.wait_ready, name)  # a persisted Valkey first reloads its file
        if name == "kafka":
            for tap in self.taps.values():
                tap.reset()
        return self.mark(f"{name} started again on port {server.port}")

    async def kill(self, name: str) -> float:
        """SIGKILL a service; its supervisor starts it again, as ``bearwatch up`` would."""
        proc = self.services[name].proc
        if proc is not None and proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
        return self.mark(f"{name} pid {proc.pid if proc else '?'} killed (SIGKILL)")

    async def receiver(self, up: bool) -> float:
        await self.world.call(self.world.receiver.up if up else self.world.receiver.down)
        return self.mark("receiver up" if up else "receiver down (port closed)")

    # --- waiting --------------------------------------------------------------------------------------------

    async def counted(self, ids: set[str] | list[str]) -> set[str]:
        """Which of ``ids`` the worker counted (its window idempotency marker exists in Redis)."""
        assert self.redis is not None
        todo = [sid for sid in ids if sid not in self._counted]
        marker = WindowKeys(self.config.namespace).seen
        for start in range(0, len(todo), 2000):
            chunk = todo[start:start + 2000]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for sid in chunk:
                        pipe.exists(marker(sid))
                    found = await pipe.execute()
            except (RedisError, OSError):
                return {sid for sid in ids if sid in self._counted}
            self._counted.update(sid for sid, hit in zip(chunk, found, strict=True) if hit)
        return {sid for sid in ids if sid in self._counted}

    async def counted_after_restart(self, ids: set[str], timeout_s: float = READY_CEILING_S) -> set[str]:
        """:meth:`counted` once Redis answers again: the first call after a restart may meet a dead pooled
        connection, and :meth:`counted` reads an error as "not known to be counted"."""
        assert self.redis is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                await self.redis.ping()
                break
            except (RedisError, OSError):
                await asyncio.sleep(0.5)
        return await self.counted(ids)

    async def acknowledged(self, ids: set[str] | list[str]) -> set[str]:
        """Which of ``ids`` the consumers saw acknowledged by the broker (their seen-id marker exists in Redis:
        it is written only after the broker's acknowledgement)."""
        assert self.redis is not None
        return await Deduplicator(self.redis, self.config.namespace).seen(list(ids))

    async def wait_counted(self, ids: set[str], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(await self.counted(ids)) == len(ids):
                return True
            await asyncio.sleep(0.5)
        return False

    async def wait_ready(self, timeout_s: float = READY_CEILING_S) -> bool:
        """Until the worker has counted a first handful of stories: the model is loaded, the group joined."""
        first = await self.world.call(lambda: self.world.write(6))
        ok = await self.wait_counted({item.id for item in first}, timeout_s)
        self.mark("pipeline ready" if ok else f"pipeline NOT ready after {timeout_s:.0f} s")
        return ok

    async def drain(self, timeout_s: float, excused: set[str] | frozenset[str] = frozenset()) -> bool:
        """Pause the press; wait until every story still on a feed was served and every served story counted
        (but those ``excused``: known to have died with the broker's memory)."""
        await self.set_rate(0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            on_feeds, served = await self.world.call(lambda: (self.world.on_feeds(), self.world.served()))
            expected = set(served) - excused
            if on_feeds <= set(served) and len(await self.counted(expected)) == len(expected):
                self.mark(f"drained: {len(served)} served stories counted")
                return True
            await asyncio.sleep(0.5)
        self.mark("drain timed out")
        return False

    async def settle(self, timeout_s: float, quiet_s: float = 2.0,
                     excused: set[str] | frozenset[str] = frozenset()) -> bool:
        """Drain, then publish a clock story far enough ahead that every window closes, and wait until the
        alerts it causes were delivered (but ``excused`` ones) and the outbox is empty."""
        began = time.monotonic()
        if not await self.drain(timeout_s, excused):
            return False
        ahead = self.config.allowed_lateness_s + RULE_WINDOW_S + 3 * self.config.bucket_seconds
        marker = await self.world.call(lambda: self.world.write_marker(ahead))
        if not await self.wait_counted({marker.id}, max(5.0, timeout_s - (time.monotonic() - began))):
            self.mark("clock story not counted")
            return False
        stable_since, last = time.monotonic(), -1
        while time.monotonic() - began < timeout_s:
            decided = self.taps["alerts"].ids()
            delivered = await self.world.call(
                lambda: {n for r in self.world.receiver.requests if r.status == 200 for n in r.notifications})
            delivered_ids = {"|".join(n) for n in delivered}
            left = await self.outbox_left()
            if len(decided) != last:
                stable_since, last = time.monotonic(), len(decided)
            if decided - excused <= delivered_ids and left == 0 and time.monotonic() - stable_since >= quiet_s:
                self.mark(f"settled: {len(decided)} notifications decided and delivered")
                return True
            await asyncio.sleep(0.5)
        self.mark("settle timed out")
        return False

    async def alerts_handed_on(self, quiet_s: float = 2.0, timeout_s: float = READY_CEILING_S) -> bool:
        """Until every notification in bearwatch.alerts is in the Redis outbox (its enqueue marker exists) and
        no new one appeared for ``quiet_s``: nothing of the alert path is left only in the broker."""
        from alerts.delivery.notifier import notification_id

        assert self.redis is not None
        deadline = time.monotonic() + timeout_s
        stable_since, last = time.monotonic(), -1
        while time.monotonic() < deadline:
            alerts = [seen.value for seen in self.taps["alerts"].seen.values()]
            if len(alerts) != last:
                stable_since, last = time.monotonic(), len(alerts)
            try:
                markers = [f"{self.config.namespace}:a:enq:{notification_id(a)}" for a in alerts]
                enqueued = await self.redis.exists(*markers) if markers else 0
            except (RedisError, OSError):
                enqueued = -1
            if enqueued == len(alerts) and time.monotonic() - stable_since >= quiet_s:
                return True
            await asyncio.sleep(0.5)
        return False

    async def outbox_notifications(self) -> set[str]:
        """Identities of the notifications queued (or in flight) in the receiver's outbox stream right now."""
        assert self.redis is not None
        from alerts.delivery.outbox import Entry
        from tests.support.resilience.taps import notification_identity

        rows = await self.redis.xrange(f"{self.config.namespace}:a:out:{CHANNEL}")
        return {notification_identity(Entry.from_fields(entry_id, fields).alert) for entry_id, fields in rows}

    async def outbox_left(self) -> int:
        assert self.redis is not None
        try:
            return int(await self.redis.xlen(f"{self.config.namespace}:a:out:{CHANNEL}"))
        except (RedisError, OSError):
            return -1
