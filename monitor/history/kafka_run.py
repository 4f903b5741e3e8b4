"""One Kafka replay, end to end: topics, worker, read, produce, wait until done, collect the alerts.

The worker process is spawned first (it loads the model while the file is read), then the stories that this run
has not produced yet are produced in (published_at, id) order; the run is finished when every story of the file
is counted, the detector reached the final watermark and the alerts topic is quiet
(:mod:`monitor.history.kafka_completion`). The alerts are read back from the run's alerts topic and written to
``alerts.json`` under the output folder, with ``summary.json`` (counts, timings) and ``rejected.csv`` (every
row that could not be used, with its number and reason).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis

from alerts.rules import Rule
from alerts.state import AlertState
from consumers.replay.source import LoadedStories, SourceReport, load_stories
from consumers.service import redis_client
from monitor.ground.contracts import Alert
from monitor.ground.kafka import ensure_topics
from monitor.ground.progress import SILENT, Bars
from monitor.ground.settings import Settings
from monitor.history import kafka_completion
from monitor.history.kafka_publish import publish
from monitor.history.options import RunOptions
from monitor.history.reading import dedup_for, linker_for
from monitor.history.replay_worker import ReplayWorker
from monitor.history.run_files import write_alerts_json, write_rejected_csv
from monitor.history.run_names import REPLAYS, content_run_id, set_up_run
from monitor.stages.windows import WindowStore
from monitor.stages.windows.spans import floor_to, to_ms

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    """What a Kafka replay produced; :func:`write_outputs` writes it next to the alerts."""

    run_id: str
    namespace: str
    out_dir: Path
    source: SourceReport
    produced: int
    dead_lettered: int
    alerts: list[Alert]
    seconds: float

    @property
    def alerts_path(self) -> Path:
        return self.out_dir / "alerts.json"


async def start_rules_at(redis: aioredis.Redis, settings: Settings, rules: list[Rule], first_event: datetime) -> None:
    """Set every rule's detector position to the first story's bucket before anything is evaluated.

    A fresh namespace starts its first rule at the first story but, once that rule has a position, treats the
    others like rules added to a running namespace (starting at the first watermark minus their window), so what
    they see would depend on how the first batch happened to be cut. Seeding all positions makes every rule start
    at the first story, in the Kafka replay and the backtest alike. Positions never move backwards, so a second
    replay of the same run changes nothing.
    """
    state = AlertState(redis, settings.redis_namespace)
    boundary = floor_to(to_ms(first_event) // 1000, settings.bucket_seconds)
    for rule in rules:
        await state.advance(rule.name, boundary)


async def run_replay(settings: Settings, options: RunOptions, bars: Bars = SILENT) -> ReplayResult:
    """Replay ``options.path`` through Kafka and a real worker; needs ``settings.kafka_url`` and ``redis_url``."""
    if not settings.kafka_url or not settings.redis_url:
        raise ValueError("a Kafka replay needs Kafka and Redis URLs (the CLI starts embedded ones when unset)")
    began = time.monotonic()
    run = set_up_run(settings, options.run_id or content_run_id(options.path), options.rules_file, options.out_dir,
                     REPLAYS)
    names, run_settings, rules, out_dir = run.names, run.settings, run.rules, run.out_dir
    await ensure_topics(settings.kafka_url, run_settings)
    redis = redis_client(settings.redis_url)
    worker = ReplayWorker(run_settings, out_dir / "worker.log")
    worker.spawn()
    try:
        dedup = dedup_for(settings, redis, names.namespace)
        loaded = await load_stories(options.path, options.read, linker=linker_for(settings), dedup=dedup, bars=bars)
        if loaded.stories:
            await start_rules_at(redis, run_settings, rules, loaded.stories[0].published_at)
        await worker.ready(options.ready_timeout_s)
        produced = await publish(run_settings, loaded.new, dedup, speed=options.speed, bars=bars)
        dead = await _wait_done(run_settings, redis, worker, loaded, rules, options, bars)
        alerts = await kafka_completion.read_alerts(settings.kafka_url, run_settings.topics.alerts)
    finally:
        await worker.stop()
        await redis.aclose()
    result = ReplayResult(names.run_id, names.namespace, out_dir, loaded.report, produced, dead, alerts,
                          time.monotonic() - began)
    write_outputs(result)
    return result


async def _wait_done(settings: Settings, redis: aioredis.Redis, worker: ReplayWorker, loaded: LoadedStories,
                     rules: list[Rule], options: RunOptions, bars: Bars) -> int:
    bootstrap = settings.kafka_url or ""
    dead = await kafka_completion.wait_counted(
        redis, settings.redis_namespace, [story.id for story in loaded.stories],
        bootstrap=bootstrap, deadletter_topic=settings.topics.deadletter, alive=worker.check, bars=bars,
        stall_timeout_s=options.stall_timeout_s,
    )
    store = WindowStore(redis, settings.redis_namespace, settings.bucket_seconds,
                        settings.allowed_lateness_s)
    first, last = await store.event_range()
    if first is not None and last is not None:
        boundary = kafka_completion.final_boundary(first, last, settings.allowed_lateness_s, settings.bucket_seconds)
        await kafka_completion.wait_evaluated(redis, settings.redis_namespace, rules, boundary,
                                                alive=worker.check, timeout_s=options.stall_timeout_s)
    await kafka_completion.wait_quiet(bootstrap, settings.topics.alerts)
    return dead


def write_outputs(result: ReplayResult) -> None:
    write_alerts_json(result.alerts_path, result.alerts)
    write_rejected_csv(result.out_dir / "rejected.csv", result.source)
    summary = {
        "run_id": result.run_id, "namespace": result.namespace, "source": result.source.to_dict(),
        "produced": result.produced, "dead_lettered": result.dead_lettered, "alerts": len(result.alerts),
        "seconds": round(result.seconds, 3),
    }
    (result.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
