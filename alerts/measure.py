"""The numbers a rule looks at: window share and score, the baseline, the z-score; and the rule's condition.

Baseline method (bucketed mean/variance, chosen over an EWMA because it is a pure function of the stored
buckets, so a replay or a backtest computes exactly the same value at the same event time, whatever state a
worker had):

* the baseline span (e.g. 7 d) is read as whole hour buckets ending at the hour that contains the start of the
  rule's window, so the window never sits in its own baseline and all reads are pre-aggregated hour keys;
* ``mean`` is the novelty-weighted negative share over all those hours; ``stddev`` is the novelty-weighted
  standard deviation of the hourly shares around it (hours with no stories are left out);
* ``z = (share - mean) / sd`` with ``sd = max(stddev, sqrt(mean (1 - mean) / volume), min_stddev)``: the
  binomial term keeps a handful of stories in a quiet window from producing a huge z, the floor keeps a very
  stable baseline from doing the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.rules import Rule
from monitor.windows import WindowStats


@dataclass(frozen=True)
class Baseline:
    mean: float
    stddev: float
    hours: int
    volume: float


@dataclass(frozen=True)
class Measurement:
    """One rule's view of one window. ``share`` and ``mean_score`` are novelty-weighted."""

    stats: WindowStats
    baseline: Baseline | None = None
    zscore: float | None = None

    @property
    def share(self) -> float:
        return self.stats.weighted_negative_share

    @property
    def mean_score(self) -> float:
        return self.stats.weighted_mean_score

    @property
    def volume(self) -> float:
        return self.stats.novelty_volume


def baseline_from_hours(hours: Sequence[WindowStats], min_hours: int) -> Baseline | None:
    """Mean and spread of the hourly negative share; ``None`` with fewer than ``min_hours`` hours of data."""
    used = [hour for hour in hours if hour.novelty_micro > 0]
    if len(used) < min_hours:
        return None
    total = sum(hour.novelty_micro for hour in used)
    mean = sum(hour.novelty_negative_micro for hour in used) / total
    variance = sum(hour.novelty_micro * (hour.weighted_negative_share - mean) ** 2 for hour in used) / total
    return Baseline(mean=mean, stddev=math.sqrt(variance), hours=len(used), volume=total / 1_000_000)


def zscore(share: float, volume: float, baseline: Baseline, min_stddev: float) -> float:
    binomial = math.sqrt(baseline.mean * (1 - baseline.mean) / max(volume, 1.0))
    return (share - baseline.mean) / max(baseline.stddev, binomial, min_stddev)


def passes_guards(rule: Rule, stats: WindowStats) -> bool:
    """All but the z-score: volume and absolute thresholds (cheap; decides if a baseline is needed)."""
    if stats.count == 0 or stats.novelty_volume < rule.min_volume:
        return False
    if (
        rule.negative_share_above is not None
        and not stats.weighted_negative_share > rule.negative_share_above
    ):
        return False
    return rule.mean_score_below is None or stats.weighted_mean_score < rule.mean_score_below


def holds(rule: Rule, measured: Measurement) -> bool:
    """The rule's condition: all guards, and the z-score test when the rule has one."""
    if not passes_guards(rule, measured.stats):
        return False
    if rule.zscore_above is None:
        return True
    if measured.zscore is None:
        return not rule.require_baseline
    return measured.zscore > rule.zscore_above
