"""``bearwatch replay FILE`` and ``bearwatch backtest FILE``: one file of history, two ways to run it.

``replay`` sends the file through Kafka and a real worker, in event time, into its own run; ``backtest`` runs the
same reading, scoring, windows and detector in process, without Kafka, and writes a report. Both read a file the
same way and build the same :class:`monitor.history.options.RunOptions`, so every flag they share is declared once
below (flag, help text and default); typer reads a command's flags from its signature, so each command names the
shared ones in its parameter list and adds its own (``--speed``; ``--from``/``--to``/``--events``/``--cache``).
``bearwatch rules calibrate`` reads files through :func:`read_options` too.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from datetime import time as dt_time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

if TYPE_CHECKING:
    from consumers.replay.eventtime import EventTimeReader
    from consumers.replay.readers import ReadOptions
    from monitor.ground.settings import Settings
    from monitor.history.backtest_run import BacktestRun
    from monitor.history.options import RunOptions

# The flags both commands share, declared once.
FileArg = Annotated[Path, typer.Argument(help="CSV, TSV, JSONL, JSON, Parquet or saved RSS/Atom file.",
                                         show_default=False)]
RunIdOption = Annotated[str | None, typer.Option("--run-id", help="Run id: names the Redis namespace and topics.")]
RulesOption = Annotated[Path | None, typer.Option("--rules", help="Rules TOML, on top of the shipped rules.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Output folder.")]
MapOption = Annotated[str | None, typer.Option(
    "--map", help="Columns, e.g. time=published,title=headline,ticker= (empty = none); default: auto-detected.")]
DayTimeOption = Annotated[str, typer.Option("--day-time", help="Time of day (UTC) given to day-only dates.")]
TzOption = Annotated[str, typer.Option("--tz", help="Time zone of times written without one.")]
DateFormatOption = Annotated[str | None, typer.Option("--date-format", help="strptime format of the time column.")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Source name for rows without one "
                                                  "(default: the file name).")]
FormatOption = Annotated[str | None, typer.Option("--format", help="csv, tsv, jsonl, json, parquet or feed "
                                                  "(default: from the extension).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
DAY_TIME = "12:00"  # default of --day-time
TZ = "UTC"  # default of --tz

# The flags of one command only.
SpeedOption = Annotated[float | None, typer.Option(
    "--speed", help="Event seconds per wall second (60 = one hour per minute); default: as fast as possible.",
    min=0.000001)]
FromOption = Annotated[str | None, typer.Option("--from", help="Only stories at or after this time "
                                                "(a day alone = its midnight UTC).")]
ToOption = Annotated[str | None, typer.Option("--to", help="Only stories before this time.")]
EventsOption = Annotated[Path | None, typer.Option("--events", help="CSV of known events for the report card: "
                                                   "date (or datetime), optional end, scope, key, label.")]
CacheOption = Annotated[Path | None, typer.Option("--cache", help="Score cache file "
                                                  "(default var/cache/scores.sqlite).")]


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.command("backtest")(backtest)


def read_options(map_text: str | None, day_time: str, tz: str, date_format: str | None, source: str | None,
                 fmt: str | None) -> ReadOptions:
    """The :class:`ReadOptions` of the shared flags, or a clean exit naming the bad flag."""
    from consumers.replay.columns import MappingError, parse_map_option
    from consumers.replay.eventtime import EventTimeReader, parse_day_time, parse_zone
    from consumers.replay.readers import FORMATS, ReadOptions

    try:
        explicit = parse_map_option(map_text)
        times = EventTimeReader(day_time=parse_day_time(day_time), tz=parse_zone(tz), date_format=date_format)
    except (MappingError, ValueError) as exc:
        fail(str(exc))
    if fmt is not None and fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    return ReadOptions(explicit=explicit, times=times, default_source=source, format=fmt)


def _start(file: Path, config: Path | None) -> Settings:
    """Settings for a run of ``file``: its own embedded stack, never a running ``up``'s; warnings only."""
    settings = settings_or_exit(config, attach_running=False)
    if not file.is_file():
        fail(f"{file} does not exist or is not a file")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings


def _run_id(settings: Settings, run_id: str) -> str:
    """``run_id`` if it can name the run's namespace and topics, or a clean exit saying why not."""
    from monitor.history.run_names import RunIdError, RunNames

    try:
        return RunNames(run_id, settings.redis_namespace).run_id
    except RunIdError as exc:
        fail(str(exc))


