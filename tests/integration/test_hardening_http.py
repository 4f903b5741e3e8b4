"""Hostile feeds and webhook receivers on a real loopback server (issue 15, items 1, 2, 4, 8, 14).

Each test asserts the outcome (one line, the right kind), that memory stayed bounded (tracemalloc peak, a
generous ceiling far below what the attack costs an unguarded client) and never how long anything took.
"""

from __future__ import annotations

import asyncio
import logging
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ipaddress import ip_address

import pytest

from alerts.delivery import DeliveryPolicy, Notifier
from alerts.delivery.channels import WebhookChannel
from consumers.check import check_feed
from consumers.fetch import Fetcher, FetchError
from consumers.politeness import HostGate
from consumers.registry import EngineConfig, FeedConfig, HostPolicy
from consumers.tickers import TickerLinker
from monitor.ground.httpfetch import HopPermit
from monitor.ground.retry import RETRY_AFTER_CEILING_S, parse_retry_after
from monitor.ground.settings import WebhookTarget
from tests.support.alerts_fixtures import make_alert
from tests.support.consumers_fixtures import items, rss
from tests.support.hostile_server import (
    HostileServer,
    encoded,
    gzip_of_zeros,
    hostile_server,
    redirect,
    status,
    streamed,
    trickle,
)

MiB = 1 << 20
CAP = 2 * MiB
ENGINE = EngineConfig(max_body_bytes=CAP, total_timeout_s=3.0, connect_timeout_s=2.0, read_timeout_s=2.0)
FEED = rss(items("ok", 3))


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with hostile_server() as running:
        yield running


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    made = Fetcher(ENGINE, "BearwatchTest/1.0", HostGate(lambda _host: HostPolicy(min_gap_s=0, max_in_flight=8)))
    yield made
    await made.aclose()


async def _fetch_error(fetcher: Fetcher, url: str, headers: dict[str, str] | None = None) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url, headers)
    return caught.value


def _one_line(text: str) -> None:
    assert "\n" not in text and "Traceback" not in text, text


# --- item 1: Retry-After ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("²", None), ("١٢٠", None), ("120", 120.0), (" 7 ", 7.0), ("9" * 5000, RETRY_AFTER_CEILING_S),
     ("-1", None), ("1e9", None), ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CEILING_S),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("", None), (None, None), ("x" * 10_000, None)],
)
def test_retry_after_never_raises_and_is_clamped(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=datetime(2026, 1, 1, tzinfo=UTC)) == expected


async def test_feed_answering_429_with_a_unicode_digit_is_one_rate_limited_line(
    server: HostileServer, fetcher: Fetcher
) -> None:
    url = server.add("/429", status(429, b"slow down", **{"Retry-After": "²"}))
    error = await _fetch_error(fetcher, url)
    assert error.kind == "rate_limited" and error.retry_after_s is None
    _one_line(str(error))


async def test_webhook_500_with_bad_retry_after_is_retried_once_per_backoff_not_in_a_loop(
    server: HostileServer, make_settings, redis_client, unique: str
) -> None:
    url = server.add("/hook", status(500, b"boom", **{"Retry-After": "²"}))
    settings = make_settings(webhooks=[WebhookTarget(name="hook", url=url, timeout_s=2.0)])
    policy = DeliveryPolicy(max_attempts=5, backoff_base_s=30.0, backoff_max_s=60.0, group_wait_s=0.0,
                            lease_s=5.0, poll_interval_s=0.02)
    notifier = Notifier(redis_client, settings, f"hard{unique}", policy=policy)
    try:
        await notifier.enqueue(make_alert())
        assert await notifier.drain_once() == 1  # one attempt, recorded as failed with a backoff
        assert await notifier.drain_once() == 0  # not due again: no hammering
        assert len(server.hits("/hook")) == 1
        attempts, next_ms, reason = await notifier.outbox.tries("hook", notifier.workers[0].buffer[0].id)
        assert attempts == 1 and "HTTP 500" in reason
    finally:
        await notifier.close()


async def test_a_cancelled_delivery_loop_leaves_no_channel_task_behind(
    server: HostileServer, make_settings, redis_client, unique: str
) -> None:
    url = server.add("/hook", status(500, b"boom", **{"Retry-After": "²"}))
    settings = make_settings(webhooks=[WebhookTarget(name="a", url=url), WebhookTarget(name="b", url=url)])
    policy = DeliveryPolicy(backoff_base_s=30.0, group_wait_s=0.0, lease_s=5.0, poll_interval_s=0.02)
    notifier = Notifier(redis_client, settings, f"hard{unique}", policy=policy)
    await notifier.enqueue(make_alert())
    loop_task = asyncio.create_task(notifier.run_forever())
    try:
        for _ in range(3000):  # wait (up to ~60 s) until both channels have made their attempt
            if len(server.hits("/hook")) >= 2:
                break
            await asyncio.sleep(0.02)
        assert len(server.hits("/hook")) == 2, "both channels should have tried once"
        channel_tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("deliver:")]
        assert len(channel_tasks) == 2
    finally:
        loop_task.cancel()
        await asyncio.gather(loop_task, return_exceptions=True)
        await notifier.close()
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() if t.get_name().startswith("deliver:") and not t.done()]
    assert left == [], "restarting the delivery loop must not leave the old channel loops running"


