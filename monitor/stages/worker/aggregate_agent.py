"""The ``aggregate`` agent: scored stories → Redis windows → the detector → alerts (and dead letters).

A read takes up to ``aggregate_batch`` stories (``BEARWATCH_AGGREGATE_BATCH``) with a short wait: what arrives
here came in batches from the score agent, and every wait adds latency. Alerts are handed on (their hand-off
records dropped) only once Kafka holds them: a crash in between re-emits them (``alerts.detector``).
"""

from __future__ import annotations

from typing import Any, cast

import faust

from monitor.ground.contracts import SchemaError, ScoredStory, decode, encode
from monitor.ground.settings import Settings
from monitor.stages.worker import capacity, metrics
from monitor.stages.worker.agent_kit import WorkerAgentKit
from monitor.stages.worker.publish import Outgoing, publish_all
from monitor.stages.worker.records import record_of
from monitor.stages.worker.runtime import WorkerRuntime
from monitor.stages.worker.scoring import DeadLetter

AGENT = "aggregate"


def add_aggregate_agent(app: faust.App, settings: Settings, runtime: WorkerRuntime, kit: WorkerAgentKit,
                        source: faust.TopicT, alerts_topic: faust.TopicT) -> None:
    """Register the ``aggregate`` agent on ``app``: reads ``source`` (scored stories), writes ``alerts_topic``."""

    @app.agent(source, name=AGENT)
    async def aggregate(stream: faust.StreamT) -> None:
        async for events in cast("faust.Stream[Any]", stream).take_events(  # see score_agent
                settings.aggregate_batch, within=min(settings.batch_max_wait_s, capacity.AGGREGATE_MAX_WAIT_S)):
            records = [record_of(event) for event in events]
            kit.received(AGENT, len(records))
            stories: list[ScoredStory] = []
            produced: list[float | None] = []
            dead: list[DeadLetter] = []
            for record in records:
                try:
                    stories.append(decode(ScoredStory, record.value or b""))
                    produced.append(record.timestamp)
                except SchemaError as exc:
                    dead.append(DeadLetter(record, str(exc)))
            alerts = await runtime.aggregate(stories, produced)
            messages = kit.dead_messages(dead)
            for alert in alerts:
                metrics.ALERTS_EMITTED.labels(alert.status, alert.severity).inc()
                messages.append(Outgoing(alerts_topic, alert.fingerprint.encode(), encode(alert)))
            await publish_all(messages, "alerts")
            await runtime.alerts_sent(alerts)  # only now: a crash before this re-emits them (alerts.detector)
            runtime.pace.observe("decided", produced)
            kit.handled(AGENT, len(alerts))
