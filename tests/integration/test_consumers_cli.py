"""The consumers' commands, run through typer against a real feed server and the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import typer
from typer.testing import CliRunner

from consumers.cli import register
from consumers.health import FeedHealth, HealthStore, now
from monitor.ground.cli_support import console
from monitor.ground.stack import EmbeddedStack
from tests.support.consumers_fixtures import FeedServer, feed_server_in_thread, rss

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)
    return application


@pytest.fixture
def wide_console() -> Iterator[None]:
    width = console.width
    console.width = 250
    yield
    console.width = width


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server_in_thread() as running:
        yield running


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BEARWATCH_KAFKA_URL", "BEARWATCH_REDIS_URL", "BEARWATCH_FEEDS_FILE", "BEARWATCH_REDIS_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)


def test_feeds_check_prints_the_stories_a_feed_would_produce(
    app: typer.Typer, server: FeedServer, wide_console: None, clean_env: None, shared_data: Path
) -> None:
    reuters = server.add("/business.xml", (shared_data / "feeds/realworld/reuters/reuters_businessNews_2019-01-19.xml")
                         .read_bytes())
    page = server.add("/page", b"<html><body>nope</body></html>", content_type="text/html")
    result = runner.invoke(app, ["feeds", "check", reuters, page, "--limit", "3"])
    assert result.exit_code == 1, result.output  # one of the two URLs is not a feed
    assert "Supermarket retailer Casino to sell six stores to rival Leclerc" in result.output
    assert "20 stories from 20 entries; showing the first 3" in result.output
    assert "not_a_feed: got an HTML page" in result.output


def test_feeds_check_flags_undated_entries(app: typer.Typer, server: FeedServer, wide_console: None) -> None:
    body = rss([{"title": "Stocks rally as $NVDA jumps", "link": "https://x.example/1"}])
    result = runner.invoke(app, ["feeds", "check", server.add("/undated.xml", body)])
    assert result.exit_code == 0, result.output
    assert "NVDA" in result.output and "no_date" in result.output


def test_ingest_without_broker_and_redis_urls_says_what_to_do(app: typer.Typer, clean_env: None) -> None:
    result = runner.invoke(app, ["ingest"])
    assert result.exit_code == 2
    assert "BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL not set" in result.output
    assert "bearwatch up" in result.output


def test_feeds_list_shows_health_from_redis(
    app: typer.Typer, stack: EmbeddedStack, unique: str, tmp_path: Path, wide_console: None,
    monkeypatch: pytest.MonkeyPatch, clean_env: None,
) -> None:
    registry = tmp_path / "feeds.toml"
    registry.write_text(
        "[[feed]]\nname = 'alpha'\nsource = 'Alpha'\nurl = 'https://a.example/rss'\n"
        "[[feed]]\nname = 'beta'\nsource = 'Beta'\nurl = 'https://b.example/rss'\n"
        "[[feed]]\nname = 'gamma'\nsource = 'Gamma'\nurl = 'https://c.example/?k=${BW_UNSET_KEY}'\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("BW_UNSET_KEY", raising=False)

    async def record() -> None:
        client = aioredis.from_url(stack.redis_url)
        store = HealthStore(client, f"test{unique}")
        await store.record(FeedHealth("alpha", status="ok", last_success=now() - 120))
        await store.record(FeedHealth("beta", status="unhealthy", consecutive_failures=7, last_error_kind="http_5xx",
                                      last_error="HTTP 503"))
        await client.aclose()

    asyncio.run(record())
    monkeypatch.setenv("BEARWATCH_REDIS_URL", stack.redis_url)
    monkeypatch.setenv("BEARWATCH_REDIS_NAMESPACE", f"test{unique}")
    monkeypatch.setenv("BEARWATCH_FEEDS_FILE", str(registry))
    result = runner.invoke(app, ["feeds", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "ok" in lines["alpha"] and "2m ago" in lines["alpha"]
    assert "unhealthy" in lines["beta"] and "http_5xx: HTTP 503" in lines["beta"] and " 7 " in lines["beta"]
    assert "skipped: set BW_UNSET_KEY" in lines["gamma"]


def test_every_command_help_has_an_example(app: typer.Typer) -> None:
    for command in (["ingest"], ["feeds"], ["feeds", "check"], ["feeds", "list"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output, command


def test_broken_watchlist_is_one_clear_error(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    broken = tmp_path / "watchlist.toml"
    broken.write_text("[[company]]\nname = 'No ticker Inc'\n", encoding="utf-8")
    monkeypatch.setenv("BEARWATCH_WATCHLIST_FILE", str(broken))
    result = runner.invoke(app, ["feeds", "check", "http://127.0.0.1:9/feed.xml"])
    assert result.exit_code == 2 and "watchlist" in result.output and "ticker" in result.output
