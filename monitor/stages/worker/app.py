"""The worker stage's Faust app: agents ``score`` (raw → scored) and ``aggregate`` (scored → Redis windows →
alerts), its timers and its pages. The shell adds the rest (``monitor.shell.worker_app``: detector, ``notify``
agent, delivery, status page).

Settings that matter on both Tansu and Apache Kafka: a 10 s session timeout and 1 s heartbeats (Tansu's first
JoinGroup waits about half the session timeout), ``raw`` values (each agent decodes itself, so a malformed
message is dead-lettered instead of crashing the stream), and no Faust tables: state lives in Redis.
Delivery is at-least-once: a batch's outputs are awaited before its offsets can be committed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import faust

from monitor.ground.settings import Settings
from monitor.stages.worker import capacity
from monitor.stages.worker.agent_kit import WorkerAgentKit
from monitor.stages.worker.aggregate_agent import add_aggregate_agent
from monitor.stages.worker.fetch_wait import shorten_fetch_wait
from monitor.stages.worker.pages import add_pages
from monitor.stages.worker.runtime import WorkerRuntime
from monitor.stages.worker.score_agent import add_score_agent
from monitor.stages.worker.timers import add_timers


@dataclass(frozen=True)
class WorkerTopics:
    """The four topics of the worker, as Faust topics of its app."""

    raw: faust.TopicT
    scored: faust.TopicT
    alerts: faust.TopicT
    dead: faust.TopicT


@dataclass(frozen=True)
class StageApp:
    """The worker stage's app and what the shell needs to add agents and pages to it."""

    app: faust.App
    runtime: WorkerRuntime
    topics: WorkerTopics
    kit: WorkerAgentKit


def faust_app(settings: Settings) -> faust.App:
    """A Faust app configured for ``settings`` (see the module docstring), with no agents yet."""
    shorten_fetch_wait()  # Faust long-polls 1.5 s per fetch: up to 3 s of latency over two topics (see module)
    (settings.var_dir / "faust").mkdir(parents=True, exist_ok=True)
    # The app id names the consumer group and internal topics: keep it to Kafka's legal characters.
    return faust.App(
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
        stream_buffer_maxsize=capacity.read_ahead(settings),
        datadir=str(settings.var_dir / "faust"),
    )


def create_stage_app(runtime: WorkerRuntime) -> StageApp:
    """The worker stage for ``runtime.settings`` (Kafka and Redis URLs required: ``bearwatch up`` provides both)."""
    settings = runtime.settings
    if not settings.kafka_url or not settings.redis_url:
        raise ValueError("the worker needs BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL (bearwatch up sets both)")
    app = faust_app(settings)
    names, partitions = settings.topics, settings.topic_partitions
    topics = WorkerTopics(
        raw=app.topic(names.raw, partitions=partitions),
        scored=app.topic(names.scored, partitions=partitions),
        alerts=app.topic(names.alerts, partitions=partitions),
        dead=app.topic(names.deadletter, partitions=partitions),
    )
    kit = WorkerAgentKit(topics.dead)
    add_score_agent(app, settings, runtime, kit, topics.raw, topics.scored)
    add_aggregate_agent(app, settings, runtime, kit, topics.scored, topics.alerts)
    add_timers(app, settings, runtime)
    add_pages(app, runtime)
    return StageApp(app, runtime, topics, kit)
