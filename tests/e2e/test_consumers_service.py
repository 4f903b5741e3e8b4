"""The ingest service end to end: local feeds → real broker and Redis, metrics, health, broker outage."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from consumers.health import HealthStore
from consumers.normalise import EntryContext, normalise_entries
from consumers.parse import parse_body
from consumers.registry import FeedConfig, JsonMapping
from consumers.service import IngestService
from monitor.ground.kafka import ensure_topics
from monitor.ground.settings import Settings
from monitor.ground.stack import EmbeddedStack
from tests.support.ceilings import READY_CEILING_S as CEILING_S
from tests.support.ceilings import wait_for as wait_for_ready
from tests.support.consumers_fixtures import fast_engine, feed_server, items, read_stories, registry_for, rss


async def _settings(make_settings: Callable[..., Settings]) -> Settings:
    built = make_settings(ingest_port=0)
    await ensure_topics(built.kafka_url or "", built)
    return built




wait_for = functools.partial(wait_for_ready, poll_s=0.05)  # brief states (stories outstanding mid-outage)

def _ids(body: bytes, url: str, source: str) -> set[str]:
    """Story ids of a feed body, computed apart from the service (same normaliser, no HTTP, Kafka or Redis)."""
    context = EntryContext(source=source, feed="x", fetched_at=datetime.now(UTC), feed_url=url)
    return {story.id for story in normalise_entries(parse_body(body, url=url).entries, context, None).stories}


async def test_service_polls_good_and_bad_feeds_into_kafka_and_reports_health(
    make_settings: Callable[..., Settings], redis_client: aioredis.Redis, unique: str, shared_data: Path
) -> None:
    settings = await _settings(make_settings)
    reuters = (shared_data / "feeds/realworld/reuters/reuters_topNews_2017-03-20.xml").read_bytes()
    truncated = (shared_data / "feeds/realworld/reuters/reuters_worldNews_2018-01-30.xml").read_bytes()[:12_000]
    api = {"result": {"news": [{"headline": f"API story {n} for {unique}", "link": f"https://api.example/{unique}/{n}",
                                 "time": 1714564800 + n} for n in range(4)]}}
    async with feed_server() as server:
        feeds = [
            FeedConfig(name=f"top{unique}", source="Reuters", url=server.add("/top.xml", reuters), interval_s=0.3),
            FeedConfig(name=f"cut{unique}", source="Reuters", url=server.add("/cut.xml", truncated), interval_s=0.3),
            FeedConfig(
                name=f"api{unique}", source="API", kind="json-api", interval_s=0.3,
                url=server.add("/api", json.dumps(api).encode(), content_type="application/json"),
                mapping=JsonMapping(items="result.news", title="headline", link="link", date="time"),
            ),
            FeedConfig(name=f"down{unique}", source="Down", url=server.add("/down.xml", status=500), interval_s=0.3),
            FeedConfig(
                name=f"page{unique}", source="Page", interval_s=0.3,
                url=server.add("/page", b"<html><body>not a feed</body></html>", content_type="text/html"),
            ),
        ]
        headlines = ["Apple shares fall 5% after weak iPhone sales", "Apple shares fall 5 pct after weak iPhone sales",
                      "UPDATE 1-Apple shares fall 5% after weaker iPhone sales - Wire"]
        for n, headline in enumerate(headlines):
            item = {"title": headline, "link": f"https://syn{n}.example/{unique}"}
            feeds.append(FeedConfig(name=f"syn{n}{unique}", source=f"Syn{n}", url=server.add(f"/syn{n}", rss([item]))))
        expected = _ids(reuters, server.url("/top.xml"), "Reuters") | _ids(truncated, server.url("/cut.xml"), "Reuters")
        service = IngestService(settings, registry_for(feeds, fast_engine(unhealthy_probe_s=0.3)), start_jitter_s=0)
        await service.start()
        try:
            await wait_for(lambda: len(server.hits_for("/down.xml")) >= 5, CEILING_S, "probes of the dead feed")
            await wait_for(lambda: len(server.hits_for("/top.xml")) >= 2, CEILING_S, "a second poll of the good feed")
            async with httpx.AsyncClient() as client:
                metrics = (await client.get(f"http://127.0.0.1:{service.port}/metrics")).text
                health = (await client.get(f"http://127.0.0.1:{service.port}/health")).json()
        finally:
            await service.stop()
    stories = await read_stories(settings.kafka_url or "", settings.topics.raw, expected)
    by_feed = {feed.name: sorted(story.title for story in stories if story.feed == feed.name) for feed in feeds}
    assert expected <= {story.id for story in stories} and len(stories) == len({story.id for story in stories})
    assert len(by_feed[f"top{unique}"]) == 10 and 3 <= len(by_feed[f"cut{unique}"]) < 20
    assert by_feed[f"api{unique}"] == [f"API story {n} for {unique}" for n in range(4)]
    syndicated = [story for story in stories if story.feed.startswith("syn")]
    assert len(syndicated) == 3 and len({story.cluster for story in syndicated}) == 1
    assert sorted(story.novelty for story in syndicated) == [1 / 3, 0.5, 1.0]
    assert syndicated[0].tickers == ["AAPL"]
    assert health["status"] == "degraded" and health["unhealthy_feeds"] == [f"down{unique}", f"page{unique}"]
    assert f'bearwatch_ingest_errors_total{{feed="down{unique}",kind="http_5xx"}}' in metrics
    assert f'bearwatch_ingest_errors_total{{feed="page{unique}",kind="not_a_feed"}}' in metrics
    assert f'bearwatch_ingest_feed_problems_total{{feed="cut{unique}",kind="ill_formed"}}' in metrics
    assert f'bearwatch_ingest_not_modified_total{{feed="top{unique}"}}' in metrics
    assert f'bearwatch_ingest_stories_produced_total{{feed="top{unique}"}} 10.0' in metrics
    assert f'bearwatch_ingest_feed_healthy{{feed="down{unique}"}} 0.0' in metrics
    assert 'bearwatch_asyncio_tasks{service="ingest"}' in metrics
    assert "bearwatch_ingest_poll_duration_seconds_bucket" in metrics
    store = HealthStore(redis_client, settings.redis_namespace)
    down = await store.load(f"down{unique}")
    assert down.status == "unhealthy" and down.consecutive_failures >= 5 and "HTTP 500" in down.last_error
    top = await store.load(f"top{unique}")
    assert top.status == "ok" and top.last_success > 0 and top.stories == 10


@pytest.mark.slow
async def test_broker_restart_mid_run_loses_no_polled_story(
    make_settings: Callable[..., Settings], stack: EmbeddedStack, unique: str
) -> None:
    settings = await _settings(make_settings)
    async with feed_server() as server:
        url = server.add("/live.xml", rss(items(f"l{unique}", 10)))
        feed = FeedConfig(name=f"live{unique}", source="Live", url=url, interval_s=0.2)
        service = IngestService(settings, registry_for([feed], fast_engine(delivery_timeout_s=2.0)), start_jitter_s=0)
        await service.start(serve_http=False)
        try:
            await wait_for(lambda: service.producer.acknowledged >= 10, CEILING_S, "the first ten stories")
            first_ten = _ids(rss(items(f"l{unique}", 10)), url, "Live")
            stored = await read_stories(settings.kafka_url or "", settings.topics.raw, first_ten)
            before = {story.id for story in stored}
            assert before == first_ten
            await asyncio.to_thread(stack.servers["kafka"].stop)
            server.set_body("/live.xml", rss(items(f"l{unique}", 30)))
            await wait_for(lambda: service.producer.outstanding == 20, CEILING_S,
                            "new stories polled during the outage")
            await asyncio.sleep(1.0)  # at least one delivery round fails against the dead broker
            await asyncio.to_thread(stack.restart, "kafka")
            await wait_for(lambda: service.producer.acknowledged >= 30, CEILING_S, "re-sent stories acknowledged")
        finally:
            await service.stop()
    served = _ids(rss(items(f"l{unique}", 30)), url, "Live")
    after = await read_stories(settings.kafka_url or "", settings.topics.raw, served - before)
    assert served - before <= {story.id for story in after}  # the broker forgot the first ten: in-memory Tansu


async def test_a_redis_outage_pauses_feeds_without_marking_them_unhealthy(
    make_settings: Callable[..., Settings], stack: EmbeddedStack, tmp_path: Path, unique: str
) -> None:
    """Redis (the consumers' state store) down for a while is not the feeds' fault: no feed may be parked as
    unhealthy (that would stop polling for unhealthy_probe_s after Redis is back), and polling resumes within
    seconds once it answers again."""
    private = EmbeddedStack(tmp_path / "own-redis", kafka=False).start()
    try:
        settings = make_settings(ingest_port=0, redis_url=private.redis_url)
        await ensure_topics(settings.kafka_url or "", settings)
        async with feed_server() as server:
            feeds = [FeedConfig(name=f"f{n}{unique}", source=f"S{n}", interval_s=0.3,
                                url=server.add(f"/f{n}.xml", rss(items(f"before{n}{unique}", 3))))
                     for n in range(2)]
            engine = fast_engine(unhealthy_after=2, unhealthy_probe_s=600)
            service = IngestService(settings, registry_for(feeds, engine), start_jitter_s=0)
            await service.start()
            try:
                await wait_for(lambda: len(server.hits_for("/f0.xml")) >= 2, CEILING_S, "polls before the outage")
                private.servers["redis"].stop()
                await asyncio.sleep(4)  # several failed polls per feed: more than unhealthy_after
                assert all(s.healthy and s.consecutive_failures == 0 for s in service.schedules.values())
                private.restart("redis")
                expected: set[str] = set()
                for n in range(2):
                    fresh = rss(items(f"after{n}{unique}", 3))
                    server.add(f"/f{n}.xml", fresh)
                    expected |= _ids(fresh, server.url(f"/f{n}.xml"), f"S{n}")
                # Still a test of "polling resumes": a feed parked as unhealthy would wait unhealthy_probe_s (600 s).
                stories = await read_stories(settings.kafka_url or "", settings.topics.raw, expected)
                async with httpx.AsyncClient() as client:
                    metrics = (await client.get(f"http://127.0.0.1:{service.port}/metrics")).text
            finally:
                await service.stop()
    finally:
        private.stop()
    assert expected <= {story.id for story in stories}
    assert f'bearwatch_ingest_errors_total{{feed="f0{unique}",kind="redis"}}' in metrics
    assert f'bearwatch_ingest_feed_healthy{{feed="f0{unique}"}} 1.0' in metrics
