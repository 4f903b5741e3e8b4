"""The rule condition over a key's bucket arrays, for many boundaries at once (pure numpy, no I/O).

:func:`evaluate` answers, for every boundary ``b`` in an array, whether the rule's condition holds for the windows
``[b - w, b)``, with the numbers behind it. Two kinds of rule:

* **Surprise rules** (``surprise_above``): for each window, the novelty-weighted negative count ``K`` is compared
  with what the key's own history predicts (:mod:`alerts.surprise`). History = the ``baseline`` span of whole hours
  before the window's first hour. The negative share's prior is the *market's* share over the same hours (so a key
  never seen before is judged against the news as a whole, whatever share a model tends to give), worth
  ``prior_weight`` stories; the key's own history adds to it, trusted up to ``dispersion`` stories (news is
  clustered: a week of 10,000 stories is not 10,000 independent coin flips). Test ``share`` conditions on the
  window's own volume; ``count`` on the volume the key usually has at those hours of the day (hour-of-day profile
  of its history, shrunk towards ``prior_volume_per_day``); ``both`` takes the larger surprise. A window counts
  when its surprise is at least ``surprise_above``, it holds ``min_negative`` negatives and ``min_volume`` stories,
  and its share is above the expected share; the rule holds when any window does.
* **Threshold rules** (no ``surprise_above``): the original share / mean score / hourly z-score thresholds on the
  one ``window`` (``docs/alerts.md``), unchanged.

:func:`change_points` lists the only boundaries where the condition can change (a bucket entering or leaving a
window, an hour mark for the history), so callers evaluate those and let :mod:`alerts.lifecycle` walk the runs in
between: the cost follows the data, not the minutes of event time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alerts.rules import Rule
from alerts.series import NEG, NV, NVN, NVS, KeySeries, Table, share
from alerts.series import N as COUNT
from alerts.series import N as N_COUNT
from alerts.surprise import nb_expected, nb_surprise
from monitor.stages.windows.layout import MICRO
from monitor.stages.windows.spans import HOUR, span_seconds

Int = NDArray[np.int64]
Float = NDArray[np.float64]
PRIOR_DAYS = 0.5  # each season class of the usual volume is shrunk by half a day's worth of the mean


@dataclass
class Measures:
    """The numbers at each boundary of ``at``; ``window`` indexes ``rule.all_windows`` (the reported window)."""

    at: Int
    condition: NDArray[np.bool_]
    window: Int
    surprise: Float
    share: Float
    volume: Float
    negative: Float
    count: Int
    negatives: Int
    mean_score: Float
    baseline: Float  # expected share (surprise rules) or the hourly baseline mean; NaN when none
    expected: Float  # expected negatives in the window (surprise rules); NaN otherwise
    zscore: Float  # NaN when none
    history: Float  # novelty-weighted stories in the history span (0 = the prior alone)

    def row(self, i: int) -> dict[str, float | int | None]:
        def opt(value: float) -> float | None:
            return None if math.isnan(value) else float(value)

        return {
            "window": int(self.window[i]), "surprise": float(self.surprise[i]), "share": float(self.share[i]),
            "volume": float(self.volume[i]), "negative": float(self.negative[i]), "count": int(self.count[i]),
            "negatives": int(self.negatives[i]), "mean_score": float(self.mean_score[i]),
            "baseline": opt(self.baseline[i]), "expected": opt(self.expected[i]), "zscore": opt(self.zscore[i]),
            "history": float(self.history[i]),
        }


def window_seconds(rule: Rule, step: int) -> list[int]:
    return [span_seconds(w, step) for w in rule.all_windows]


def baseline_seconds(rule: Rule) -> int:
    """The history span in whole hours (at least one)."""
    return max(HOUR, int(rule.baseline.total_seconds()) // HOUR * HOUR)


def history_needed(rule: Rule, start: int, step: int) -> int:
    """Earliest hour the hour table must cover for boundaries from ``start`` on."""
    return (start - max(window_seconds(rule, step)) - step) // HOUR * HOUR - baseline_seconds(rule)


def change_points(rule: Rule, series: KeySeries, start: int, end: int) -> Int:
    """Boundaries in ``[start, end]`` where the condition can change, ``start`` always first.

    Between two consecutive points the windows hold the same buckets and the history the same hours, so the
    condition (a pure function of those) is constant. Points where every window is empty are left out (the
    condition is false there) except the first one after the data, where a pending or firing alert ends."""
    if end < start:
        return np.zeros(0, dtype=np.int64)
    return change_points_of_many(rule, series, np.array([start]), np.array([end]), period=None)[0]


def change_points_of_many(rule: Rule, series: KeySeries, starts: Int, ends: Int,
                          period: int | None) -> tuple[Int, Int]:
    """:func:`change_points` for keys stacked in one series (see :func:`stack`): key ``i`` lives in
    ``[starts[i], ends[i]]``; returns the points (sorted) and the key each belongs to."""
    step = series.step
    spans = window_seconds(rule, step)
    longest = max(spans)
    minutes = series.minutes.starts
    parts = [np.asarray(starts, dtype=np.int64), minutes + step]
    parts += [minutes + w + step for w in spans]
    # hour marks (the history and the usual volume move there), only while some window holds data, and only
    # near hours whose neighbourhood could meet the volume guards (elsewhere the condition is false throughout and
    # only changes where data enters or leaves a window, which the points above already hold)
    occupied = np.unique(minutes // HOUR * HOUR)
    near = series.total(occupied - longest, occupied + longest + 3 * HOUR)
    could = (near[:, N_COUNT] > 0) & (near[:, NV] / MICRO >= rule.min_volume)
    if rule.surprise_above is not None:
        could &= near[:, NVN] / MICRO >= rule.min_negative
    occupied = occupied[could]
    marks = (occupied[:, None] + np.arange(0, longest + 3 * HOUR, HOUR, dtype=np.int64)[None, :]).ravel()
    for offset in {0, step % HOUR, *(w % HOUR for w in spans)}:
        parts.append(marks + offset)
    points = np.unique(np.concatenate(parts))
    owner = np.zeros(len(points), dtype=np.int64) if period is None else (points - starts[0]) // period
    inside = (owner >= 0) & (owner < len(starts))
    points, owner = points[inside], owner[inside]
    keep = (points >= starts[owner]) & (points <= ends[owner]) & (points % step == 0)
    points, owner = points[keep], owner[keep]
    busy = series.minutes.count_in(points - longest - step, points) > 0
    busy |= points == starts[owner]
    points, owner = points[busy], owner[busy]
    # Where even the longest window (which holds every shorter one) misses the volume guards, the condition is
    # false; of each run of such points only the first matters (it clears or resolves), so drop the rest.
    sums = series.total(points - longest, points)
    possible = (sums[:, N_COUNT] > 0) & (sums[:, NV] / MICRO >= rule.min_volume)
    if rule.surprise_above is not None:
        possible &= (sums[:, NVN] / MICRO >= rule.min_negative) & (sums[:, NVN] > 0)
    first_of_run = np.r_[True, possible[:-1] | (owner[1:] != owner[:-1])]
    keep = possible | first_of_run | (points == starts[owner])
    return points[keep], owner[keep]


def stack(many: list[KeySeries], period: int) -> KeySeries:
    """Several keys' series in one, key ``i`` shifted by ``i * period`` seconds (a whole number of weeks, so hours
    of the day and weekdays are kept), so one vectorised :func:`evaluate` serves them all. Every number the
    evaluator computes is elementwise, so the results equal evaluating each key alone."""
    assert period % (7 * 86400) == 0
    shifted = [(table.starts + i * period, table.values) for i, data in enumerate(many)
               for table in (data.minutes,)]
    hours = [(data.hours.starts + i * period, data.hours.values) for i, data in enumerate(many)]

    def join(parts: list[tuple[Int, Int]]) -> Table:
        if not parts:
            return Table.empty()
        return Table(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    first = many[0]
    return KeySeries(first.scope, "*", first.step, join(shifted), join(hours))


def _season(hour_starts: Int) -> Int:
    """Season class of hours: hour of the day, plus 24 on Saturdays and Sundays (0..47)."""
    days = hour_starts // 86400
    weekend = ((days + 3) % 7) >= 5  # 1970-01-01 was a Thursday; Monday = 0
    return (hour_starts // HOUR) % 24 + 24 * weekend


def _season_prefix(hours: Table) -> NDArray[np.int64]:
    """Cumulative novelty volume (millionths, exact) per season class over the hour table: (hours + 1, 48)."""
    onehot = np.zeros((len(hours), 48), dtype=np.int64)
    onehot[np.arange(len(hours)), _season(hours.starts)] = hours.values[:, NV]
    return np.vstack([np.zeros((1, 48), dtype=np.int64), np.cumsum(onehot, axis=0)])


def _expected_volume(rule: Rule, series: KeySeries, at: Int, start_hour: Int, span: int, cache: dict) -> Float:
    """Stories the key usually gets in the window: its volume by hour of the day, weekdays and weekends apart,
    over the history (hour-of-week seasonality with a week of history), each class shrunk towards the key's
    mean hourly volume (or ``prior_volume_per_day`` for a key with no history)."""
    history = baseline_seconds(rule)
    days = history // 86400 or 1
    prefix = cache.setdefault("season", _season_prefix(series.hours))
    lo_i = np.searchsorted(series.hours.starts, start_hour - history, side="left")
    hi_i = np.searchsorted(series.hours.starts, start_hour, side="left")
    seen = (prefix[hi_i] - prefix[lo_i]) / MICRO  # (len(at), 48)
    total = series.hours.total(start_hour - history, start_hour)[:, NV] / MICRO
    mean_rate = np.where(total > 0, total / (history / HOUR), rule.prior_volume_per_day / 24)
    # how many days of each kind the history holds, counted at the last hour of each hour-of-day class
    last_day = (start_hour - HOUR) // 86400
    weekend_days = np.zeros(len(at), dtype=np.int64)
    for back in range(days):
        weekend_days += ((last_day - back + 3) % 7) >= 5
    n_days = np.concatenate([np.repeat((days - weekend_days)[:, None], 24, axis=1),
                             np.repeat(weekend_days[:, None], 24, axis=1)], axis=1)
    rates = (seen + PRIOR_DAYS * mean_rate[:, None]) / (n_days + PRIOR_DAYS)
    last = ((at - series.step) // HOUR) * HOUR  # the hour of the window's last bucket
    hours = max(1, -(-span // HOUR))
    rows = np.arange(len(at))
    expected = np.zeros(len(at))
    for i in range(hours):
        expected += rates[rows, _season(last - i * HOUR)]
    return expected * (span / HOUR if span < HOUR else 1.0)


def _prior_share(rule: Rule, reference: KeySeries, lo: Int, hi: Int, at: Int, span: int) -> Float:
    """The market's negative share over the history hours; while the market has no history yet (a fresh
    deployment), its share in the same window; ``prior_share`` only when there is no news at all. Model-free:
    whatever share a model tends to give, the prior moves with it."""
    past = reference.hours.total(lo, hi)
    now = reference.total(at - span, at)
    fallback = np.where(now[:, NV] > 0, _smoothed(now), rule.prior_share)
    return np.where(past[:, NV] > 0, _smoothed(past), fallback)


def _smoothed(sums: Int) -> Float:
    """The negative share with half a negative story added (Jeffreys): never exactly 0 on a quiet history."""
    return (sums[:, NVN] / MICRO + 0.5) / (sums[:, NV] / MICRO + 1.0)


def _legacy_z(rule: Rule, series: KeySeries, win_share: Float, volume: Float, hb: Int) -> tuple[Float, Float]:
    """The threshold rules' hourly baseline (mean, spread) and z-score (docs/alerts.md, "Threshold rules")."""
    hours = series.hours
    nv = hours.values[:, NV].astype(np.float64)
    nvn = hours.values[:, NVN].astype(np.float64)
    used = nv > 0
    sq = np.where(used, nvn * nvn / np.where(used, nv, 1.0), 0.0)
    prefix_sq = np.concatenate([[0.0], np.cumsum(sq)])
    prefix_used = np.concatenate([[0], np.cumsum(used)])
    length = int(rule.baseline.total_seconds()) // HOUR * HOUR
    lo_i = np.searchsorted(hours.starts, hb - length, side="left")
    hi_i = np.searchsorted(hours.starts, hb, side="left")
    sums = hours.total(hb - length, hb)
    total = sums[:, NV].astype(np.float64)
    n_hours = prefix_used[hi_i] - prefix_used[lo_i]
    ok = (n_hours >= rule.min_baseline_hours) & (total > 0)
    safe = np.where(ok, total, 1.0)
    mean = np.where(ok, sums[:, NVN] / safe, np.nan)
    variance = np.maximum((prefix_sq[hi_i] - prefix_sq[lo_i]) / safe - np.nan_to_num(mean) ** 2, 0.0)
    binomial = np.sqrt(np.nan_to_num(mean) * (1 - np.nan_to_num(mean)) / np.maximum(volume, 1.0))
    sd = np.maximum(np.maximum(np.sqrt(variance), binomial), rule.min_stddev)
    z = np.where(ok, (win_share - np.nan_to_num(mean)) / sd, np.nan)
    return mean, z


