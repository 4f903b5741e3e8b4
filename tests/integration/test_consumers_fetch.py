"""Polling a real HTTP server on loopback into the real broker and Redis: conditional GET, faults, politeness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from consumers.backoff import FeedSchedule
from consumers.dedup import Deduplicator
from consumers.fetch import Fetcher
from consumers.politeness import HostGate
from consumers.poller import FeedPoller
from consumers.produce import StoryProducer
from consumers.registry import EngineConfig, FeedConfig, HostPolicy
from consumers.tickers import TickerLinker
from consumers.validators import ValidatorStore
from monitor.ground.retry import parse_retry_after
from monitor.ground.settings import Settings
from tests.support.ceilings import READY_CEILING_S
from tests.support.consumers_fixtures import FeedServer, fast_engine, feed_server, items, rss


@dataclass
class Ingest:
    poller: FeedPoller
    producer: StoryProducer
    fetcher: Fetcher
    dedup: Deduplicator


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with feed_server() as running:
        yield running


@pytest.fixture
async def build_ingest(
    settings: Settings, stack: object
) -> AsyncIterator[Callable[..., asyncio.Future[Ingest]]]:
    """Build consumer instances (a new one = a restarted consumer) on the test's topics and Redis namespace."""
    made: list[tuple[Ingest, aioredis.Redis]] = []

    async def build(engine: EngineConfig | None = None, host: HostPolicy | None = None) -> Ingest:
        engine = engine or fast_engine()
        client = aioredis.from_url(settings.redis_url or "")
        dedup = Deduplicator(client, settings.redis_namespace)
        producer = StoryProducer(settings, dedup, delivery_timeout_s=engine.delivery_timeout_s)
        await producer.start()
        policy = host or HostPolicy(min_gap_s=0.0, max_in_flight=8)
        fetcher = Fetcher(engine, "BearwatchTest/1.0 test@example.com", HostGate(lambda _host: policy))
        poller = FeedPoller(
            engine=engine, fetcher=fetcher, validators=ValidatorStore(client, settings.redis_namespace),
            dedup=dedup, sink=producer, linker=TickerLinker(),
        )
        ingest = Ingest(poller, producer, fetcher, dedup)
        made.append((ingest, client))
        return ingest

    yield build  # type: ignore[misc]
    for ingest, client in made:
        await ingest.producer.stop()
        await ingest.fetcher.aclose()
        await client.aclose()


def _feed(name: str, url: str, **options: object) -> FeedConfig:
    return FeedConfig(name=name, url=url, source=name.title(), **options)  # type: ignore[arg-type]


async def test_unchanged_feed_is_not_downloaded_again_even_after_a_restart(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str, shared_data: Path
) -> None:
    body = (shared_data / "feeds/realworld/reuters/reuters_businessNews_2019-01-19.xml").read_bytes()
    feed = _feed(f"reuters{unique}", server.add("/reuters.xml", body))
    first = await build_ingest()
    assert (await first.poller.poll(feed)).stories == 20
    assert (await first.poller.poll(feed)).status == "not_modified"
    restarted = await build_ingest()  # a new consumer instance on the same Redis
    assert (await restarted.poller.poll(feed)).status == "not_modified"
    hits = server.hits_for("/reuters.xml")
    assert [hit.status for hit in hits] == [200, 304, 304]
    assert hits[0].body_bytes == len(body) and hits[1].body_bytes == hits[2].body_bytes == 0
    assert hits[1].if_none_match == hits[2].if_none_match is not None and hits[2].if_modified_since


