"""``bearwatch alerts list|test|dead|retry`` and ``bearwatch rules check``.

Everything reads the same settings as the workers (``--config``, ``BEARWATCH_*``); heavy imports happen inside
the commands so ``bearwatch --help`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from alerts.rules import Rule
    from monitor.ground.contracts import Alert
    from monitor.ground.settings import Settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _redis_job(settings: Settings, job: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
    import redis.asyncio as aioredis

    if not settings.redis_url:
        fail(
            "no Redis configured: set BEARWATCH_REDIS_URL (e.g. redis://localhost:6379/0) "
            "or start `bearwatch up`"
        )

    from monitor.ground.redis import COMMAND, redis_client

    async def run() -> Any:
        client = redis_client(settings.redis_url or "", COMMAND)
        try:
            return await job(client)
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            fail(f"Redis at {settings.redis_url} is unreachable ({exc}): is it running?")
        finally:
            await client.aclose()

    return asyncio.run(run())


def _when(ms: str | int | None) -> str:
    if ms in (None, ""):
        return ""
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def list_alerts(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=500, help="Recent notifications to show.")
    ] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show the alerts firing now and the most recent notifications.

    Example: bearwatch alerts list --limit 50
    """
    from rich.table import Table

    from alerts.delivery.outbox import Outbox
    from alerts.state import AlertState

    settings = settings_or_exit(config)

    async def job(client: aioredis.Redis) -> tuple[list[dict[str, str]], list[Alert]]:
        ns = settings.redis_namespace
        return await AlertState(client, ns).firing(), await Outbox(client, ns).history(limit)

    firing, recent = _redis_job(settings, job)
    if as_json:
        console.print_json(
            json.dumps({"firing": firing, "recent": [a.model_dump(mode="json") for a in recent]})
        )
        return
    table = Table(title=f"firing now ({len(firing)})")
    for column in ("rule", "scope", "key", "since", "negative share", "fingerprint"):
        table.add_column(column)
    for row in firing:
        table.add_row(
            row.get("rule", ""),
            row.get("scope", ""),
            row.get("key", ""),
            _when(row.get("starts_at")),
            f"{float(row.get('value', 0)):.0%}",
            row["fingerprint"],
        )
    console.print(table)
    recent_table = Table(title=f"recent notifications ({len(recent)})")
    for column in ("status", "rule", "key", "starts at", "evaluated at", "value", "summary"):
        recent_table.add_column(column)
    for alert in recent:
        recent_table.add_row(
            alert.status,
            alert.rule,
            alert.key,
            alert.starts_at.strftime("%Y-%m-%d %H:%M"),
            alert.annotations.get("evaluated_at", "")[:16],
            f"{alert.value:.0%}",
            alert.annotations.get("summary", ""),
        )
    console.print(recent_table)


def sample_alert() -> Alert:
    """A clearly-labelled test alert with realistic numbers and headlines."""
    from monitor.ground.contracts import Alert, Sample, alert_fingerprint

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return Alert(
        fingerprint=alert_fingerprint("bearwatch_test", "ticker", "TEST"),
        status="firing",
        rule="bearwatch_test",
        scope="ticker",
        key="TEST",
        severity="info",
        starts_at=now,
        value=0.75,
        baseline=0.2,
        zscore=4.0,
        count=8,
        samples=[
            Sample(
                id="test-1",
                title="This is a test notification from Bearwatch",
                url="https://github.com/bearwatch/bearwatch",
                score=-0.8,
                published_at=now,
            )
        ],
        labels={"alertname": "bearwatch_test", "scope": "ticker", "key": "TEST", "severity": "info"},
        annotations={
            "summary": "TEST: 75% negative over 15m (a test notification, nothing is wrong)",
            "evaluated_at": now.isoformat(),
            "window": "15m",
            "stories": "8",
            "mean_score": "-0.4",
        },
    )


def send_test(
    channel: Annotated[str, typer.Option("--channel", help="Name of a configured webhook, or 'grafana'.")],
    config: ConfigOption = None,
) -> None:
    """Send a sample alert to one channel right now (no outbox, no retries) and report the answer.

    Example: bearwatch alerts test --channel ops-slack
    """
    import uuid

    from alerts.delivery.notifier import Notifier

    settings = settings_or_exit(config)

    async def job(client: aioredis.Redis) -> Any:
        notifier = Notifier(client, settings, settings.redis_namespace)
        try:
            target = notifier.channel(channel)
            return await target.deliver([sample_alert()], f"test-{uuid.uuid4().hex}", 1)
        except (KeyError, ValueError) as exc:
            fail(str(exc).strip("'\""))
        finally:
            await notifier.close()

    outcome = _redis_job(settings, job)
    if not outcome.ok:
        fail(f"channel {channel}: {outcome.reason}", code=1)
    console.print(f"[green]sent[/] a test alert to {channel}")


