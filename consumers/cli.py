"""``bearwatch ingest``, ``bearwatch feeds check`` and ``bearwatch feeds list``.

``feeds check`` is the tool for adding a feed: it fetches a URL once through the same fetch, parse and normalise
path as the service and shows what would be produced, without Kafka or Redis. Heavy imports stay inside the
commands so ``bearwatch --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

if TYPE_CHECKING:
    from consumers.registry import Registry
    from consumers.tickers import TickerLinker, Watchlist
    from monitor.ground.settings import Settings


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    feeds = typer.Typer(
        help="Inspect news feeds: try a URL, list the health of the registry's feeds.\n\n"
        "Example: bearwatch feeds check https://www.federalreserve.gov/feeds/press_all.xml",
        no_args_is_help=True,
    )
    feeds.command("check")(feeds_check)
    feeds.command("list")(feeds_list)
    app.add_typer(feeds, name="feeds")
    tickers = typer.Typer(
        help="Company linking: refresh the SEC tickers table, try the linker on a headline.\n\n"
        "Example: bearwatch tickers link \"Silicon Valley Bank shares plunge\"",
        no_args_is_help=True,
    )
    tickers.command("update")(tickers_update)
    tickers.command("link")(tickers_link)
    app.add_typer(tickers, name="tickers")


def ingest(config: ConfigOption = None) -> None:
    """Run the news consumers alone: poll every feed of the registry into the raw Kafka topic.

    Needs a broker and Redis (BEARWATCH_KAFKA_URL, BEARWATCH_REDIS_URL); `bearwatch up` starts embedded ones.
    Serves /metrics and /health on BEARWATCH_INGEST_PORT. Stop with Ctrl-C.

    Example: BEARWATCH_KAFKA_URL=localhost:9092 BEARWATCH_REDIS_URL=redis://localhost:6379/0 bearwatch ingest
    """
    settings = settings_or_exit(config)
    if not settings.kafka_url or not settings.redis_url:
        missing = " and ".join(
            name for name, value in (("BEARWATCH_KAFKA_URL", settings.kafka_url),
                                     ("BEARWATCH_REDIS_URL", settings.redis_url)) if not value
        )
        fail(f"{missing} not set: run `bearwatch up` (embedded broker and Redis, consumers included) "
             "or set both BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL")
    registry = _registry_or_exit(settings)
    _linker_or_exit(settings)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would drown the rest
    asyncio.run(_run_until_signal(settings, registry))


async def _run_until_signal(settings: Settings, registry: Registry) -> None:
    from consumers.service import IngestService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await IngestService(settings, registry).run(stop)


def feeds_check(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs to fetch once, or saved feed files to read.",
                                              show_default=False)],
    kind: Annotated[str, typer.Option(help="auto, rss, atom, json-api or sec-edgar.")] = "auto",
    limit: Annotated[int, typer.Option(min=1, help="Rows to show per feed.")] = 20,
    config: ConfigOption = None,
) -> None:
    """Fetch feeds once and show the stories they would produce (no Kafka or Redis needed).

    Example: bearwatch feeds check https://feeds.bbci.co.uk/news/business/rss.xml --limit 5

    A local file is read instead of fetched: bearwatch feeds check ./saved-feed.xml
    """
    from pathlib import Path

    from consumers.check import file_feed
    from consumers.registry import FeedConfig

    settings = settings_or_exit(config)
    if kind not in ("auto", "rss", "atom", "json-api", "sec-edgar"):
        fail(f"--kind must be auto, rss, atom, json-api or sec-edgar (got {kind!r})")
    for url in urls:
        if not url.startswith(("http://", "https://")) and not Path(url.removeprefix("file://")).is_file():
            fail(f"{url!r} is neither an http(s) URL nor an existing file: give a feed URL or a saved feed's path")
    try:
        feeds = [file_feed(Path(url.removeprefix("file://")), kind, f"check-{n}")
                 if not url.startswith(("http://", "https://")) and Path(url.removeprefix("file://")).is_file()
                 else FeedConfig(name=f"check-{n}", url=url, source=_host(url), kind=kind)  # type: ignore[arg-type]
                 for n, url in enumerate(urls, 1)]
    except ValueError as exc:
        fail(f"not a feed URL or an existing file: {exc}")
    failures = asyncio.run(_check(settings, feeds, limit))
    if failures:
        raise typer.Exit(1)


async def _check(settings: Settings, feeds: list, limit: int) -> int:
    from consumers.check import check_feed, check_file, path_of
    from consumers.fetch import Fetcher
    from consumers.politeness import HostGate
    from consumers.registry import EngineConfig, HostPolicy
    engine = EngineConfig()
    linker = _linker_or_exit(settings)
    fetcher = Fetcher(engine, settings.user_agent, HostGate(lambda _host: HostPolicy()), settings.private_addresses)
    failures = 0
    try:
        for feed in feeds:
            path = path_of(feed)
            if path is not None:
                report = await check_file(path, feed, engine, linker)
            else:
                report = await check_feed(feed, fetcher, engine, linker)
            report.print(console, limit)
            failures += report.error is not None
    finally:
        await fetcher.aclose()
    return failures


def feeds_list(config: ConfigOption = None) -> None:
    """Show every feed of the registry with its health as recorded in Redis by the running consumers.

    Example: BEARWATCH_REDIS_URL=redis://localhost:6379/0 bearwatch feeds list
    """
    settings = settings_or_exit(config)
    if not settings.redis_url:
        fail("BEARWATCH_REDIS_URL is not set: feed health lives in Redis; run `bearwatch up` or set the URL")
    registry = _registry_or_exit(settings)
    asyncio.run(_list(settings, registry))


async def _list(settings: Settings, registry: Registry) -> None:
    from redis.exceptions import RedisError
    from rich.table import Table

    from consumers.health import HealthStore
    from monitor.ground.redact import redact_text
    from monitor.ground.redis import COMMAND, redis_client

    client = redis_client(settings.redis_url or "", COMMAND)
    try:
        records = {h.feed: h for h in await HealthStore(client, settings.redis_namespace).load_all(
            [feed.name for feed in registry.feeds])}
    except (RedisError, OSError) as exc:
        fail(redact_text(f"Redis at {settings.redis_url} is unreachable ({exc}): start it or fix BEARWATCH_REDIS_URL"))
    finally:
        await client.aclose()
    table = Table(title=f"{len(registry.feeds)} feeds", show_lines=False)
    for column in ("feed", "source", "kind", "every", "status", "failures", "last success", "last error"):
        table.add_column(column, overflow="fold")
    colours = {"ok": "green", "failing": "yellow", "unhealthy": "red"}
    for feed in registry.feeds:
        health = records[feed.name]
        status = health.status
        if not feed.enabled:
            status = "disabled"
        elif feed.missing_env():
            status = "skipped: set " + ", ".join(feed.missing_env())
        colour = colours.get(status, "dim")
        table.add_row(
            feed.name, feed.source, feed.kind, f"{feed.interval_s:g} s", f"[{colour}]{status}[/]",
            str(health.consecutive_failures), _ago(health.last_success),
            redact_text(f"{health.last_error_kind}: {health.last_error}") if health.last_error_kind else "",
        )
    console.print(table)


def _registry_or_exit(settings: Settings) -> Registry:
    from consumers.registry import RegistryError, load_registry

    try:
        return load_registry(settings)
    except RegistryError as exc:
        fail(str(exc))


def tickers_update(
    url: Annotated[str, typer.Option(help="where to download the table from")] = "https://www.sec.gov/files/company_tickers.json",
    config: ConfigOption = None,
) -> None:
    """Download the SEC's current company tickers table into var_dir/reference/sec_company_tickers/.

    Keeps company_tickers.json (used for linking from then on) and a dated copy company_tickers_<today>.json
    (a point-in-time snapshot for backtests, see BEARWATCH_TICKERS_ASOF). Needs internet; offline it says so and
    the current table stays in use.

    Example: bearwatch tickers update
    """
    from consumers.sec_update import UpdateError, update_table

    settings = settings_or_exit(config)
    try:
        result = asyncio.run(update_table(settings, url))
    except UpdateError as exc:
        fail(str(exc))
    console.print(f"{result.rows} tickers of {result.companies} companies -> {result.path} "
                  f"(snapshot {result.snapshot.name})")


def tickers_link(
    title: Annotated[str, typer.Argument(help="a headline")],
    summary: Annotated[str, typer.Option(help="the story's summary, if any")] = "",
    config: ConfigOption = None,
) -> None:
    """Show what the consumers would attach to a story: tickers, entity keys and language.

    Uses the same linker as ingest and backtests (watchlist, brand names, SEC table; BEARWATCH_TICKERS_ASOF picks
    a dated table).

    Example: BEARWATCH_TICKERS_ASOF=2023-03-20 bearwatch tickers link "SVB Financial shares halted"
    """
    from consumers.entities import story_entities
    from consumers.language import detect_language
    from consumers.linking import table_path

    settings = settings_or_exit(config)
    linker = _linker_or_exit(settings)
    links = linker.links(title, summary)
    console.print(f"table:    {table_path(settings) or 'none (watchlist only)'}", highlight=False)
    console.print(f"tickers:  {', '.join(links.tickers) or '-'}", highlight=False)
    console.print(f"entities: {', '.join(story_entities(title, links)) or '-'}", highlight=False)
    console.print(f"language: {detect_language(title, summary) or 'undetermined'}", highlight=False)


def _linker_or_exit(settings: Settings) -> TickerLinker:
    from consumers.linking import build_linker
    from consumers.sec_table import SecTableError
    from consumers.tickers import WatchlistError

    try:
        return build_linker(settings)
    except (WatchlistError, SecTableError) as exc:
        fail(str(exc))


def _watchlist_or_exit(settings: Settings) -> Watchlist:
    from consumers.tickers import Watchlist, WatchlistError

    try:
        return Watchlist.load(settings.watchlist_file)
    except WatchlistError as exc:
        fail(f"{exc}: fix the file or unset BEARWATCH_WATCHLIST_FILE to use the shipped one")


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def _ago(timestamp: float) -> str:
    if not timestamp:
        return "never"
    seconds = max(0, int(time.time() - timestamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
