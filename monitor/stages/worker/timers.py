"""The worker's periodic checks: consumer lag (→ backlog, "behind"), recreated broker logs, and the loop probe."""

from __future__ import annotations

from typing import cast

import faust
from faust.transport.consumer import Consumer

from monitor.ground.loop_metrics import watch_tasks
from monitor.ground.settings import Settings
from monitor.stages.worker import metrics
from monitor.stages.worker.log_reset import CHECK_INTERVAL_S, LogResetGuard
from monitor.stages.worker.runtime import WorkerRuntime

LAG_INTERVAL_S = 2.0


def add_timers(app: faust.App, settings: Settings, runtime: WorkerRuntime) -> None:
    """Register the worker's timers and its event-loop probe on ``app``."""
    topics = settings.topics
    log_reset = LogResetGuard()

    @app.task
    async def watch_loop() -> None:
        """Task count and event-loop lag of the worker (``monitor.ground.loop_metrics``)."""
        watch_tasks("worker")

    @app.timer(interval=CHECK_INTERVAL_S)
    async def reread_recreated_logs() -> None:
        """A memory broker that restarted numbers its logs from 0 again: re-read them (stages.worker.log_reset)."""
        await log_reset.check(app.consumer)

    @app.timer(interval=LAG_INTERVAL_S)
    async def report_lag() -> None:
        consumer = app.consumer
        backlog = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            # The committed offset (next to process), not the read offset: Faust reads up to stream_buffer_maxsize
            # messages ahead into memory, so the read offset hides an overload backlog (bench/resilience, scenario 6).
            # Faust exposes no public committed offset (and ConsumerT does not declare this private one).
            done = cast(Consumer, consumer)._committed_offset.get(tp)  # noqa: SLF001
            if highwater is not None:
                lag = max(0, highwater - (done or 0))
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
                if tp.topic in (topics.raw, topics.scored):
                    backlog += lag
        runtime.pace.set_backlog(backlog)
