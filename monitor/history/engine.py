"""The backtest's detector: the live evaluator and lifecycle on in-memory arrays, no Redis.

:func:`run_rules` builds every scope key's bucket arrays from the scored stories (the same integer sums the live
windows keep, :func:`alerts.series.series_from_stories`), then, per rule and key, evaluates the condition at its
change points over the whole run and walks the lifecycle from a fresh state, exactly as the live detector does
in pieces (:mod:`alerts.detector`): the first boundary is the one after the first story's bucket (what
``start_rules_at`` seeds for a replay), the last is the final watermark's. So the backtest, a Kafka replay and the
live worker agree on every alert, and months of news take seconds.

It also keeps, per rule, how close the rule came to firing (:class:`Closeness`), for the report card.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from alerts.alert_builder import build_alert
from alerts.detector import MARKET, measures_at, needs_reference, timing_of
from alerts.evaluate import (
    Measures,
    baseline_seconds,
    change_points,
    change_points_of_many,
    evaluate,
    stack,
    window_seconds,
)
from alerts.lifecycle import KeyState, walk
from alerts.rules import Rule
from alerts.series import NV, NVN, KeySeries, N, series_from_stories
from alerts.state import Transition
from monitor.ground.contracts import Alert, Sample, ScoredStory
from monitor.stages.windows.layout import MICRO
from monitor.stages.windows.spans import floor_to, from_ms, span_seconds, to_ms
from monitor.stages.windows.writer import TITLE_MAX, scope_keys

WEEK = 7 * 86400
STACK = 2000  # keys per vectorised call: bounds the arrays' memory


@dataclass
class Closeness:
    """How close one rule came to firing over a run (what the report says when it fired nothing)."""

    keys: int = 0
    evaluations: int = 0
    max_surprise: float = 0.0
    max_surprise_key: str | None = None
    max_surprise_at: int | None = None
    max_volume: float = 0.0
    max_negative: float = 0.0
    without_history: int = 0  # evaluated boundaries with data in the window but no history at all
    peaks: list[tuple[int, str, float]] = field(default_factory=list)  # (boundary, key, surprise): each key's daily max

    def to_dict(self) -> dict[str, object]:
        return {"keys": self.keys, "evaluations": self.evaluations, "max_surprise": round(self.max_surprise, 3),
                "max_surprise_key": self.max_surprise_key,
                "max_surprise_at": from_ms(self.max_surprise_at * 1000).isoformat() if self.max_surprise_at else None,
                "max_volume": round(self.max_volume, 3), "max_negative": round(self.max_negative, 3),
                "without_history": self.without_history}


@dataclass
class EngineResult:
    alerts: list[Alert]
    closeness: dict[str, Closeness] = field(default_factory=dict)
    first_boundary: int | None = None
    last_boundary: int | None = None


class _Samples:
    """Each key's stories by time, for the headlines an alert carries (the window's most negative)."""

    def __init__(self, stories: Sequence[ScoredStory], step: int, keys: dict[int, list]) -> None:
        self.stories = stories
        self._by_key: dict[tuple[str, str], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for index, story in enumerate(stories):
            if story.sentiment.score >= 0:
                continue  # only negative headlines are ever shown
            bucket = floor_to(to_ms(story.published_at) // 1000, step)
            for pair in keys[id(story)]:
                times, indexes = self._by_key[pair]
                times.append(bucket)
                indexes.append(index)

    def window(self, pair: tuple[str, str], lo: int, hi: int) -> list[Sample]:
        times, indexes = self._by_key.get(pair, ([], []))
        chosen = [self.stories[i] for i in indexes[bisect.bisect_left(times, lo):bisect.bisect_left(times, hi)]]
        samples = [Sample(id=s.id, title=s.title[:TITLE_MAX], url=s.url, score=s.sentiment.score,
                          published_at=s.published_at) for s in chosen]
        return sorted(samples, key=lambda s: (s.score, s.id))[:5]


def final_boundary(stories: Sequence[ScoredStory], step: int, lateness_s: int) -> tuple[int, int] | None:
    """``(first, last)`` boundary the live detector evaluates for these stories (as ``completion.final_boundary``)."""
    if not stories:
        return None
    first_ms = min(to_ms(s.published_at) for s in stories)
    last_ms = max(to_ms(s.published_at) for s in stories)
    start = floor_to(first_ms // 1000, step) + step
    end = floor_to((last_ms - lateness_s * 1000) // 1000, step)
    return (start, end) if end >= start else None


def run_rules(rules: Sequence[Rule], stories: Sequence[ScoredStory], step: int, lateness_s: int,
              series: dict[tuple[str, str], KeySeries] | None = None) -> EngineResult:
    """Every alert the rules raise on ``stories`` (sorted by time), in time order; see the module docstring."""
    bounds = final_boundary(stories, step, lateness_s)
    if bounds is None:
        return EngineResult([], {rule.name: Closeness() for rule in rules})
    start, end = bounds
    keys = {id(story): scope_keys(story) for story in stories}  # decided once per story (the writer's rule)
    series = series if series is not None else series_from_stories(stories, lambda s: keys[id(s)], step)
    samples = _Samples(stories, step, keys)
    found: list[tuple[int, int, str, Alert]] = []
    closeness: dict[str, Closeness] = {}
    for order, rule in enumerate(r for r in rules if r.enabled):
        near = closeness[rule.name] = Closeness()
        reference = series.get(MARKET) if needs_reference(rule) else None
        timing = timing_of(rule)
        watched = [(key, data) for (scope, key), data in series.items() if scope == rule.scope and rule.matches(key)]
        near.keys += len(watched)
        for _, data in watched:  # keys skipped below still count for "how close": their totals bound any window
            totals = data.minutes.prefix[-1]
            near.max_volume = max(near.max_volume, totals[NV] / MICRO)
            near.max_negative = max(near.max_negative, totals[NVN] / MICRO)
        watched = [(key, data) for key, data in watched if could_hold(rule, data)]
        for key, points, measures in _evaluated(rule, watched, start, end, reference):
            _note(near, key, measures)
            if not measures.condition.any():
                continue
            _, changes = walk(KeyState(), points.tolist(), measures.condition.tolist(), end, step, timing)
            for change in changes:
                row = measures_at(measures, change.boundary)
                window = row["window"]
                assert window is not None  # Measures.row always sets it
                span = span_seconds(rule.all_windows[int(window)], step)
                chosen = samples.window((rule.scope, key), change.boundary - span, change.boundary)
                alert = build_alert(rule, key, row, chosen, Transition(change.action, change.starts_at * 1000),
                                    change.boundary)
                found.append((change.boundary, order, key, alert))
    found.sort(key=lambda item: item[:3])
    return EngineResult([alert for *_, alert in found], closeness, start, end)


def _evaluated(rule: Rule, watched: list[tuple[str, KeySeries]], start: int, end: int,
               reference: KeySeries | None) -> Iterator[tuple[str, NDArray[np.int64], Measures]]:
    """Each key's change points and measures. Surprise rules over many keys are evaluated in one vectorised call
    on the keys stacked side by side (:func:`alerts.evaluate.stack`); the numbers are the same as key by key."""
    if rule.surprise_above is None or len(watched) < 2:
        for key, data in watched:
            points = change_points(rule, data, start, end)
            yield key, points, evaluate(rule, data, points, reference)
        return
    step = watched[0][1].step
    reach = end - start + baseline_seconds(rule) + max(window_seconds(rule, step)) + 7 * 86400
    period = -(-reach // WEEK) * WEEK
    for offset in range(0, len(watched), STACK):
        part = watched[offset:offset + STACK]
        stacked = stack([data for _, data in part], period)
        shifts = np.arange(len(part), dtype=np.int64) * period
        points, owner = change_points_of_many(rule, stacked, start + shifts, end + shifts, period)
        measures = evaluate(rule, stacked, points, reference, shift=shifts[owner])
        bounds = np.searchsorted(owner, np.arange(len(part) + 1))
        for i, (key, _) in enumerate(part):
            lo, hi = bounds[i], bounds[i + 1]
            mine = _slice(measures, lo, hi, shifts[i])
            yield key, mine.at, mine


def _slice(measures: Measures, lo: int, hi: int, shift: int) -> Measures:
    out = Measures(**{name: getattr(measures, name)[lo:hi] for name in Measures.__dataclass_fields__})
    out.at = out.at - shift
    return out


def could_hold(rule: Rule, data: KeySeries) -> bool:
    """False when even the key's whole run cannot meet the rule's volume guards (most tickers), so it is skipped."""
    totals = data.minutes.prefix[-1]
    if totals[NV] / MICRO < rule.min_volume or totals[N] == 0:
        return False
    return rule.surprise_above is None or totals[NVN] / MICRO >= max(rule.min_negative, 1e-9)


def _note(near: Closeness, key: str, measures: Measures) -> None:
    m = measures  # alerts.evaluate.Measures
    near.evaluations += len(m.at)
    if not len(m.at):
        return
    best = int(np.argmax(m.surprise))
    if m.surprise[best] > near.max_surprise:
        near.max_surprise = float(m.surprise[best])
        near.max_surprise_key, near.max_surprise_at = key, int(m.at[best])
    near.max_volume = max(near.max_volume, float(m.volume.max()))
    near.max_negative = max(near.max_negative, float(m.negative.max()))
    near.without_history += int(((m.count > 0) & (m.history <= 0)).sum())
    positive = m.surprise > 0
    if positive.any():
        at, surprise = m.at[positive], m.surprise[positive]
        order = np.lexsort((-surprise, at // 86400))
        days = (at // 86400)[order]
        firsts = order[np.r_[True, days[1:] != days[:-1]]]
        near.peaks.extend((int(at[i]), key, float(surprise[i])) for i in firsts)
