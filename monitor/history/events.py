"""The report card: the alerts of a backtest scored against a CSV of known real events.

Events file (``--events``): a header row, then one event per row. Columns (case and order free):

* ``date`` / ``datetime`` / ``time`` (required): when it happened. A date alone means the whole day (UTC, or the
  file's ``--tz``); a date-time is a moment;
* ``end`` (optional): the last day (or moment) of an event that lasted, e.g. ``2011-08-04`` to ``2011-08-08``;
* ``scope`` (optional): ``market``, ``topic``, ``ticker``, ``source`` or ``entity``;
* ``key`` (optional): ``market`` (or ``all``/``*``) for the market, else a topic, ticker, source or name;
* ``label`` (optional): what happened.

Matching rule (documented in ``docs/replay.md``):

* an **alert** is a firing episode: an Alert with status ``firing`` that is not a repeat notification;
* it **matches** an event when it started between ``before`` (24 h) before the event's start and ``after`` (2 h)
  after its end, and the keys agree: no key and no scope = any alert; key ``market`` = market alerts; another key =
  alerts on that key (case-insensitive) in the event's scope, or in any scope when none is given;
* **lead** of a detected event = event start - the earliest matching alert's ``starts_at`` (positive: the alert
  came first; negative: a lag);
* a **false alarm** is an alert that matches no event; the rate is per week of data outside every event's
  matching window (``false_alarms_per_week``);
* precision = matched alerts / alerts; recall = detected events / events.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from consumers.replay.eventtime import BadTime, EventTimeReader
from monitor.ground.contracts import Alert
from monitor.ground.errors import BearwatchError

MARKET_KEYS = frozenset({"market", "all", "*"})
SCOPES = ("market", "topic", "ticker", "source", "entity")
MAX_EVENTS = 10_000
MAX_EVENTS_BYTES = 10_000_000
_TIME_COLUMNS = ("datetime", "date", "time", "timestamp", "start")


class EventsError(ValueError, BearwatchError):
    """The events file is unreadable or lacks a column; the message names the file and row."""


@dataclass(frozen=True)
class Event:
    time: datetime
    key: str | None
    label: str
    scope: str | None = None
    until: datetime | None = None  # inclusive end of a lasting event (a whole day for a date alone)

    @property
    def end(self) -> datetime:
        return self.until or self.time

    def describe_key(self) -> str:
        if self.key is None and self.scope is None:
            return "any"
        return f"{self.scope + ':' if self.scope else ''}{self.key or 'any'}"


@dataclass
class EventOutcome:
    event: Event
    alerts: list[Alert] = field(default_factory=list)
    closest: tuple[float, float, str, str, str, datetime] | None = None  # surprise, needed, rule, scope, key, when

    @property
    def detected(self) -> bool:
        return bool(self.alerts)

    @property
    def lead(self) -> timedelta | None:
        return self.event.time - min(a.starts_at for a in self.alerts) if self.alerts else None


@dataclass
class EventScores:
    episodes: int
    matched_episodes: int
    outcomes: list[EventOutcome]
    before: timedelta
    after: timedelta
    false_alarms: list[Alert] = field(default_factory=list)
    calm_weeks: float = 0.0

    @property
    def precision(self) -> float | None:
        return self.matched_episodes / self.episodes if self.episodes else None

    @property
    def recall(self) -> float | None:
        return sum(o.detected for o in self.outcomes) / len(self.outcomes) if self.outcomes else None

    @property
    def false_alarms_per_week(self) -> float | None:
        return len(self.false_alarms) / self.calm_weeks if self.calm_weeks > 0 else None

    def leads(self) -> list[timedelta]:
        return [o.lead for o in self.outcomes if o.lead is not None]

    @property
    def mean_lead(self) -> timedelta | None:
        leads = self.leads()
        return sum(leads, timedelta()) / len(leads) if leads else None

    @property
    def median_lead(self) -> timedelta | None:
        leads = self.leads()
        return timedelta(seconds=statistics.median(lead.total_seconds() for lead in leads)) if leads else None

    def to_dict(self) -> dict[str, object]:
        def secs(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()

        def hours(value: timedelta | None) -> float | None:
            return None if value is None else round(value.total_seconds() / 3600, 2)

        return {
            "episodes": self.episodes, "matched_episodes": self.matched_episodes, "events": len(self.outcomes),
            "detected_events": sum(o.detected for o in self.outcomes), "precision": self.precision,
            "recall": self.recall, "mean_lead_s": secs(self.mean_lead), "median_lead_s": secs(self.median_lead),
            "window_before_s": secs(self.before), "window_after_s": secs(self.after),
            "false_alarms": len(self.false_alarms), "calm_weeks": round(self.calm_weeks, 3),
            "false_alarms_per_week": None if self.false_alarms_per_week is None
            else round(self.false_alarms_per_week, 3),
            "outcomes": [{
                "start": o.event.time.isoformat(), "end": o.event.end.isoformat(), "scope": o.event.scope,
                "key": o.event.key, "label": o.event.label, "detected": o.detected, "lead_h": hours(o.lead),
                "closest": None if o.closest is None else {
                    "surprise": round(o.closest[0], 3), "needed": o.closest[1], "rule": o.closest[2],
                    "scope": o.closest[3], "key": o.closest[4], "at": o.closest[5].isoformat()},
                "alerts": [{"rule": a.rule, "scope": a.scope, "key": a.key, "starts_at": a.starts_at.isoformat()}
                           for a in o.alerts[:20]],
            } for o in self.outcomes],
            "false_alarm_alerts": [{"rule": a.rule, "scope": a.scope, "key": a.key,
                                    "starts_at": a.starts_at.isoformat()} for a in self.false_alarms[:200]],
        }


def _column(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    return next((name for name in wanted if name in names), None)


def _moment(text: str, times: EventTimeReader, path: Path, number: int, column: str) -> tuple[datetime, bool]:
    try:
        moment, day_only = times.read(text)
    except BadTime as exc:
        raise EventsError(f"events file {path}, row {number}: {column}: {exc}") from None
    if day_only:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment, day_only


def load_events(path: Path, times: EventTimeReader | None = None) -> list[Event]:
    """Events from ``path`` (see the module docstring); a bad row stops the load naming the row."""
    times = times or EventTimeReader()
    try:
        if path.stat().st_size > MAX_EVENTS_BYTES:
            raise EventsError(f"events file {path} is larger than {MAX_EVENTS_BYTES:,} bytes: is it the right file?")
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise EventsError(f"events file {path} cannot be read ({exc.strerror})") from None
    with handle:
        try:
            reader = csv.DictReader(handle)
            names = [name.strip().lower() for name in reader.fieldnames or []]
            time_column = _column(names, _TIME_COLUMNS)
            if time_column is None:
                raise EventsError(f"events file {path} has no date column: expected a header with date (or datetime, "
                                  "time) and optionally end, scope, key, label")
            events = []
            for number, row in enumerate(reader, 1):
                if number > MAX_EVENTS:
                    raise EventsError(f"events file {path} holds more than {MAX_EVENTS:,} events")
                row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
                if not any(row.values()):
                    continue
                start, day = _moment(row.get(time_column, ""), times, path, number, time_column)
                until = start + timedelta(days=1) - timedelta(seconds=1) if day else None
                if row.get("end"):
                    end, end_day = _moment(row["end"], times, path, number, "end")
                    until = end + timedelta(days=1) - timedelta(seconds=1) if end_day else end
                    if until < start:
                        raise EventsError(f"events file {path}, row {number}: end is before the start")
                scope = row.get("scope") or None
                if scope is not None and scope.lower() not in SCOPES:
                    raise EventsError(f"events file {path}, row {number}: scope {scope[:40]!r} is not one of "
                                      f"{', '.join(SCOPES)}")
                key = row.get("key") or None
                if key is not None and key.lower() in MARKET_KEYS:
                    key, scope = "market", "market"
                events.append(Event(start, key, row.get("label", "")[:200], scope.lower() if scope else None, until))
        except csv.Error as exc:
            raise EventsError(f"events file {path} is not valid CSV: {exc}") from None
        except UnicodeDecodeError:
            raise EventsError(f"events file {path} is not UTF-8 text: save it as UTF-8") from None
    return sorted(events, key=lambda e: (e.time, e.key or ""))


def event_windows(events: Sequence[Event], before: timedelta = timedelta(hours=24),
                  after: timedelta = timedelta(hours=2)) -> list[tuple[datetime, datetime]]:
    """The stretches of time in which an alert counts as a detection, not a false alarm."""
    return [(e.time - before, e.end + after) for e in events]


def episodes(alerts: Sequence[Alert]) -> list[Alert]:
    """First notifications of firing episodes (repeats and resolves left out)."""
    return [a for a in alerts if a.status == "firing" and a.annotations.get("repeat") != "true"]


def key_matches(event: Event, alert: Alert) -> bool:
    return _matches(event, alert.scope, alert.key)


def _matches(event: Event, scope: str, key: str) -> bool:
    if event.scope is not None and scope != event.scope:
        return False
    if event.key is None:
        return True
    if event.key == "market":
        return scope == "market"
    return key.lower() == event.key.lower()


def closest_to(event: Event, rules: Sequence[object], closeness: dict[str, object], before: timedelta,
               after: timedelta) -> tuple[float, float, str, str, str, datetime] | None:
    """For an event nothing detected: the most surprising moment of a matching key near it, over the surprise
    rules (``closeness[rule].peaks`` from the backtest engine)."""
    best = None
    lo, hi = event.time - before, event.end + after
    for rule in rules:
        near = closeness.get(rule.name)  # type: ignore[attr-defined]
        if near is None or rule.surprise_above is None:  # type: ignore[attr-defined]
            continue
        for at, key, surprise in near.peaks:  # type: ignore[attr-defined]
            moment = datetime.fromtimestamp(at, tz=lo.tzinfo)
            if lo <= moment <= hi and _matches(event, rule.scope, key) and (  # type: ignore[attr-defined]
                    best is None or surprise / rule.surprise_above > best[0] / best[1]):  # type: ignore[attr-defined]
                best = (surprise, rule.surprise_above, rule.name, rule.scope, key, moment)  # type: ignore[attr-defined]
    return best


def _calm_weeks(first: datetime | None, last: datetime | None, windows: list[tuple[datetime, datetime]]) -> float:
    if first is None or last is None or last <= first:
        return 0.0
    covered = timedelta()
    cursor = first
    for lo, hi in sorted(windows):
        lo, hi = max(lo, cursor), min(hi, last)
        if hi > lo:
            covered += hi - lo
            cursor = hi
    return max((last - first - covered).total_seconds(), 0.0) / (7 * 86400)


def score_events(alerts: Sequence[Alert], events: Sequence[Event], before: timedelta = timedelta(hours=24),
                 after: timedelta = timedelta(hours=2), first: datetime | None = None,
                 last: datetime | None = None, rules: Sequence[object] = (),
                 closeness: dict[str, object] | None = None) -> EventScores:
    """Per event detected or not with its lead; false alarms outside every event per calm week of data."""
    fired = episodes(alerts)
    outcomes = [EventOutcome(event) for event in events]
    matched: set[int] = set()
    for outcome in outcomes:
        event = outcome.event
        for number, alert in enumerate(fired):
            if key_matches(event, alert) and event.time - before <= alert.starts_at <= event.end + after:
                outcome.alerts.append(alert)
                matched.add(number)
    for outcome in outcomes:
        if not outcome.detected and closeness:
            outcome.closest = closest_to(outcome.event, rules, closeness, before, after)
    windows = event_windows(events, before, after)
    false = [a for n, a in enumerate(fired) if n not in matched and not any(lo <= a.starts_at <= hi
                                                                             for lo, hi in windows)]
    return EventScores(len(fired), len(matched), outcomes, before, after, false, _calm_weeks(first, last, windows))