def evaluate(rule: Rule, series: KeySeries, at: Int, reference: KeySeries | None = None,
             shift: Int | int = 0) -> Measures:
    """The rule at every boundary of ``at`` (epoch s, bucket-aligned) for one key; see the module docstring.

    ``reference`` is the market's series, the prior for the negative share (None: the key is its own reference);
    ``shift`` is subtracted from times before they are looked up in it (keys stacked by :func:`stack`)."""
    at = np.asarray(at, dtype=np.int64)
    step = series.step
    cache: dict[str, object] = {}
    best: Measures | None = None
    for index, span in enumerate(window_seconds(rule, step)):
        lo = at - span
        sums = series.total(lo, at)
        volume = sums[:, NV] / MICRO
        negative = sums[:, NVN] / MICRO
        win_share = share(sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_score = np.where(sums[:, NV] > 0, sums[:, NVS] / np.where(sums[:, NV] > 0, sums[:, NV], 1), 0.0)
        guards = (sums[:, COUNT] > 0) & (volume >= rule.min_volume)
        if rule.negative_share_above is not None:
            guards &= win_share > rule.negative_share_above
        if rule.mean_score_below is not None:
            guards &= mean_score < rule.mean_score_below
        nan = np.full(len(at), np.nan)
        hb = (lo // HOUR) * HOUR
        if rule.surprise_above is None:
            mean, z = _legacy_z(rule, series, win_share, volume, hb) if rule.zscore_above is not None else (nan, nan)
            mean = np.where(guards, mean, np.nan)
            z = np.where(guards, z, np.nan)
            condition = guards.copy()
            if rule.zscore_above is not None:
                condition &= np.where(np.isnan(z), not rule.require_baseline, z > rule.zscore_above)
            surprise, expected, history = np.zeros(len(at)), nan, np.zeros(len(at))
        else:
            span_h = baseline_seconds(rule)
            past = series.hours.total(hb - span_h, hb)
            history = past[:, NV] / MICRO
            market, moved = (series, 0) if reference is None else (reference, shift)
            prior = _prior_share(rule, market, hb - span_h - moved, hb - moved, at - moved, span)
            # news at least a day older than the window: the deployment has run long enough that a key's silence
            # means something (in a fresh one every key is new)
            market_past = market.hours.total(hb - span_h - moved, hb - 86400 - moved)[:, NV]
            trust = np.minimum(1.0, rule.dispersion / np.maximum(history, 1e-9))
            alpha = rule.prior_weight * prior + trust * past[:, NVN] / MICRO
            beta = rule.prior_weight + trust * history
            mean = alpha / beta
            surprise = np.zeros(len(at))
            candidates = guards & (negative >= rule.min_negative) & (negative > 0)
            exposure = volume
            if candidates.any():
                pick = np.flatnonzero(candidates)
                if rule.test in ("share", "both"):
                    surprise[pick] = nb_surprise(negative[pick], alpha[pick], beta[pick], volume[pick])
                # the count test needs a day of news history (the market's): in a fresh deployment every key is new
                counted_pick = pick[market_past[pick] > 0]
                if rule.test in ("count", "both") and len(counted_pick):
                    pick = counted_pick
                    usual = _expected_volume(rule, series, at[pick], hb[pick], span, cache)
                    counted = nb_surprise(negative[pick], alpha[pick], beta[pick], usual)
                    if rule.test == "count":
                        exposure = exposure.copy()
                        exposure[pick] = usual
                    surprise[pick] = np.maximum(surprise[pick], counted)
            expected = nb_expected(alpha, beta, exposure)
            condition = candidates & (surprise >= rule.surprise_above) & (win_share > mean)
            z = nan
        measures = Measures(at, condition, np.full(len(at), index, dtype=np.int64), surprise, win_share, volume,
                            negative, sums[:, COUNT].copy(), sums[:, NEG].copy(), mean_score, mean, expected, z,
                            history)
        best = measures if best is None else _pick(best, measures)
    assert best is not None
    return best


def _pick(a: Measures, b: Measures) -> Measures:
    """Per boundary, the window that fires with the larger surprise (else the one closer to firing)."""
    take_b = (b.condition & ~a.condition) | ((b.condition == a.condition) & (b.surprise > a.surprise))
    names = [name for name in Measures.__dataclass_fields__ if name != "at"]
    out = Measures(at=a.at, **{name: np.where(take_b, getattr(b, name), getattr(a, name)) for name in names})
    out.condition = a.condition | b.condition
    return out