def dead(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List notifications that could not be delivered, with the reason.

    Example: bearwatch alerts dead --json
    """
    from rich.table import Table

    from alerts.delivery.outbox import Outbox

    settings = settings_or_exit(config)
    records = _redis_job(settings, lambda client: Outbox(client, settings.redis_namespace).dead())
    if as_json:
        console.print_json(json.dumps(records))
        return
    table = Table(title=f"dead letters ({len(records)})")
    for column in ("channel", "failed at", "attempts", "alerts", "reason"):
        table.add_column(column)
    for record in records:
        alerts = [json.loads(e["alert"]) for e in record["entries"]]
        names = ", ".join(f"{a['rule']}/{a['key']} {a['status']}" for a in alerts)
        table.add_row(
            record["channel"], _when(record["failed_at_ms"]), str(record["attempts"]), names, record["reason"]
        )
    console.print(table)


def retry(
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this channel's dead letters.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Put dead-lettered notifications back into their outbox and try to deliver them now.

    Example: bearwatch alerts retry --channel ops-webhook
    """
    from alerts.delivery.backoff import DeliveryPolicy
    from alerts.delivery.notifier import Notifier

    settings = settings_or_exit(config)

    async def job(client: aioredis.Redis) -> tuple[int, int]:
        notifier = Notifier(client, settings, settings.redis_namespace, policy=DeliveryPolicy(group_wait_s=0))
        try:
            moved = await notifier.outbox.retry_dead(channel)
            return moved, await notifier.drain_once() if moved else 0
        finally:
            await notifier.close()

    moved, sent = _redis_job(settings, job)
    if not moved:
        console.print("no dead letters" + (f" for channel {channel}" if channel else ""))
        return
    console.print(
        f"re-queued {moved} notification(s); {sent} request(s) finished now, "
        "the rest go out with the running notifier (see `bearwatch alerts dead`)"
    )


def check(
    file: Annotated[Path, typer.Argument(help="A TOML rules file.", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Validate a rules file and show the rules it defines (merged over the shipped ones).

    Example: bearwatch rules check my-rules.toml
    """
    from alerts.rules import RuleError, load_rules, load_rules_file

    try:
        own = load_rules_file(file)
        merged = load_rules(file)
    except RuleError as exc:
        fail(str(exc), code=1)
    _rules_table(f"{file}: {len(own)} rule(s) valid; {len(merged)} active with the shipped rules", merged)


def _rules_table(title: str, rules: list[Rule]) -> None:
    from rich.table import Table

    from monitor.stages.windows.spans import format_span

    table = Table(title=title)
    for column in ("name", "scope", "keys", "windows", "baseline", "min vol", "conditions", "for", "severity"):
        table.add_column(column)
    for rule in rules:
        conditions = [
            f"surprise ≥ {rule.surprise_above:g} ({rule.test}, ≥ {rule.min_negative:g} neg)"
            if rule.surprise_above is not None else "",
            f"share > {rule.negative_share_above:g}" if rule.negative_share_above is not None else "",
            f"mean < {rule.mean_score_below:g}" if rule.mean_score_below is not None else "",
            f"z > {rule.zscore_above:g}" if rule.zscore_above is not None else "",
        ]
        keys = rule.keys if isinstance(rule.keys, str) else ", ".join(rule.keys)
        table.add_row(
            rule.name,
            rule.scope,
            keys,
            ", ".join(format_span(w) for w in rule.all_windows),
            format_span(rule.baseline),
            f"{rule.min_volume:g}",
            " and ".join(c for c in conditions if c),
            format_span(rule.for_) if rule.for_ else "0",
            rule.severity,
        )
    console.print(table)


def calibrate(
    file: Annotated[Path, typer.Argument(help="A news history (CSV, JSONL, Parquet, RSS), mostly calm weeks.",
                                         show_default=False)],
    target_rate: Annotated[str, typer.Option("--target-rate", help="False alarms allowed per key: 1/week, "
                                             "2/month, 0.2/day.")] = "1/week",
    out: Annotated[Path, typer.Option("--out", "-o", help="Rules file to write.")] = Path("rules.calibrated.toml"),
    rules: Annotated[Path | None, typer.Option("--rules", help="Rules to start from (over the shipped ones).")] = None,
    events: Annotated[Path | None, typer.Option("--events", help="Known events (CSV): alerts near them are not "
                                                "false alarms.")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Score cache file "
                                               "(default var/cache/scores.sqlite).")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Source name for rows without one.")] = None,
    day_time: Annotated[str, typer.Option("--day-time", help="Time of day for day-only dates (UTC).")] = "12:00",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    config: ConfigOption = None,
) -> None:
    """Write a rules file whose surprise thresholds keep false alarms within a budget on a history.

    Reads and scores FILE like `bearwatch backtest` (same cache), then for each surprise rule picks the smallest
    `surprise_above` (3 or more) at which no key fires more than --target-rate on that history (alerts within a day
    before or two hours after a known event in --events do not count). Threshold rules are copied unchanged.

    Example: bearwatch rules calibrate news-2024-q1.csv --target-rate 1/week --out my-rules.toml
    """
    from alerts.calibrate import CalibrationError, parse_rate, rules_toml
    from alerts.calibrate import calibrate as fit
    from alerts.rules import RuleError, load_rules
    from consumers.replay.readers import ReadError
    from monitor.ground.progress import Bars
    from monitor.ground.stack import StackError
    from monitor.history.backtest_run import run_backtest
    from monitor.history.cli import read_options
    from monitor.history.events import EventsError, event_windows, load_events
    from monitor.history.infrastructure import infrastructure
    from monitor.history.options import RunOptions
    from monitor.stages.model.modeldir import ModelDirError

    settings = settings_or_exit(config, attach_running=False)
    if not file.is_file():
        fail(f"{file} does not exist or is not a file")
    try:
        target = parse_rate(target_rate)
        base = load_rules(rules)
        options = read_options(None, day_time, "UTC", None, source, None)
        known = event_windows(load_events(events, options.times)) if events else []
        with infrastructure(settings, settings.var_dir / "calibrate" / "stack", kafka=False) as ready:
            with Bars(console, enabled=not quiet) as bars:
                run = asyncio.run(run_backtest(ready, RunOptions(
                    path=file, rules_file=rules, read=options, cache_path=cache,
                    out_dir=settings.var_dir / "calibrate"), bars))
        fitted, report = fit(base, run.scored_stories, target, settings.bucket_seconds,
                             settings.allowed_lateness_s, known)
    except (CalibrationError, RuleError, ReadError, EventsError, StackError, ModelDirError) as exc:
        fail(str(exc), code=1)
    header = (f"Calibrated by `bearwatch rules calibrate` on {file.name} ({run.scored:,} stories) for at most "
              f"{target:g} alert(s) per key per week.\nCheck it with `bearwatch rules check`; use it with "
              "BEARWATCH_RULES_FILE or --rules.")
    out.write_text(rules_toml(fitted, header), encoding="utf-8")
    from rich.table import Table

    table = Table(title=f"calibrated on {run.scored:,} stories, budget {target:g}/key/week")
    for column in ("rule", "surprise before", "after", "worst key", "its alerts/week", "alerts", "note"):
        table.add_column(column)
    for c in report:
        table.add_row(c.rule, "" if c.before is None else f"{c.before:g}", "" if c.after is None else f"{c.after:g}",
                      c.worst_key or "", f"{c.worst_rate:.2f}", str(c.alerts), c.note or ("met" if c.met else ""))
    console.print(table)
    console.print(f"wrote {out}")
    if not all(c.met for c in report):
        fail("some rule cannot meet the budget on this history (see the table): raise --target-rate", code=1)


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` and ``rules`` command groups to ``bearwatch``."""
    alerts_app = typer.Typer(help="Alert state, test notifications and dead letters.", no_args_is_help=True)
    alerts_app.command("list")(list_alerts)
    alerts_app.command("test")(send_test)
    alerts_app.command("dead")(dead)
    alerts_app.command("retry")(retry)
    rules_app = typer.Typer(help="Detection rules.", no_args_is_help=True)
    rules_app.command("check")(check)
    rules_app.command("calibrate")(calibrate)
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(rules_app, name="rules")
