"""``bearwatch backtest FILE``: the in-process backtest (no Kafka), with alerts, index and an HTML report.

Reading options are shared with ``bearwatch replay`` (:mod:`consumers.replay.cli`), so a file reads the same way
in both commands.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from datetime import time as dt_time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consumers.replay.cli import (
    DateFormatOption,
    DayTimeOption,
    FileArg,
    FormatOption,
    MapOption,
    OutOption,
    QuietOption,
    RulesOption,
    RunIdOption,
    SourceOption,
    TzOption,
    read_options,
)
from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

if TYPE_CHECKING:
    from consumers.replay.eventtime import EventTimeReader
    from monitor.ground.settings import Settings
    from monitor.history.runner import BacktestOptions


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)


def _moment(text: str | None, times: EventTimeReader, flag: str) -> datetime | None:
    """``--from``/``--to``: a day alone means its midnight (UTC), a time without zone is in ``--tz``."""
    from consumers.replay.eventtime import BadTime, EventTimeReader

    if text is None:
        return None
    try:
        return EventTimeReader(day_time=dt_time(0, 0), tz=times.tz).read(text)[0]
    except BadTime as exc:
        fail(f"{flag}: {exc}")


def backtest(
    file: FileArg,
    rules: RulesOption = None,
    since: Annotated[str | None, typer.Option("--from", help="Only stories at or after this time "
                                              "(a day alone = its midnight UTC).")] = None,
    until: Annotated[str | None, typer.Option("--to", help="Only stories before this time.")] = None,
    out: OutOption = None,
    events: Annotated[Path | None, typer.Option("--events", help="CSV of known events for the report card: "
                                                "date (or datetime), optional end, scope, key, label.")] = None,
    run_id: RunIdOption = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Score cache file "
                                               "(default var/cache/scores.sqlite).")] = None,
    map_text: MapOption = None,
    day_time: DayTimeOption = "12:00",
    tz: TzOption = "UTC",
    date_format: DateFormatOption = None,
    source: SourceOption = None,
    fmt: FormatOption = None,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Backtest rules on a historical news file: same reading, scoring, windows and detector as the live
    pipeline, in process and without Kafka.

    Writes alerts.json/.csv, index.parquet/.csv (sentiment per minute) and report.html to --out (default
    var/backtests/<run id>/). Scores are cached on disk, so a second backtest with other rules takes seconds.
    Uses BEARWATCH_REDIS_URL or starts an embedded Redis for the run.

    Example: bearwatch backtest ../shared/data/headlines/2022-05-02_to_2022-05-20_TerraLuna.csv --rules my.toml
    """
    from consumers.replay.naming import RunIdError, RunNames, timestamp_run_id
    from monitor.history.runner import BacktestOptions

    settings = settings_or_exit(config, attach_running=False)  # its own embedded stack, never a running `up`'s
    if not file.is_file():
        fail(f"{file} does not exist or is not a file")
    if events is not None and not events.is_file():
        fail(f"--events {events} does not exist")
    options = read_options(map_text, day_time, tz, date_format, source, fmt)
    start_at, end_at = _moment(since, options.times, "--from"), _moment(until, options.times, "--to")
    if start_at is not None and end_at is not None and start_at >= end_at:
        fail(f"--from {start_at:%Y-%m-%d %H:%M} is not before --to {end_at:%Y-%m-%d %H:%M}: nothing to backtest")
    try:
        names = RunNames(run_id or timestamp_run_id(file), settings.redis_namespace)
    except RunIdError as exc:
        fail(str(exc))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    backtest_options = BacktestOptions(
        path=file, run_id=names.run_id, rules_file=rules, out_dir=out or settings.var_dir / "backtests" / names.run_id,
        events_file=events, since=start_at, until=end_at, read=options, cache_path=cache,
    )
    _run(settings, backtest_options, quiet)


