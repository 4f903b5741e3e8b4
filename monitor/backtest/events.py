"""How good were the alerts? Precision, recall and lead time against a CSV of known real events.

The events file has the columns ``time``, ``key`` and ``label`` (e.g. ``2022-05-09 12:00,market,UST depeg``);
times are read like the news file's (zone-less = UTC, day-only = the ``--day-time``).

Matching rule (documented in ``docs/replay.md``):

* An **alert** here is one firing episode: an Alert with status ``firing`` that is not a repeat notification.
* An episode **matches** an event when the keys agree and the episode started close to the event:
  the event key ``market`` (or ``all``/``*``) matches market-scope alerts; any other key matches alerts whose key
  is the same, case-insensitively, in any scope (``AAPL`` a ticker, ``Macro`` a topic, a source's host); and
  ``event time - before <= starts_at <= event time + after`` (defaults: 24 h before, 2 h after).
* **Precision** = matched episodes / all episodes; **recall** = events matched by at least one episode / all
  events; **lead time** of a detected event = event time - the earliest matching episode's ``starts_at``
  (positive: the alert came first). Mean and median lead times are over detected events.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from consumers.replay.eventtime import BadTime, EventTimeReader
from monitor.schemas import Alert

MARKET_KEYS = frozenset({"market", "all", "*"})


class EventsError(ValueError):
    """The events file is unreadable or lacks a column; the message names the file and row."""


@dataclass(frozen=True)
class Event:
    time: datetime
    key: str
    label: str


@dataclass
class EventOutcome:
    event: Event
    alerts: list[Alert] = field(default_factory=list)

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

    @property
    def precision(self) -> float | None:
        return self.matched_episodes / self.episodes if self.episodes else None

    @property
    def recall(self) -> float | None:
        return sum(o.detected for o in self.outcomes) / len(self.outcomes) if self.outcomes else None

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

        return {
            "episodes": self.episodes, "matched_episodes": self.matched_episodes, "events": len(self.outcomes),
            "detected_events": sum(o.detected for o in self.outcomes), "precision": self.precision,
            "recall": self.recall, "mean_lead_s": secs(self.mean_lead), "median_lead_s": secs(self.median_lead),
            "window_before_s": secs(self.before), "window_after_s": secs(self.after),
        }


def load_events(path: Path, times: EventTimeReader | None = None) -> list[Event]:
    times = times or EventTimeReader()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise EventsError(f"events file {path} cannot be read ({exc.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = {"time", "key", "label"} - {name.strip().lower() for name in reader.fieldnames or []}
        if missing:
            raise EventsError(f"events file {path} lacks column(s) {sorted(missing)}: expected time,key,label")
        events = []
        for number, row in enumerate(reader, 1):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            try:
                moment, _ = times.read(row["time"])
            except BadTime as exc:
                raise EventsError(f"events file {path}, row {number}: {exc}") from None
            if not row["key"]:
                raise EventsError(f"events file {path}, row {number}: empty key")
            events.append(Event(moment, row["key"], row["label"]))
    return sorted(events, key=lambda e: (e.time, e.key))


def episodes(alerts: Sequence[Alert]) -> list[Alert]:
    """First notifications of firing episodes (repeats and resolves left out)."""
    return [a for a in alerts if a.status == "firing" and a.annotations.get("repeat") != "true"]


def key_matches(event_key: str, alert: Alert) -> bool:
    if event_key.lower() in MARKET_KEYS:
        return alert.scope == "market"
    return alert.key.lower() == event_key.lower()


def score_events(alerts: Sequence[Alert], events: Sequence[Event], before: timedelta = timedelta(hours=24),
                 after: timedelta = timedelta(hours=2)) -> EventScores:
    fired = episodes(alerts)
    outcomes = [EventOutcome(event) for event in events]
    matched: set[int] = set()
    for outcome in outcomes:
        event = outcome.event
        for number, alert in enumerate(fired):
            if key_matches(event.key, alert) and event.time - before <= alert.starts_at <= event.time + after:
                outcome.alerts.append(alert)
                matched.add(number)
    return EventScores(len(fired), len(matched), outcomes, before, after)
