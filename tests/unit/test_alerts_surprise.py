"""The surprise statistics against independent closed forms: Poisson and negative-binomial tails summed term by
term with ``math``, the geometric case, the Poisson limit, and the evaluator's share and count tests on arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.evaluate import change_points, evaluate
from alerts.rules import parse_rules
from alerts.series import KeySeries, Table, hours_of
from alerts.surprise import MAX_SURPRISE, lgamma, log_betainc, nb_surprise, surprise_to_z


def poisson_tail(k: int, mu: float) -> float:
    """P(X >= k), X ~ Poisson(mu), as 1 - sum of the pmf below k."""
    return 1.0 - sum(math.exp(-mu + j * math.log(mu) - math.lgamma(j + 1)) for j in range(k))


def nb_tail(k: int, r: float, beta: float, t: float) -> float:
    """P(X >= k) for the gamma-Poisson mixture, summing the negative-binomial pmf (success prob beta/(beta+t))."""
    p = beta / (beta + t)
    below = sum(math.exp(math.lgamma(j + r) - math.lgamma(r) - math.lgamma(j + 1) + r * math.log(p)
                         + j * math.log1p(-p)) for j in range(k))
    return 1.0 - below


def test_lgamma_matches_math() -> None:
    xs = np.array([1e-3, 0.3, 0.5, 1.0, 1.5, 7.25, 40.0, 1e3, 1e6])
    assert np.allclose(lgamma(xs), [math.lgamma(x) for x in xs], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("a", "b", "x", "expected"), [
    (1.0, 1.0, 0.3, 0.3),                     # uniform: I_x(1,1) = x
    (2.0, 1.0, 0.4, 0.4 ** 2),                # I_x(a,1) = x^a
    (1.0, 3.0, 0.2, 1 - 0.8 ** 3),            # I_x(1,b) = 1 - (1-x)^b
    (5.0, 5.0, 0.5, 0.5),                     # symmetry
])
def test_incomplete_beta_closed_forms(a: float, b: float, x: float, expected: float) -> None:
    assert math.exp(float(log_betainc(a, b, x))) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("k", "r", "beta", "t"), [
    (5, 2.0, 10.0, 3.0), (40, 3.0, 100.0, 140.0), (3, 0.6, 20.0, 10.0), (100, 30.0, 1000.0, 1500.0),
    (12, 150.0, 5000.0, 250.0), (1, 0.5, 1.0, 0.01),
])
def test_negative_binomial_tail_matches_the_summed_pmf(k: int, r: float, beta: float, t: float) -> None:
    expected = nb_tail(k, r, beta, t)
    assert 10 ** -float(nb_surprise(k, r, beta, t)) == pytest.approx(expected, rel=1e-9)


def test_geometric_case_and_far_tail_in_log_space() -> None:
    # r = 1: P(X >= k) = (t / (beta + t))^k exactly; deep in the tail the log stays exact
    assert float(nb_surprise(10, 1.0, 168.0, 24.0)) == pytest.approx(-10 * math.log10(24 / 192), rel=1e-12)
    assert float(nb_surprise(200, 1.0, 99.0, 1.0)) == pytest.approx(400.0 if 400 < MAX_SURPRISE else MAX_SURPRISE)


@pytest.mark.parametrize(("k", "mu"), [(3, 0.5), (10, 4.0), (60, 45.0), (80, 45.0)])
def test_a_sure_rate_is_the_poisson_tail(k: int, mu: float) -> None:
    # shape -> infinity with shape / rate_scale fixed: the rate is known, the count is Poisson(rate * exposure)
    shape = 1e9
    got = 10 ** -float(nb_surprise(k, shape, shape / mu, 1.0))
    assert got == pytest.approx(poisson_tail(k, mu), rel=1e-5)


def test_edges_nothing_negative_and_nothing_expected() -> None:
    out = nb_surprise([0, 0.0, 3, 3], [1, 1, 1, 1], [10, 10, 10, 10], [5, 0, 0, 5])
    assert out[0] == out[1] == 0.0 and out[2] == MAX_SURPRISE and 0 < out[3] < MAX_SURPRISE
    assert surprise_to_z(0.0) == 0.0 and surprise_to_z(2.0) == pytest.approx(2.3263, abs=1e-3)


def key_series(rows: dict[int, tuple[int, ...]], step: int = 60) -> KeySeries:
    minutes = Table.from_rows(rows)
    return KeySeries("ticker", "K", step, minutes, hours_of(minutes))


def day_rows(days: int, per_day: int, negative_every: int, start: int = 1_700_006_400,
             crisis: dict[int, int] | None = None) -> dict[int, tuple[int, ...]]:
    """``per_day`` stories a day spread over the day's hours 8..20, every ``negative_every``-th negative;
    ``crisis`` maps a day to its number of extra negative stories."""
    rows: dict[int, tuple[int, ...]] = {}
    for day in range(days):
        extra = (crisis or {}).get(day, 0)
        for i in range(per_day + extra):
            t = start + day * 86400 + (8 + (i * 12) // (per_day + extra)) * 3600 + (i % 60) * 60
            negative = i >= per_day or i % negative_every == 0
            row = rows.get(t, (0, 0, 0, 0, 0, 0))
            score = -800_000 if negative else 100_000
            rows[t] = (row[0] + 1, row[1] + negative, row[2] + score, row[3] + 1_000_000,
                       row[4] + (1_000_000 if negative else 0), row[5] + score)
    return rows


RULE = """
[[rule]]
name = "s"
scope = "ticker"
windows = ["1h", "24h"]
surprise_above = 4
test = "{test}"
min_negative = 3
min_volume = 3
"""


@pytest.mark.parametrize("test", ["share", "count", "both"])
def test_a_steady_key_is_quiet_and_a_doubled_negative_day_is_surprising(test: str) -> None:
    rule = parse_rules(RULE.replace("{test}", test))[0]
    start = 1_700_006_400  # a midnight
    calm = key_series(day_rows(10, 200, 20, start))
    at = np.arange(start + 8 * 86400, start + 10 * 86400, 600, dtype=np.int64)
    assert not evaluate(rule, calm, at).condition.any()
    crisis = key_series(day_rows(10, 200, 20, start, crisis={9: 25}))
    fired = evaluate(rule, crisis, at)
    assert fired.condition.any()
    first = int(fired.at[np.argmax(fired.condition)])
    assert start + 9 * 86400 < first < start + 10 * 86400
    row = fired.row(int(np.argmax(fired.condition)))
    assert row["surprise"] >= 4 and row["baseline"] == pytest.approx(0.05, abs=0.01)


def test_a_key_without_history_fires_on_volume_alone_against_the_market_prior() -> None:
    rule = parse_rules(RULE.replace("{test}", "share"))[0]
    start = 1_700_006_400
    market = key_series(day_rows(8, 400, 25, start))  # the news as a whole: 4% negative
    newcomer = key_series({start + 7 * 86400 + 3600 * h: (10, 5, -5_000_000, 10_000_000, 5_000_000, -5_000_000)
                           for h in range(9, 13)})  # never seen before: 40 stories in 4 hours, half negative
    at = np.array([start + 7 * 86400 + 13 * 3600], dtype=np.int64)
    row = evaluate(rule, newcomer, at, market).row(0)
    assert row["history"] == 0 and row["baseline"] == pytest.approx(0.04, abs=1e-3)
    assert row["surprise"] > 6 and evaluate(rule, newcomer, at, market).condition[0]
    quiet = key_series({start + 7 * 86400 + 9 * 3600: (4, 1, 0, 4_000_000, 1_000_000, 0)})
    assert not evaluate(rule, quiet, at, market).condition[0]


def test_change_points_cover_every_change_and_skip_empty_stretches() -> None:
    rule = parse_rules(RULE.replace("{test}", "both"))[0]
    start = 1_700_006_400
    series = key_series(day_rows(3, 50, 5, start) | day_rows(1, 50, 2, start + 20 * 86400))
    lo, hi = start + 60, start + 22 * 86400
    points = change_points(rule, series, lo, hi)
    every = np.arange(lo, hi + 1, 60, dtype=np.int64)
    dense = evaluate(rule, series, every)
    sparse = evaluate(rule, series, points)
    held = np.searchsorted(points, every, side="right") - 1  # the point in force at each boundary
    assert np.array_equal(dense.condition, sparse.condition[held])
    assert np.allclose(dense.surprise, sparse.surprise[held])
    assert len(points) < len(every) / 5
