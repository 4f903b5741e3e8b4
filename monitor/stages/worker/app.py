"""The Faust app: agents ``score`` (raw → scored), ``aggregate`` (scored → Redis windows → alerts) and ``notify``
(alerts → durable webhook outbox).

Settings that matter on both Tansu and Apache Kafka: a 10 s session timeout and 1 s heartbeats (Tansu's first
JoinGroup waits about half the session timeout), ``raw`` values (each agent decodes itself, so a malformed
message is dead-lettered instead of crashing the stream), and no Faust tables: state lives in Redis.
Delivery is at-least-once: a batch's outputs are awaited before its offsets can be committed.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, cast

import faust
from aiohttp import web
from faust.transport.consumer import Consumer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.ground.contracts import Alert, SchemaError, ScoredStory, decode, encode
from monitor.ground.loop_metrics import watch_tasks
from monitor.ground.settings import Settings
from monitor.shell.web import install_web
from monitor.stages.worker import capacity, metrics
from monitor.stages.worker.fetch_wait import shorten_fetch_wait
from monitor.stages.worker.log_reset import CHECK_INTERVAL_S, LogResetGuard
from monitor.stages.worker.publish import Outgoing, publish_all
from monitor.stages.worker.runtime import WorkerRuntime
from monitor.stages.worker.scoring import DeadLetter, RawRecord

log = logging.getLogger(__name__)


def _record(event: Any) -> RawRecord:
    message = event.message
    return RawRecord(message.topic, message.partition, message.offset, message.key, message.value,
                     message.timestamp or None)


def create_app(settings: Settings) -> faust.App:
    """Build the worker app for ``settings`` (Kafka URL required: ``bearwatch up`` provides the embedded one)."""
    if not settings.kafka_url or not settings.redis_url:
        raise ValueError("the worker needs BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL (bearwatch up sets both)")
    shorten_fetch_wait()  # Faust long-polls 1.5 s per fetch: up to 3 s of latency over two topics (see module)
    # The app id names the consumer group and internal topics: keep it to Kafka's legal characters.
    app = faust.App(
        "bearwatch-" + re.sub(r"[^A-Za-z0-9._-]", "-", settings.redis_namespace),
        broker=f"kafka://{settings.kafka_url}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=10,
        broker_commit_every=200,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        producer_acks=-1,
        web_host=settings.http_host,
        web_bind=settings.http_host,  # web_host only names the URL; without web_bind Faust listens on 0.0.0.0
        web_port=settings.worker_port,
        web_in_thread=False,
        stream_buffer_maxsize=capacity.read_batch(settings) * capacity.READ_AHEAD_BATCHES,
        datadir=str(settings.var_dir / "faust"),
    )
    (settings.var_dir / "faust").mkdir(parents=True, exist_ok=True)
    runtime = WorkerRuntime(settings)
    app.bearwatch_runtime = runtime  # type: ignore[attr-defined]
    topics = settings.topics
    raw_topic = app.topic(topics.raw, partitions=settings.topic_partitions)
    scored_topic = app.topic(topics.scored, partitions=settings.topic_partitions)
    alerts_topic = app.topic(topics.alerts, partitions=settings.topic_partitions)
    dead_topic = app.topic(topics.deadletter, partitions=settings.topic_partitions)

    def dead_messages(dead: list[DeadLetter]) -> list[Outgoing]:
        for letter in dead:
            metrics.DEAD_LETTERS.labels(letter.reason.split(":")[0][:40]).inc()
        return [Outgoing(dead_topic, letter.record.key, json.dumps(letter.to_json()).encode()) for letter in dead]

    @app.agent(raw_topic, name="score")
    async def score(stream: faust.StreamT) -> None:
        scorer = await runtime.scorer()
        # Up to READ_BATCHES micro-batches per model call; the engine sorts them by length (stages.worker.capacity).
        # StreamT (Faust's protocol) omits take_events; the faust.Stream an agent gets has it.
        async for events in cast("faust.Stream[Any]", stream).take_events(capacity.read_batch(settings),
                                                                           within=settings.batch_max_wait_s):
            records = [_record(event) for event in events]
            metrics.MESSAGES_IN.labels("score").inc(len(records))
            metrics.BATCH_SIZE.labels("score").observe(len(records))
            outcome = await scorer.score_records(records)
            messages = dead_messages(outcome.dead)
            messages += [Outgoing(scored_topic, story.id.encode(), encode(story), produced)
                         for story, produced in zip(outcome.scored, outcome.produced, strict=True)]
            await publish_all(messages, "scored")  # delivered before these offsets may be committed
            runtime.pace.observe("scored", outcome.produced)
            metrics.MESSAGES_OUT.labels("score").inc(len(outcome.scored))

    @app.agent(scored_topic, name="aggregate")
    async def aggregate(stream: faust.StreamT) -> None:
        # A short wait: what arrives here came in batches from the score agent, and every wait adds latency.
        async for events in cast("faust.Stream[Any]", stream).take_events(  # see score
                max(capacity.read_batch(settings), 64),
                within=min(settings.batch_max_wait_s, capacity.AGGREGATE_MAX_WAIT_S)):
            records = [_record(event) for event in events]
            metrics.MESSAGES_IN.labels("aggregate").inc(len(records))
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
            messages = dead_messages(dead)
            for alert in alerts:
                metrics.ALERTS_EMITTED.labels(alert.status, alert.severity).inc()
                messages.append(Outgoing(alerts_topic, alert.fingerprint.encode(), encode(alert)))
            await publish_all(messages, "alerts")
            await runtime.alerts_sent(alerts)  # only now: a crash before this re-emits them (alerts.detector)
            runtime.pace.observe("decided", produced)
            metrics.MESSAGES_OUT.labels("aggregate").inc(len(alerts))

    @app.agent(alerts_topic, name="notify")
    async def notify(stream: faust.StreamT) -> None:
        async for event in stream.events():
            record = _record(event)
            metrics.MESSAGES_IN.labels("notify").inc()
            try:
                alert = decode(Alert, record.value or b"")
            except SchemaError as exc:
                await publish_all(dead_messages([DeadLetter(record, str(exc))]), "deadletter")
                continue
            await runtime.enqueue_notification(alert)
            metrics.MESSAGES_OUT.labels("notify").inc()

    log_reset = LogResetGuard()

    @app.timer(interval=CHECK_INTERVAL_S)
    async def reread_recreated_logs() -> None:
        """A memory broker that restarted numbers its logs from 0 again: re-read them (stages.worker.log_reset)."""
        await log_reset.check(app.consumer)

    @app.timer(interval=2.0)
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

    @app.task
    async def start_delivery() -> None:
        watch_tasks("worker")
        await runtime.run_delivery()

    @app.page("/metrics")  # type: ignore[arg-type]  # Faust types base.Request; its aiohttp driver passes aiohttp's
    async def metrics_page(_: Any, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/api/pipeline")  # type: ignore[arg-type]  # Faust types base.Request; its aiohttp driver passes aiohttp's
    async def pipeline_page(_: Any, request: web.Request) -> web.Response:
        """Produce→stage latency percentiles, scoring rate and backlog; ``?since=<unix seconds>`` limits the
        percentiles to stories that reached a stage since then (the bench reads one phase this way)."""
        raw_since = request.query.get("since")
        since: float | None = None
        if raw_since is not None:
            try:
                since = float(raw_since)
            except ValueError:
                return web.json_response({"error": f"since={raw_since[:40]!r} is not a number: give Unix seconds"},
                                         status=400)
        return web.json_response(runtime.pipeline_status(since), headers={"Cache-Control": "no-store"})

    @app.page("/health")  # type: ignore[arg-type]  # Faust types base.Request; its aiohttp driver passes aiohttp's
    async def health_page(_: Any, request: web.Request) -> web.Response:
        state = await runtime.health()
        return web.json_response(state, status=200 if state["ok"] else 503)

    install_web(app, runtime)
    return app