def replay(
    file: FileArg,
    run_id: RunIdOption = None,
    speed: SpeedOption = None,
    rules: RulesOption = None,
    out: OutOption = None,
    map_text: MapOption = None,
    day_time: DayTimeOption = DAY_TIME,
    tz: TzOption = TZ,
    date_format: DateFormatOption = None,
    source: SourceOption = None,
    fmt: FormatOption = None,
    quiet: QuietOption = False,
    config: ConfigOption = None,
) -> None:
    """Replay a historical news file through Kafka and a real worker, in event time, into its own run.

    Uses BEARWATCH_KAFKA_URL / BEARWATCH_REDIS_URL, or starts an embedded broker and Redis for the run. The run
    has its own Redis namespace and topics (bearwatch.replay.<run id>.*), no webhooks, and writes alerts.json to
    --out (default var/replays/<run id>/). The default run id is the file name + a hash of its content, so
    replaying the same file again changes nothing.

    Example: bearwatch replay ../shared/data/headlines/2022-05-02_to_2022-05-20_TerraLuna.csv --speed 3600
    """
    from monitor.history.options import RunOptions
    from monitor.history.run_names import REPLAYS, content_run_id, default_out_dir

    settings = _start(file, config)
    read = read_options(map_text, day_time, tz, date_format, source, fmt)
    name = _run_id(settings, run_id or content_run_id(file))
    options = RunOptions(path=file, run_id=name, speed=speed, rules_file=rules,
                         out_dir=out or default_out_dir(settings, REPLAYS, name), read=read)
    _run_replay(settings, options, quiet)


def backtest(
    file: FileArg,
    rules: RulesOption = None,
    since: FromOption = None,
    until: ToOption = None,
    out: OutOption = None,
    events: EventsOption = None,
    run_id: RunIdOption = None,
    cache: CacheOption = None,
    map_text: MapOption = None,
    day_time: DayTimeOption = DAY_TIME,
    tz: TzOption = TZ,
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
    from monitor.history.options import RunOptions
    from monitor.history.run_names import BACKTESTS, default_out_dir, timestamp_run_id

    settings = _start(file, config)
    if events is not None and not events.is_file():
        fail(f"--events {events} does not exist")
    read = read_options(map_text, day_time, tz, date_format, source, fmt)
    start_at, end_at = _moment(since, read.times, "--from"), _moment(until, read.times, "--to")
    if start_at is not None and end_at is not None and start_at >= end_at:
        fail(f"--from {start_at:%Y-%m-%d %H:%M} is not before --to {end_at:%Y-%m-%d %H:%M}: nothing to backtest")
    name = _run_id(settings, run_id or timestamp_run_id(file))
    options = RunOptions(path=file, run_id=name, rules_file=rules,
                         out_dir=out or default_out_dir(settings, BACKTESTS, name), read=read, events_file=events,
                         since=start_at, until=end_at, cache_path=cache)
    _run_backtest(settings, options, quiet)


def _moment(text: str | None, times: EventTimeReader, flag: str) -> datetime | None:
    """``--from``/``--to``: a day alone means its midnight (UTC), a time without zone is in ``--tz``."""
    from consumers.replay.eventtime import BadTime, EventTimeReader

    if text is None:
        return None
    try:
        return EventTimeReader(day_time=dt_time(0, 0), tz=times.tz).read(text)[0]
    except BadTime as exc:
        fail(f"{flag}: {exc}")


def _run_replay(settings: Settings, options: RunOptions, quiet: bool) -> None:
    from alerts.rules import RuleError
    from consumers.replay.readers import ReadError
    from monitor.ground.kafka import KafkaUnavailable
    from monitor.ground.progress import Bars
    from monitor.ground.stack import StackError
    from monitor.history.infrastructure import infrastructure
    from monitor.history.kafka_completion import ReplayStalled
    from monitor.history.kafka_run import run_replay
    from monitor.history.replay_worker import WorkerFailed

    try:
        with infrastructure(settings, (options.out_dir or settings.var_dir) / "stack", kafka=True) as ready:
            with Bars(console, enabled=not quiet) as bars:
                result = asyncio.run(run_replay(ready, options, bars))
    except (ReadError, RuleError, KafkaUnavailable, StackError, WorkerFailed, ReplayStalled) as exc:
        fail(str(exc), code=1)
    report = result.source
    console.print(
        f"replay [bold]{result.run_id}[/]: {report.rows} rows, {report.stories} stories "
        f"({report.new} produced now, {report.known} already in this run), "
        f"{report.rejected_total} rows rejected{f' {dict(report.rejected)}' if report.rejected else ''}, "
        f"{len(result.alerts)} alert messages in {result.seconds:.1f} s"
    )
    console.print(f"alerts: {result.alerts_path}   namespace: {result.namespace}")


def _run_backtest(settings: Settings, options: RunOptions, quiet: bool) -> None:
    from alerts.rules import RuleError
    from consumers.replay.readers import ReadError
    from monitor.ground.progress import Bars
    from monitor.ground.stack import StackError
    from monitor.history.backtest_run import cached, run_backtest
    from monitor.history.events import EventsError, load_events, score_events
    from monitor.history.infrastructure import infrastructure
    from monitor.history.outputs import write_all
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
    _print_backtest(run, paths, scores)


def _print_backtest(run: BacktestRun, paths: dict[str, Path], scores: object) -> None:
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