# --- item 2: stacked Content-Encoding --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def double_gzip_bomb() -> bytes:
    return gzip_of_zeros(256 * MiB, layers=2)  # a few KB on the wire


async def test_stacked_gzip_bomb_stops_at_the_cap_with_bounded_memory(
    server: HostileServer, fetcher: Fetcher, double_gzip_bomb: bytes
) -> None:
    url = server.add("/bomb", encoded(double_gzip_bomb, "gzip, gzip"))
    tracemalloc.start()
    try:
        error = await _fetch_error(fetcher, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(double_gzip_bomb) < 64_000
    assert error.kind == "too_large", error
    _one_line(str(error))
    assert peak < 8 * CAP, f"peak {peak / MiB:.0f} MiB for a {CAP / MiB:.0f} MiB cap"


async def test_stacked_gzip_within_the_cap_is_decoded(server: HostileServer, fetcher: Fetcher) -> None:
    import gzip

    url = server.add("/twice", encoded(gzip.compress(gzip.compress(FEED)), "gzip, gzip"))
    assert (await fetcher.fetch(url)).body == FEED


async def test_unknown_or_too_many_encodings_are_refused(server: HostileServer, fetcher: Fetcher) -> None:
    assert (await _fetch_error(fetcher, server.add("/br", encoded(FEED, "br")))).kind == "decoding"
    many = server.add("/many", encoded(FEED, "gzip, gzip, gzip, gzip"))
    assert (await _fetch_error(fetcher, many)).kind == "decoding"


# --- item 4: redirects -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/", "http://2852039166/latest/", "http://0251.0376.0251.0376/",
    "http://[::ffff:169.254.169.254]/", "http://0.0.0.0:1/",
])
async def test_redirect_to_metadata_or_unspecified_addresses_is_refused(
    server: HostileServer, fetcher: Fetcher, target: str
) -> None:
    error = await _fetch_error(fetcher, server.add("/r", redirect(target)))
    # httpx itself refuses to parse some spellings (octal) in a Location header: refused all the same.
    assert error.kind in ("refused_address", "redirects"), error
    assert error.kind == "refused_address" or "invalid URL" in str(error)
    _one_line(str(error))


async def test_strict_mode_refuses_loopback_in_any_spelling(server: HostileServer) -> None:
    strict = Fetcher(ENGINE, "T", HostGate(lambda _h: HostPolicy(min_gap_s=0)), private_addresses="never")
    try:
        direct = await _fetch_error(strict, server.url("/feed"))
        assert direct.kind == "refused_address" and "BEARWATCH_PRIVATE_ADDRESSES" in str(direct)
        for spelling in ("localhost", "2130706433", "0177.0.0.1", "127.1"):
            error = await _fetch_error(strict, f"http://{spelling}:{server.port}/feed")
            assert error.kind == "refused_address", (spelling, error)
    finally:
        await strict.aclose()
    assert server.seen == [], "nothing may reach a refused address"


@pytest.mark.parametrize(("previous_public", "ip", "allowed"), [
    (True, "127.0.0.1", False), (True, "10.1.2.3", False), (True, "192.168.1.1", False), (True, "::1", False),
    (True, "93.184.216.34", True), (False, "127.0.0.1", True), (False, "10.0.0.1", True),
    (False, "169.254.169.254", False), (True, "100.64.0.1", False), (True, "::ffff:127.0.0.1", False),
])
def test_redirect_permit_keeps_public_origins_public(previous_public: bool, ip: str, allowed: bool) -> None:
    permit = HopPermit("configured", first_hop=False, previous_public=previous_public)
    assert (permit.problem(ip_address(ip)) is None) == allowed


async def test_feed_headers_are_not_forwarded_to_another_host(server: HostileServer, fetcher: Fetcher) -> None:
    async with hostile_server("127.0.0.2") as other:
        final = other.add("/feed", status(200, FEED, **{"Content-Type": "application/rss+xml"}))
        server.add("/same", redirect("/hop"))
        server.add("/hop", redirect(final))
        result = await fetcher.fetch(server.url("/same"), {"X-Api-Key": "k-123", "Authorization": "Bearer t"})
        assert result.body == FEED and result.url == final and result.redirected_from == server.url("/same")
        assert server.hits("/hop")[0].headers.get("X-Api-Key") == "k-123", "same host keeps the feed's headers"
        sent = other.hits("/feed")[0].headers
        assert "X-Api-Key" not in sent and "Authorization" not in sent
        assert sent.get("User-Agent") == "BearwatchTest/1.0"


