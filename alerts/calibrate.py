"""``bearwatch rules calibrate``: the smallest surprise threshold per rule that keeps false alarms within a budget.

On a history of scored stories (mostly calm news), each surprise rule is evaluated once at a low threshold; since
the other guards do not depend on the threshold, the condition at any higher threshold ``S`` is that evaluation
with ``surprise >= S`` (:func:`alerts.evaluate.evaluate` reports the most surprising firing window). The lifecycle
is then walked for every ``S`` of a grid, and the smallest ``S`` where no key raises more than ``target`` alerts
per week (episodes starting inside known events are not false alarms and do not count) is written into a rules
file; the grid starts at 3 (one window in a thousand), so a short calm history cannot talk the thresholds down to
noise. Threshold rules (no ``surprise_above``) are copied unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.detector import MARKET, needs_reference, timing_of
from alerts.evaluate import change_points, evaluate
from alerts.lifecycle import KeyState, walk
from alerts.rules import Rule
from alerts.series import series_from_stories
from monitor.ground.contracts import ScoredStory
from monitor.ground.errors import BearwatchError
from monitor.stages.windows.spans import format_span, from_ms, to_ms
from monitor.stages.windows.writer import scope_keys

# 3 .. 20: never below one window in a thousand, however calm the history (a few weeks say little about the tails)
GRID = tuple(round(3.0 + 0.25 * i, 2) for i in range(69))
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(day|week|month|d|w|m))?\s*$")
_PER_WEEK = {"day": 7.0, "d": 7.0, "week": 1.0, "w": 1.0, "month": 7 / 30.4, "m": 7 / 30.4}


class CalibrationError(ValueError, BearwatchError):
    """Bad calibration input; the message names the thing and the fix."""


def parse_rate(text: str) -> float:
    """``"1/week"``, ``"2/month"``, ``"0.5/day"`` or a number (per week) -> alerts per key per week."""
    match = _RATE.match(text)
    if match is None:
        raise CalibrationError(f"--target-rate {text[:40]!r} is not understood: use e.g. 1/week, 2/month, 0.2/day")
    value = float(match.group(1)) * _PER_WEEK[match.group(2) or "week"]
    if not 0 < value <= 1000:
        raise CalibrationError(f"--target-rate {text[:40]!r} must be above 0 and at most 1000/week")
    return value


@dataclass
class Calibrated:
    """One rule's outcome: the threshold chosen and the worst key's alerts per week there."""

    rule: str
    before: float | None
    after: float | None
    worst_rate: float = 0.0
    worst_key: str | None = None
    alerts: int = 0
    met: bool = True
    note: str = ""
    rates: dict[float, float] = field(default_factory=dict, repr=False)


def _excluded(moment: int, events: Sequence[tuple[datetime, datetime]]) -> bool:
    at = from_ms(moment * 1000)
    return any(lo <= at <= hi for lo, hi in events)


def calibrate(rules: Sequence[Rule], stories: Sequence[ScoredStory], target_per_week: float, step: int,
              lateness_s: int, events: Sequence[tuple[datetime, datetime]] = (),
              grid: Sequence[float] = GRID) -> tuple[list[Rule], list[Calibrated]]:
    """Rules with ``surprise_above`` set to the smallest grid value meeting the budget on ``stories``."""
    if not stories:
        raise CalibrationError("the history holds no stories: calibrate on a file with some weeks of news")
    ordered = sorted(stories, key=lambda s: (s.published_at, s.id))
    first_ms, last_ms = to_ms(ordered[0].published_at), to_ms(ordered[-1].published_at)
    start = (first_ms // 1000) // step * step + step
    end = ((last_ms - lateness_s * 1000) // 1000) // step * step
    weeks = max((last_ms - first_ms) / 1000 / (7 * 86400), 1 / 7)
    if end < start:
        raise CalibrationError("the history is shorter than one bucket: calibrate on weeks of news")
    series = series_from_stories(ordered, scope_keys, step)
    out_rules: list[Rule] = []
    report: list[Calibrated] = []
    for rule in rules:
        if rule.surprise_above is None or not rule.enabled:
            out_rules.append(rule)
            report.append(Calibrated(rule.name, None, None, note="threshold rule: unchanged"))
            continue
        low = rule.model_copy(update={"surprise_above": min(grid)})
        reference = series.get(MARKET) if needs_reference(rule) else None
        timing = timing_of(rule)
        evaluated = []
        for (scope, key), data in series.items():
            if scope != rule.scope or not rule.matches(key):
                continue
            points = change_points(low, data, start, end)
            measures = evaluate(low, data, points, reference)
            if measures.condition.any():
                evaluated.append((key, points.tolist(), measures.condition, measures.surprise))
        chosen, worst, worst_key, total, rates = None, 0.0, None, 0, {}
        for threshold in sorted(grid):
            per_key: dict[str, int] = {}
            for key, points, condition, surprise in evaluated:
                holds = (condition & (surprise >= threshold)).tolist()
                if not any(holds):
                    continue
                _, changes = walk(KeyState(), points, holds, end, step, timing)
                fired = [c for c in changes if c.action == "fire" and not _excluded(c.boundary, events)]
                if fired:
                    per_key[key] = len(fired)
            top_key = max(per_key, key=per_key.__getitem__) if per_key else None
            rate = per_key[top_key] / weeks if top_key else 0.0
            rates[threshold] = rate
            if rate <= target_per_week:
                chosen, worst, worst_key, total = threshold, rate, top_key, sum(per_key.values())
                break
        met = chosen is not None
        threshold = chosen if chosen is not None else max(grid)  # i.e. if met
        out_rules.append(rule.model_copy(update={"surprise_above": threshold}))
        report.append(Calibrated(rule.name, rule.surprise_above, threshold, worst, worst_key, total, met,
                                 "" if met else "budget not met even at the highest threshold", rates))
    return out_rules, report


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return json.dumps(format_span(value)) if value else '"0"'
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def rules_toml(rules: Sequence[Rule], header: str = "") -> str:
    """A rules file (``[[rule]]`` tables) holding every field each rule sets, loadable by ``parse_rules``."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for rule in rules:
        lines += ["", "[[rule]]"]
        data = rule.model_dump(by_alias=True)
        wanted = {"name", "scope", "surprise_above"} | {("for" if f == "for_" else f) for f in rule.model_fields_set}
        for name, value in data.items():
            if name in wanted and value is not None:
                lines.append(f"{name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def rate_table(report: Sequence[Calibrated]) -> list[dict[str, object]]:
    return [{"rule": c.rule, "before": c.before, "after": c.after, "worst_key_per_week": round(c.worst_rate, 3),
             "worst_key": c.worst_key, "alerts": c.alerts, "met": c.met, "note": c.note} for c in report]
