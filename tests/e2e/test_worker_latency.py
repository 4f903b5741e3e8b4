"""Produce→stage latency, scoring rate, backlog and "behind" of the stream worker.

The end-to-end test runs the real worker (tiny model) on the session's Tansu and Valkey: every story it decides
must appear once in each stage histogram, the scored record must carry the raw record's Kafka timestamp, and
``/health``, ``/api/pipeline`` and ``/api/status`` must carry the numbers. No assertion is about how fast anything
is: speed is measured in ``bench/pipeline_throughput.py``. The ``Pace`` tests use a fake clock.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from monitor.ground.contracts import encode
from monitor.ground.kafka import ensure_topics
from monitor.ground.settings import Settings
from monitor.stages.windows import WindowStore
from monitor.stages.worker.pace import BEHIND_AFTER_S, Pace
from tests.support.browser import CHROMIUM, chromium
from tests.support.ceilings import READY_CEILING_S, wait_for
from tests.support.pipeline_fixtures import START, make_stories, metric_value, produce, read_topic
from tests.support.worker_fixtures import running_worker, tiny_model_dir  # noqa: F401 - fixture


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_pace_reports_latency_percentiles_rate_and_behind_from_produce_times() -> None:
    clock = Clock(1000.0)
    pace = Pace(clock)
    clock.now = 1010.0
    pace.observe("scored", [1009.0 - i / 100 for i in range(100)] + [None, 0.0])  # unknown times are skipped
    pace.observe("decided", [1009.5, 1009.0])
    summary = pace.summary()
    assert summary["stages"]["scored"]["count"] == 100
    assert summary["stages"]["scored"]["p50_s"] == pytest.approx(1.5, abs=0.02)
    assert summary["stages"]["scored"]["max_s"] == pytest.approx(1.99)
    assert summary["stages"]["windowed"]["count"] == 0
    assert summary["rate_per_s"] == pytest.approx(10.0)  # 100 stories in the 10 s since start
    assert summary["behind"] is False and summary["seconds"] == 0  # nothing queued: caught up

    pace.set_backlog(500)
    clock.now = 1009.5 + BEHIND_AFTER_S + 1  # nothing decided since: the newest decided story ages
    behind = pace.behind()
    assert behind["behind"] is True
    assert behind["seconds"] == pytest.approx(BEHIND_AFTER_S + 1)
    assert behind["backlog_stories"] == 500
    assert behind["drain_s"] == pytest.approx(500 / behind["rate_per_s"], rel=0.01)


def test_pace_clamps_clock_skew_and_limits_percentiles_to_a_phase() -> None:
    clock = Clock(2000.0)
    pace = Pace(clock)
    pace.observe("decided", [2005.0])  # produced "in the future": another host's clock
    assert pace.latency("decided")["max_s"] == 0.0
    clock.now = 2100.0
    pace.observe("decided", [2099.0])
    assert pace.latency("decided", since=2050.0)["count"] == 1
    assert pace.set_backlog(0) is None and pace.behind()["drain_s"] == 0.0


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
async def test_every_decided_story_is_timed_at_each_stage_and_health_says_whether_it_keeps_up(
    make_settings: Callable[..., Settings], tiny_model_dir: Path, redis_client: aioredis.Redis,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = make_settings(model_path=tiny_model_dir, model_batch=32, batch_max_wait_s=0.2, topic_partitions=4)
    await ensure_topics(settings.kafka_url or "", settings)
    stories = make_stories(300, seed=19)
    store = WindowStore(redis_client, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s)
    with running_worker(settings, tmp_path / "worker.log") as (_, port):
        await produce(settings, [(story.id.encode(), encode(story)) for story in stories])
        raw = {r.key: r.timestamp for r in await read_topic(settings, settings.topics.raw, 300)}
        scored = {r.key: r.timestamp for r in await read_topic(settings, settings.topics.scored, 300)}
        assert set(scored) == set(raw)
        assert scored == raw, "a scored record keeps its raw record's Kafka timestamp"

        async def all_decided() -> bool:
            counted = await store.window("market", "all", "24h", at=START + timedelta(hours=3), samples=False)
            decided = metric_value(port, 'bearwatch_pipeline_latency_seconds_count{stage="decided"}')
            return counted.count >= 300 and decided >= 300

        await wait_for(all_decided, READY_CEILING_S, "300 stories counted in the windows and decided")
        for stage in ("scored", "windowed", "decided"):
            assert metric_value(port, f'bearwatch_pipeline_latency_seconds_count{{stage="{stage}"}}') == 300, stage
        assert metric_value(port, 'bearwatch_event_loop_lag_seconds_count{service="worker"}') > 0

        pipeline = _get(port, "/api/pipeline")
        assert {stage: pipeline["stages"][stage]["count"] for stage in pipeline["stages"]} == \
            {"scored": 300, "windowed": 300, "decided": 300}
        first = pipeline["stages"]["decided"]
        assert 0 <= first["p50_s"] <= first["p99_s"] <= first["max_s"]
        assert pipeline["rate_per_s"] > 0
        assert pipeline["event_loop_lag"]["samples"] > 0
        assert _get(port, "/api/pipeline?since=4102444800")["stages"]["decided"]["count"] == 0  # year 2100

        async def backlog_read_as_empty() -> bool:  # the lag is read from committed offsets every 2 s
            return _get(port, "/health")["pipeline"]["backlog_stories"] == 0

        await wait_for(backlog_read_as_empty, READY_CEILING_S, "the worker to read its consumer lag as 0")
        health = _get(port, "/health")
        assert health["behind"] is False and health["pipeline"]["seconds"] == 0, health
        assert health["pipeline"]["stages"]["decided"]["count"] == 300

        status = _get(port, "/api/status")
        assert status["pipeline"]["stages"]["decided"]["count"] == 300

        with pytest.raises(urllib.error.HTTPError) as bad:
            _get(port, "/api/pipeline?since=yesterday")
        assert bad.value.code == 400

        if CHROMIUM:  # the page draws the panel, and the rest of the page still renders after it
            dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", f"http://127.0.0.1:{port}/")
            assert 'data-loaded="1"' in dom
            assert '<section class="pipeline" id="pipeline">' in dom, "the pipeline panel is shown"
            assert '<div id="behind" role="alert" hidden="">' in dom, "not behind: no banner"
            assert re.search(r'id="pl-rate">\d+\.\d<', dom) and re.search(r'id="pl-p99">[\d.]+ s<', dom), dom[-3000:]


async def test_the_worker_consumer_long_polls_briefly(make_settings: Callable[..., Settings],
                                                      tiny_model_dir: Path) -> None:  # noqa: F811
    """Faust hard-codes a 1.5 s fetch wait, which Tansu sits out in full on every hop (stages.worker.fetch_wait)."""
    from monitor.shell.worker_app import create_app
    from monitor.stages.worker.fetch_wait import FETCH_MAX_WAIT_MS

    app = create_app(make_settings(model_path=tiny_model_dir))
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # noqa: SLF001 - built, never started
    assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS  # noqa: SLF001
    create_app(make_settings(model_path=tiny_model_dir))  # a second app in the process wraps nothing twice
    again = app.consumer._thread._create_worker_consumer(app.transport)  # noqa: SLF001
    assert again._fetch_max_wait_ms == FETCH_MAX_WAIT_MS  # noqa: SLF001