async def test_too_many_redirects_is_one_line(server: HostileServer, fetcher: Fetcher) -> None:
    server.add("/loop", redirect("/loop"))
    error = await _fetch_error(fetcher, server.url("/loop"))
    assert error.kind == "redirects"
    _one_line(str(error))


async def test_feeds_check_shows_the_final_url(server: HostileServer, fetcher: Fetcher) -> None:
    final = server.add("/final.xml", status(200, FEED, **{"Content-Type": "application/rss+xml"}))
    start = server.add("/moved", redirect("/final.xml", 301))
    feed = FeedConfig(name="c", url=start, source="S")
    report = await check_feed(feed, fetcher, ENGINE, TickerLinker())
    assert report.error is None and report.url.startswith(final) and "redirected from" in report.url


# --- item 6: secrets in errors ---------------------------------------------------------------------------------


async def test_an_api_key_in_the_feed_url_never_shows_in_the_error(
    server: HostileServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARD_NEWS_KEY", "sk-live-0123456789")
    server.add("/api", status(401, b"bad key"))
    feed = FeedConfig(name="api", url=server.url("/api") + "?apiKey=${HARD_NEWS_KEY}&q=x", source="S")
    report = await check_feed(feed, fetcher, ENGINE, TickerLinker())
    assert report.error is not None and "401" in report.error
    assert "sk-live-0123456789" not in report.error + report.url
    assert server.seen[0].path == "/api"


# --- item 8: webhook answers -----------------------------------------------------------------------------------


def _channel(url: str, timeout_s: float = 1.5) -> WebhookChannel:
    from monitor.ground.httpfetch import guarded_client

    return WebhookChannel(WebhookTarget(name="hook", url=url, timeout_s=timeout_s), guarded_client())


async def test_a_300_mb_error_body_costs_at_most_the_answer_cap(server: HostileServer) -> None:
    channel = _channel(server.add("/big", streamed(500, 300 * MiB)))
    tracemalloc.start()
    try:
        outcome = await channel.deliver([make_alert()], "k", 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await channel._client.aclose()
    assert not outcome.ok and outcome.retry and outcome.reason.startswith("HTTP 500")
    assert len(outcome.reason) < 400
    assert peak < 16 * MiB, f"peak {peak / MiB:.0f} MiB"


async def test_a_trickling_receiver_hits_the_total_deadline(server: HostileServer) -> None:
    channel = _channel(server.add("/slow", trickle(200, every_s=0.2)), timeout_s=1.0)
    try:
        outcome = await channel.deliver([make_alert()], "k", 1)
    finally:
        await channel._client.aclose()
    assert not outcome.ok and outcome.retry and "within 1 s" in outcome.reason


async def test_a_redirecting_webhook_is_dead_lettered_with_a_reason(server: HostileServer) -> None:
    channel = _channel(server.add("/moved", redirect("https://hooks.example.com/services/T1/B2/abcdefghijklmnop1234")))
    try:
        outcome = await channel.deliver([make_alert()], "k", 1)
    finally:
        await channel._client.aclose()
    assert not outcome.ok and not outcome.retry
    assert "302" in outcome.reason and "redirect" in outcome.reason and "abcdefghijklmnop1234" not in outcome.reason


async def test_the_poller_logs_and_stores_the_error_without_the_key(
    server: HostileServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from consumers.poller import FeedPoller
    from monitor.ground.redact import install_log_redaction

    install_log_redaction()  # what load_settings does in every Bearwatch process
    monkeypatch.setenv("HARD_POLL_KEY", "pk-live-9876543210")
    server.add("/api", status(401, b"bad key"))
    feed = FeedConfig(name="api", url=server.url("/api") + "?token=${HARD_POLL_KEY}", source="S",
                      headers={"X-Api-Key": "${HARD_POLL_KEY}"})
    poller = FeedPoller(engine=EngineConfig(conditional_get=False), fetcher=fetcher, validators=None,  # type: ignore[arg-type]
                        dedup=None, sink=None, linker=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        outcome = await poller.poll(feed)
    assert outcome.status == "error" and outcome.error_kind == "http_4xx"
    assert "pk-live-9876543210" not in (outcome.error or "") and "pk-live-9876543210" not in caplog.text
    assert server.seen[0].headers.get("X-Api-Key") == "pk-live-9876543210"  # it was sent, to its own host
