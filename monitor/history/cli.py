"""``bearwatch replay FILE``: a historical file through Kafka and a real worker, in event time, into its own run.

The reading options (``--map``, ``--day-time``, ``--tz``, ``--date-format``, ``--source``, ``--format``) are
defined here once and shared with ``bearwatch backtest``, so both commands read a file the same way.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

if TYPE_CHECKING:
    from consumers.replay.readers import ReadOptions
    from consumers.replay.run import ReplayOptions
    from monitor.ground.settings import Settings

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


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


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


def replay(
    file: FileArg,
    run_id: RunIdOption = None,
    speed: Annotated[float | None, typer.Option(
        "--speed", help="Event seconds per wall second (60 = one hour per minute); default: as fast as possible.",
        min=0.000001)] = None,
    rules: RulesOption = None,
    out: OutOption = None,
    map_text: MapOption = None,
    day_time: DayTimeOption = "12:00",
    tz: TzOption = "UTC",
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
    from consumers.replay.naming import RunIdError, RunNames, content_run_id
    from consumers.replay.run import ReplayOptions

    settings = settings_or_exit(config, attach_running=False)  # its own embedded stack, never a running `up`'s
    if not file.is_file():
        fail(f"{file} does not exist or is not a file")
    options = read_options(map_text, day_time, tz, date_format, source, fmt)
    try:
        names = RunNames(run_id or content_run_id(file), settings.redis_namespace)
    except RunIdError as exc:
        fail(str(exc))
    out_dir = out or settings.var_dir / "replays" / names.run_id
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    replay_options = ReplayOptions(path=file, run_id=names.run_id, speed=speed, rules_file=rules, out_dir=out_dir,
                                   read=options)
    _run(settings, replay_options, quiet)


def _run(settings: Settings, options: ReplayOptions, quiet: bool) -> None:
    from alerts.rules import RuleError
    from consumers.replay.completion import ReplayStalled
    from consumers.replay.infra import infrastructure
    from consumers.replay.progress import Bars
    from consumers.replay.readers import ReadError
    from consumers.replay.run import run_replay
    from consumers.replay.worker import WorkerFailed
    from monitor.ground.kafka import KafkaUnavailable
    from monitor.ground.stack import StackError

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