async def test_last_modified_alone_is_enough_for_a_conditional_get(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    feed = _feed(f"lm{unique}", server.add("/lm.xml", rss(items(f"lm{unique}", 3)), send_etag=False))
    ingest = await build_ingest()
    assert (await ingest.poller.poll(feed)).stories == 3
    assert (await ingest.poller.poll(feed)).status == "not_modified"
    second = server.hits_for("/lm.xml")[1]
    assert second.if_none_match is None and second.if_modified_since == "Wed, 01 May 2024 12:00:00 GMT"
    server.set_body("/lm.xml", rss(items(f"lm{unique}", 4)))
    assert (await ingest.poller.poll(feed)).stories == 1


async def test_changed_feed_produces_only_its_new_stories(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    feed = _feed(f"wire{unique}", server.add("/wire.xml", rss(items(f"w{unique}", 5))))
    ingest = await build_ingest()
    assert (await ingest.poller.poll(feed)).stories == 5
    server.set_body("/wire.xml", rss(items(f"w{unique}", 7)))
    outcome = await ingest.poller.poll(feed)
    assert (outcome.stories, outcome.duplicates) == (2, 5)


async def test_rate_limited_feed_honours_retry_after(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    feed = _feed(f"busy{unique}", server.add("/busy.xml", status=429, retry_after="7"))
    outcome = await (await build_ingest()).poller.poll(feed)
    assert (outcome.status, outcome.error_kind, outcome.retry_after_s) == ("error", "rate_limited", 7.0)
    assert FeedSchedule(fast_engine(), interval_s=1).after_failure(outcome.retry_after_s) >= 7.0
    assert 50 < (parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") or 0)
    assert parse_retry_after("soon") is None


async def test_failing_feed_backs_off_then_is_unhealthy_and_still_probed() -> None:
    engine = fast_engine(backoff_base_s=1, backoff_max_s=60, unhealthy_after=3, unhealthy_probe_s=600)
    schedule = FeedSchedule(engine, interval_s=30)
    delays = [schedule.after_failure() for _ in range(3)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and delays[2] == 600 and not schedule.healthy
    assert 28 <= schedule.after_success() <= 32 and schedule.healthy and schedule.consecutive_failures == 0


async def test_redirects_are_followed_up_to_the_limit(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    server.add("/final.xml", rss(items(f"r{unique}", 2)))
    server.add("/hop1", redirect_to="/hop2")
    server.add("/hop2", redirect_to="/final.xml")
    for n in range(8):
        server.add(f"/loop{n}", redirect_to=f"/loop{n + 1}")
    ingest = await build_ingest(fast_engine(max_redirects=3))
    assert (await ingest.poller.poll(_feed(f"hop{unique}", server.url("/hop1")))).stories == 2
    looping = await ingest.poller.poll(_feed(f"loop{unique}", server.url("/loop0")))
    assert looping.error_kind == "redirects" and "3 redirects" in (looping.error or "")


async def test_gzip_body_is_decoded_and_counted_on_the_wire(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str, shared_data: Path
) -> None:
    body = (shared_data / "feeds/realworld/sec_edgar/edgar_latest_filings_2018-04-24.xml").read_bytes()
    feed = _feed(f"edgar{unique}", server.add("/edgar.xml", body, gzip=True), kind="sec-edgar")
    outcome = await (await build_ingest()).poller.poll(feed)
    assert outcome.stories == 100
    assert 0 < server.hits_for("/edgar.xml")[0].body_bytes < len(body) / 3


async def test_endless_body_is_cut_at_the_size_limit(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    feed = _feed(f"endless{unique}", server.add("/endless.xml", endless=True))
    # No time budget: the body never ends, so a client that kept reading would never return (the ceiling fails it).
    ingest = await build_ingest(fast_engine(max_body_bytes=100_000))
    outcome = await asyncio.wait_for(ingest.poller.poll(feed), READY_CEILING_S)
    assert outcome.error_kind == "too_large" and "stopped reading" in (outcome.error or "")


async def test_slow_feed_times_out_without_delaying_the_others(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    slow = _feed(f"slow{unique}", server.add("/slow.xml", rss(items(f"s{unique}", 1)), delay_s=10))
    fast = [_feed(f"fast{n}{unique}", server.add(f"/fast{n}.xml", rss(items(f"f{n}{unique}", 3)))) for n in range(3)]
    ingest = await build_ingest(fast_engine(total_timeout_s=2.0, read_timeout_s=5.0))
    finished: dict[str, float] = {}
    began = time.monotonic()

    async def poll(feed: FeedConfig) -> None:
        outcome = await ingest.poller.poll(feed)
        finished[feed.name] = time.monotonic() - began
        assert outcome.status == ("error" if feed is slow else "ok")

    await asyncio.gather(*(poll(feed) for feed in [slow, *fast]))
    assert all(finished[feed.name] < 1.5 for feed in fast)
    assert 1.9 <= finished[slow.name] < 3.5


async def test_one_request_in_flight_per_host_with_a_minimum_gap(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str
) -> None:
    feeds = [
        _feed(f"polite{n}{unique}", server.add(f"/p{n}.xml", rss(items(f"p{n}{unique}", 1)), delay_s=0.05))
        for n in range(4)
    ]
    ingest = await build_ingest(host=HostPolicy(min_gap_s=0.2, max_in_flight=1))
    # The gap is the client's promise, so it is read where the client releases a request (the gate's slot), not at
    # the server: on a loaded machine a request can reach the server late and the next one on time.
    gate = ingest.fetcher.gate
    released: list[float] = []
    real_slot = gate.slot

    @contextlib.asynccontextmanager
    async def recording_slot(url: str) -> AsyncIterator[float]:
        async with real_slot(url) as waited:
            released.append(time.monotonic())
            yield waited

    gate.slot = recording_slot  # type: ignore[method-assign]
    await asyncio.gather(*(ingest.poller.poll(feed) for feed in feeds))
    assert server.max_in_flight == 1 and len(server.hits) == len(released) == 4
    assert all(later - earlier >= 0.19 for earlier, later in zip(released, released[1:], strict=False))
    assert server.hits[0].user_agent == "BearwatchTest/1.0 test@example.com"


async def test_html_instead_of_a_feed_is_one_clear_error_line(
    server: FeedServer, build_ingest: Callable[..., asyncio.Future[Ingest]], unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = b"<!doctype html><html><body><h1>Subscribe to read</h1></body></html>"
    feed = _feed(f"paywall{unique}", server.add("/paywall", page, content_type="text/html"))
    ingest = await build_ingest()
    with caplog.at_level(logging.DEBUG, logger="consumers.poller"):
        first = await ingest.poller.poll(feed)
        server.set_body("/paywall", page + b" ")
        await ingest.poller.poll(feed)
    assert first.error_kind == "not_a_feed"
    lines = [record for record in caplog.records if feed.name in record.getMessage()]
    assert [record.levelno for record in lines] == [logging.WARNING, logging.DEBUG]  # repeated: not re-warned
    assert "HTML page" in lines[0].getMessage() and "/paywall" in lines[0].getMessage()
