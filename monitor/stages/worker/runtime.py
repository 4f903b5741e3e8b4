"""What the worker's agents share: the model, the Redis connection, the window store, detector and notifier.

Built lazily inside the running worker (the model loads in an executor thread so heartbeats keep flowing).
Redis calls are retried with backoff until Redis answers again: a Redis outage pauses the stream instead of
dropping stories, and because window updates are idempotent by story id, a retried batch never double-counts.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.ground.contracts import Alert, ModelInfo, ScoredStory
from monitor.ground.loop_metrics import recent_lag
from monitor.ground.settings import Settings
from monitor.stages.worker import capacity, metrics
from monitor.stages.worker.pace import Pace
from monitor.stages.worker.scoring import StoryScorer

log = logging.getLogger(__name__)
T = TypeVar("T")


class WorkerRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = aioredis.from_url(settings.redis_url or "", socket_timeout=10, socket_connect_timeout=5,
                                       health_check_interval=10)
        self._scorer: StoryScorer | None = None
        self._engine: Any = None
        self._store: Any = None
        self._detector: Any = None
        self._notifier: Any = None
        self._lock = asyncio.Lock()
        self.pace = Pace()

    async def scorer(self) -> StoryScorer:
        if self._scorer is None:
            from monitor.stages.model.engine import AsyncEngine, Engine

            loop = asyncio.get_running_loop()
            # The thread budget leaves the event loop a core (monitor.stages.worker.capacity).
            engine = await loop.run_in_executor(None, Engine.from_settings, capacity.engine_settings(self.settings))
            self._engine = AsyncEngine(engine)
            # The model, torch and the libraries are some 360,000 objects that live as long as the process; a full
            # collection scanned them all (0.14 s on an idle core, longer on a busy one, while the GIL holds the
            # event loop still). Frozen, they are never scanned again.
            gc.freeze()
            log.info("model loaded: %s", engine.describe())
            info = ModelInfo(name=engine.model_name, version=engine.model_version)
            self._scorer = StoryScorer(self._engine.score, info)
        return self._scorer

    def store(self) -> Any:
        if self._store is None:
            from monitor.stages.windows import WindowStore

            self._store = WindowStore(self.redis, self.settings.redis_namespace, self.settings.bucket_seconds,
                                      self.settings.allowed_lateness_s,
                                      entity_max_keys=self.settings.entity_max_keys)
        return self._store

    def detector(self) -> Any:
        if self._detector is None:
            from alerts.detector import Detector
            from alerts.rules import load_rules

            rules = load_rules(self.settings.rules_file)
            self._detector = Detector(self.redis, self.store(), rules, self.settings.redis_namespace, hand_off=True)
        return self._detector

    def notifier(self) -> Any:
        if self._notifier is None:
            from alerts.delivery import Notifier

            self._notifier = Notifier(self.redis, self.settings, self.settings.redis_namespace)
        return self._notifier

    async def aggregate(self, stories: list[ScoredStory], produced: list[float | None] | None = None) -> list[Alert]:
        """Apply ``stories`` to the windows and evaluate the detector on what they touched. ``produced``: their
        raw records' Kafka timestamps, for the produce→windowed latency."""
        if not stories:
            return []
        result = await self.retry_redis(lambda: self.store().apply(stories))
        self.pace.observe("windowed", produced or ())
        metrics.WINDOW_UPDATES.labels("applied").inc(result.applied)
        metrics.WINDOW_UPDATES.labels("duplicate").inc(result.duplicates)
        metrics.WINDOW_UPDATES.labels("late").inc(result.late)
        if result.watermark is None:
            return []
        if result.late:  # cached buckets of these keys changed: the detector re-reads them (alerts.reader)
            self.detector().forget(result.touched)
        return await self.retry_redis(lambda: self.detector().evaluate(result.touched, result.watermark))

    async def alerts_sent(self, alerts: list[Alert]) -> None:
        """The alerts are in Kafka now: drop their hand-off records (see ``alerts.detector``)."""
        if alerts:
            await self.retry_redis(lambda: self.detector().handed_on(alerts))

    async def enqueue_notification(self, alert: Alert) -> None:
        await self.retry_redis(lambda: self.notifier().enqueue(alert))

    async def run_delivery(self) -> None:
        """Drain the webhook outbox for as long as the worker runs; Redis outages only pause it."""
        while True:
            try:
                await self.notifier().run_forever()
                await asyncio.sleep(2)  # it returned normally (e.g. no channels configured): never spin
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - delivery must outlive any one failure
                log.exception("notification delivery loop failed; restarting in 2 s")
                await asyncio.sleep(2)

    async def retry_redis(self, call: Callable[[], Awaitable[T]], max_backoff_s: float = 10.0) -> T:
        backoff = 0.2
        while True:
            try:
                return await call()
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                metrics.REDIS_ERRORS.inc()
                log.warning("Redis unavailable (%s); retrying in %.1f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff_s)

    async def health(self) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self.redis.ping(), 2)
            redis_ok = True
        except Exception:  # noqa: BLE001
            redis_ok = False
        lag = {
            f"{sample.labels['topic']}[{sample.labels['partition']}]": int(sample.value)
            for family in metrics.CONSUMER_LAG.collect() for sample in family.samples
        }
        pipeline = self.pipeline_status()
        return {
            "ok": redis_ok and self._scorer is not None,
            "redis": redis_ok,
            "model": self._engine.engine.describe() if self._engine is not None else "loading",
            "consumer_lag": {"total": sum(lag.values()), "partitions": lag},
            "behind": pipeline["behind"],
            "pipeline": pipeline,
        }

    def pipeline_status(self, since: float | None = None) -> dict[str, Any]:
        """Is the worker keeping up: latencies, rate, backlog, behind (see ``monitor.stages.worker.pace``), loop lag."""
        return {**self.pace.summary(since), "event_loop_lag": recent_lag("worker")}
