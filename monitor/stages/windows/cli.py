"""``bearwatch windows show`` and ``bearwatch top``: read the event-time windows from the terminal.

Both read ``settings.redis_url`` and the namespace; windows end at the watermark unless ``--at`` is given.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit
from monitor.ground.redact import redact_text

if TYPE_CHECKING:
    from monitor.ground.settings import Settings
    from monitor.stages.windows import WindowStats

SCOPES = ("market", "topic", "ticker", "source", "entity")
ScopeOption = Annotated[str, typer.Option("--scope", "-s", help="market, topic, ticker, source or entity "
                                          "(organisation names, e.g. --key 'silicon valley bank').")]
SpanOption = Annotated[str, typer.Option("--span", help="Window length: 5m, 15m, 1h, 24h, 7d ...")]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Window end, RFC 3339 (default: the watermark).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


MAX_SPAN = timedelta(days=3660)  # ten years: longer spans are typos, and huge ones overflow datetime arithmetic
OLDEST_AT = datetime(1970, 1, 1, tzinfo=UTC)


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:39] + "…")


def _check(scope: str, at: str | None, span: str = "1h", min_volume: float = 0.0) -> datetime | None:
    """Validate the options before any Redis call: a bad one ends in one line naming it, never a traceback."""
    from monitor.stages.windows.spans import SpanError, parse_span

    if scope not in SCOPES:
        fail(f"--scope {_shown(scope)} is unknown: use one of {', '.join(SCOPES)}")
    try:
        length = parse_span(span)
    except (ValueError, OverflowError) as exc:
        fail(f"--span {_shown(span)}: {exc}" if isinstance(exc, SpanError)
             else f"--span {_shown(span)} is out of range: use at most {MAX_SPAN.days}d")
    if length > MAX_SPAN:
        fail(f"--span {_shown(span)} is longer than {MAX_SPAN.days} days: use a shorter span, e.g. 7d")
    if not math.isfinite(min_volume) or min_volume < 0:
        fail(f"--min-volume {min_volume!r} must be a finite number ≥ 0, e.g. 3")
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        fail(f"--at {_shown(at)} is not an RFC 3339 time, e.g. 2024-05-01T12:00:00Z")
    if moment.tzinfo is None:
        fail(f"--at {_shown(at)} needs a timezone, e.g. 2024-05-01T12:00:00Z")
    try:
        in_range = OLDEST_AT + MAX_SPAN <= moment <= datetime(9000, 1, 1, tzinfo=UTC)
    except OverflowError:
        in_range = False
    if not in_range:
        fail(f"--at {_shown(at)} is out of range: give a time between 1980 and 9000, e.g. 2024-05-01T12:00:00Z")
    return moment


async def _with_store(settings: Settings, job: Any) -> Any:
    import redis.asyncio as aioredis

    from monitor.ground.redis import COMMAND, redis_client
    from monitor.stages.windows import WindowStore

    if not settings.redis_url:
        fail(
            "no Redis configured: set BEARWATCH_REDIS_URL (e.g. redis://localhost:6379/0) "
            "or start `bearwatch up`"
        )
    client = redis_client(settings.redis_url, COMMAND)
    try:
        store = WindowStore(
            client, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s
        )
        return await job(store)
    except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
        fail(redact_text(f"Redis at {settings.redis_url} is unreachable ({exc}): is it running?"))
    except (ValueError, OverflowError) as exc:
        fail(redact_text(str(exc)) or f"{type(exc).__name__}: a value is out of range")
    finally:
        await client.aclose()


def _stats_table(title: str, rows: list[tuple[str, WindowStats]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("key", "stories", "neg", "neu", "pos", "neg share", "mean score", "novelty vol", "late"):
        table.add_column(column, justify="left" if column == "key" else "right")
    for key, s in rows:
        table.add_row(
            key,
            str(s.count),
            str(s.negative),
            str(s.neutral),
            str(s.positive),
            f"{s.negative_share:.0%}",
            f"{s.mean_score:+.2f}",
            f"{s.novelty_volume:.1f}",
            str(s.late),
        )
    console.print(table)


def _samples_table(stats: WindowStats) -> None:
    from rich.table import Table

    if not stats.samples:
        return
    table = Table(title="most negative headlines")
    table.add_column("score", justify="right")
    table.add_column("headline")
    table.add_column("link", overflow="fold")
    for sample in stats.samples:
        table.add_row(f"{sample.score:+.2f}", sample.title, sample.url)
    console.print(table)


def show(
    key: Annotated[
        str, typer.Option("--key", "-k", help="Ticker, topic label, source, or 'all' for market.")
    ],
    scope: ScopeOption = "ticker",
    span: SpanOption = "1h",
    at: AtOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show one scope key's sentiment over a rolling event-time window.

    Example: bearwatch windows show --scope ticker --key AAPL --span 1h
    """
    moment = _check(scope, at, span)
    settings = settings_or_exit(config)
    stats: WindowStats = asyncio.run(_with_store(settings, lambda st: st.window(scope, key, span, moment)))
    if as_json:
        console.print_json(json.dumps(stats.to_dict()))
        return
    _stats_table(f"{scope} {key}: {span} ending {stats.at:%Y-%m-%d %H:%M} UTC", [(key, stats)])
    _samples_table(stats)


def top(
    scope: ScopeOption = "ticker",
    span: SpanOption = "15m",
    by: Annotated[
        str, typer.Option("--by", help="Metric to rank by; prefix '-' for ascending.")
    ] = "negative_share",
    min_volume: Annotated[float, typer.Option("--min-volume", help="Minimum novelty-weighted volume.")] = 3.0,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500)] = 10,
    at: AtOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Rank the keys of a scope by negative share (or another metric) over a rolling window.

    Example: bearwatch top --scope topic --span 15m
    """
    moment = _check(scope, at, span, min_volume)
    settings = settings_or_exit(config)
    rows = asyncio.run(
        _with_store(
            settings, lambda st: st.top(scope, span, by=by, min_volume=min_volume, limit=limit, at=moment)
        )
    )
    if as_json:
        console.print_json(json.dumps([stats.to_dict() for _, stats in rows]))
        return
    if not rows:
        console.print(f"no {scope} key has a volume of at least {min_volume:g} in the last {span}")
        return
    _stats_table(f"top {scope} by {by}, {span} ending {rows[0][1].at:%Y-%m-%d %H:%M} UTC", rows)


def register(app: typer.Typer) -> None:
    """Add ``windows show`` and ``top`` to the ``bearwatch`` command line."""
    windows_app = typer.Typer(help="Event-time sentiment windows in Redis.", no_args_is_help=True)
    windows_app.command("show")(show)
    app.add_typer(windows_app, name="windows")
    app.command("top")(top)
