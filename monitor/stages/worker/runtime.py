"""What the worker's agents share, typed and built up front: settings, Redis, the window store, the detector, the
model slot and the pace numbers.

Built by the shell (``monitor.shell.worker_app``), which passes the detector in as a
:class:`monitor.ground.ports.AlertDecider`: the worker stage decides alerts without importing ``alerts/``. Only
the model loads lazily, inside the running worker (:mod:`monitor.stages.worker.model_slot`). Redis calls are
retried until Redis answers again (:mod:`monitor.stages.worker.redis_calls`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from monitor.ground.contracts import Alert, ScoredStory
from monitor.ground.loop_metrics import recent_lag
from monitor.ground.ports import AlertDecider
from monitor.ground.settings import Settings
from monitor.stages.windows import WindowStore
from monitor.stages.worker import metrics
from monitor.stages.worker.model_slot import ModelSlot
from monitor.stages.worker.pace import Pace
from monitor.stages.worker.redis_calls import retry_redis


def window_store(settings: Settings, redis: aioredis.Redis) -> WindowStore:
    """The live window store of ``settings`` on ``redis``."""
    return WindowStore(redis, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s,
                       entity_max_keys=settings.entity_max_keys)


@dataclass
class WorkerRuntime:
    """The parts of one worker process. ``detector`` decides alerts over ``store`` (see ``alerts.detector``)."""

    settings: Settings
    redis: aioredis.Redis
    store: WindowStore
    detector: AlertDecider
    model: ModelSlot
    pace: Pace = field(default_factory=Pace)

    async def aggregate(self, stories: list[ScoredStory], produced: list[float | None] | None = None) -> list[Alert]:
        """Apply ``stories`` to the windows and evaluate the detector on what they touched. ``produced``: their
        raw records' Kafka timestamps, for the produce→windowed latency."""
        if not stories:
            return []
        result = await retry_redis(lambda: self.store.apply(stories))
        self.pace.observe("windowed", produced or ())
        metrics.WINDOW_UPDATES.labels("applied").inc(result.applied)
        metrics.WINDOW_UPDATES.labels("duplicate").inc(result.duplicates)
        metrics.WINDOW_UPDATES.labels("late").inc(result.late)
        watermark = result.watermark
        if watermark is None:
            return []
        if result.late:  # cached buckets of these keys changed: the detector re-reads them (alerts.reader)
            self.detector.forget(result.touched)
        return await retry_redis(lambda: self.detector.evaluate(result.touched, watermark))

    async def alerts_sent(self, alerts: list[Alert]) -> None:
        """The alerts are in Kafka now: drop their hand-off records (see ``alerts.detector``)."""
        if alerts:
            await retry_redis(lambda: self.detector.handed_on(alerts))

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
            "ok": redis_ok and self.model.loaded,
            "redis": redis_ok,
            "model": self.model.describe(),
            "consumer_lag": {"total": sum(lag.values()), "partitions": lag},
            "behind": pipeline["behind"],
            "pipeline": pipeline,
        }

    def pipeline_status(self, since: float | None = None) -> dict[str, Any]:
        """Is the worker keeping up: latencies, rate, backlog, behind (see ``monitor.stages.worker.pace``), loop lag."""
        return {**self.pace.summary(since), "event_loop_lag": recent_lag("worker")}