def _run(settings: Settings, options: BacktestOptions, quiet: bool) -> None:
    from alerts.rules import RuleError
    from consumers.replay.infra import infrastructure
    from consumers.replay.progress import Bars
    from consumers.replay.readers import ReadError
    from monitor.ground.stack import StackError
    from monitor.history.events import EventsError, load_events, score_events
    from monitor.history.outputs import write_all
    from monitor.history.runner import cached, run_backtest
    from monitor.stages.model.modeldir import ModelDirError

    try:
        events = load_events(options.events_file, options.read.times) if options.events_file else None
        if cached(settings, options):  # scored stories in the run cache: no Redis, no model needed
            with Bars(console, enabled=not quiet) as bars:
                run = asyncio.run(run_backtest(settings, options, bars))
        else:
            with infrastructure(settings, (options.out_dir or settings.var_dir) / "stack", kafka=False) as ready:
                with Bars(console, enabled=not quiet) as bars:
                    run = asyncio.run(run_backtest(ready, options, bars))
        scores = (score_events(run.alerts, events, first=run.source.first_event, last=run.source.last_event,
                               rules=run.rules, closeness=run.closeness)  # type: ignore[arg-type]
                  if events is not None else None)
        paths = write_all(run, scores)
    except (ReadError, RuleError, EventsError, StackError, ModelDirError) as exc:
        fail(str(exc), code=1)
    if run.source.stories == 0:
        fail(f"{options.path.name}: no stories to backtest ({run.source.rows:,} rows read, "
             f"{run.source.rejected_total:,} rejected: see {paths['rejected']}; check --from/--to and --map)", code=1)
    fired = [a for a in run.alerts if a.status == "firing" and a.annotations.get("repeat") != "true"]
    console.print(
        f"backtest [bold]{run.run_id}[/]: {run.source.rows:,} rows → {run.source.stories:,} stories "
        f"({run.source.rejected_total:,} rows rejected), {len(fired)} alerts fired ({len(run.alerts)} messages), "
        f"{run.seconds:.1f} s, {run.rate:,.0f} stories/s, score cache {run.cache_hits:,} hits / "
        f"{run.cache_misses:,} misses"
    )
    for alert in fired[:10]:
        console.print(f"  {alert.starts_at:%Y-%m-%d %H:%M} {alert.severity:<8} {alert.rule} {alert.scope}:{alert.key} "
                      f"- {alert.annotations.get('summary', '')}", highlight=False)
    if len(fired) > 10:
        console.print(f"  ... {len(fired) - 10} more in {paths['alerts_csv']}")
    if not fired:
        for name, near in run.closeness.items():
            console.print(f"  {name}: nothing fired; {closeness_text(near, _rule(run.rules, name))}", highlight=False)
    if scores is not None:
        _print_card(scores)
    console.print(f"report: {paths['report']}\nalerts: {paths['alerts_json']}\nindex:  {paths['index_parquet']}")


def _rule(rules: list, name: str) -> object:
    return next((rule for rule in rules if rule.name == name), None)


def closeness_text(near: object, rule: object) -> str:
    """How close a rule came to firing, in words (``monitor.history.engine.Closeness``)."""
    from monitor.history.report import closeness_words

    return closeness_words(near, rule)  # type: ignore[arg-type]


def _print_card(scores: object) -> None:
    from rich.table import Table

    from monitor.history.report import duration_text

    card = Table(title="report card")
    for column in ("event", "key", "label", "detected", "lead (+) / lag (-)", "first alert, or how close"):
        card.add_column(column)
    for o in scores.outcomes:  # type: ignore[attr-defined]
        first = min(o.alerts, key=lambda a: a.starts_at) if o.alerts else None
        span = f"{o.event.time:%Y-%m-%d %H:%M}" + (f" .. {o.event.end:%m-%d %H:%M}" if o.event.until else "")
        if first:
            what = f"{first.starts_at:%m-%d %H:%M} {first.rule} {first.scope}:{first.key}"
        elif o.closest:
            surprise, needed, rule, scope, key, when = o.closest
            what = f"closest: surprise {surprise:.2f} of {needed:g}, {rule} {scope}:{key} {when:%m-%d %H:%M}"
        else:
            what = "no matching key had any surprise"
        card.add_row(span, o.event.describe_key(), o.event.label, "yes" if o.detected else "no",
                     duration_text(o.lead), what)
    console.print(card)
    rate = scores.false_alarms_per_week  # type: ignore[attr-defined]
    console.print(f"events: recall {scores.recall}, precision {scores.precision}; false alarms outside events: "  # type: ignore[attr-defined]
                  f"{len(scores.false_alarms)} in {scores.calm_weeks:.1f} weeks"  # type: ignore[attr-defined]
                  + (f" ({rate:.2f}/week)" if rate is not None else ""), highlight=False)

