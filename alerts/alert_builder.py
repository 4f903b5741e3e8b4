"""Turn a lifecycle notification into the ``Alert`` contract message, with the numbers and headlines behind it.

Every number is rounded to 6 decimals and every time is a bucket boundary, so the same data gives a
byte-identical alert in the live pipeline, a replay and the backtest. The numbers come from one row of
:class:`alerts.evaluate.Measures` (the window that fired, or the one closest to firing at a resolve).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from alerts.annotations import render
from alerts.rules import Rule
from alerts.state import Transition
from alerts.surprise import surprise_to_z
from monitor.ground.contracts import Alert, Sample, alert_fingerprint
from monitor.stages.windows.spans import format_span, from_ms

MAX_SAMPLES = 5


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def alert_samples(samples: Sequence[Sample]) -> list[Sample]:
    """The negative headlines an alert carries: the window's most negative first, at most five."""
    return [sample for sample in sorted(samples, key=lambda s: (s.score, s.id)) if sample.score < 0][:MAX_SAMPLES]


def build_alert(rule: Rule, key: str, row: Mapping[str, Any], samples: Sequence[Sample], transition: Transition,
                boundary_s: int) -> Alert:
    """The Alert for a ``fire``, ``repeat`` or ``resolve`` evaluated at ``boundary_s``; ``row`` is
    ``Measures.row(i)`` at that boundary."""
    status: Literal["firing", "resolved"] = "resolved" if transition.action == "resolve" else "firing"
    starts_ms = transition.starts_at_ms if transition.starts_at_ms is not None else boundary_s * 1000
    chosen = alert_samples(samples)
    window = rule.all_windows[int(row["window"])]
    surprise_rule = rule.surprise_above is not None
    zscore = surprise_to_z(float(row["surprise"])) if surprise_rule else row["zscore"]
    values = {
        "rule": rule.name,
        "scope": rule.scope,
        "key": key,
        "severity": rule.severity,
        "status": status,
        "window": format_span(window),
        "negative_share": row["share"],
        "mean_score": row["mean_score"],
        "zscore": zscore,
        "baseline": row["baseline"],
        "volume": row["volume"],
        "count": row["count"],
        "negative": row["negatives"],
        "top_headline": chosen[0].title if chosen else None,
        "surprise": row["surprise"] if surprise_rule else None,
        "expected": row["expected"],
    }
    annotations = {name: render(template, values) for name, template in rule.annotations.items()}
    annotations.update(
        {
            "evaluated_at": from_ms(boundary_s * 1000).isoformat(),
            "window": format_span(window),
            "stories": str(row["count"]),
            "mean_score": f"{row['mean_score']:.6f}",
        }
    )
    if surprise_rule:
        annotations["surprise"] = f"{row['surprise']:.6f}"
        annotations["expected_negative"] = f"{row['expected']:.6f}"
        annotations["negative"] = f"{row['negative']:.6f}"
    if transition.action == "repeat":
        annotations["repeat"] = "true"
    return Alert(
        fingerprint=alert_fingerprint(rule.name, rule.scope, key),
        status=status,
        rule=rule.name,
        scope=rule.scope,  # type: ignore[arg-type]
        key=key,
        severity=rule.severity,
        starts_at=from_ms(starts_ms),
        ends_at=from_ms(boundary_s * 1000) if status == "resolved" else None,
        value=round(row["share"], 6),
        baseline=_round(row["baseline"]),
        zscore=_round(zscore),
        count=round(row["volume"], 6),
        samples=chosen,
        labels={
            "alertname": rule.name,
            "scope": rule.scope,
            "key": key,
            "severity": rule.severity,
            **rule.labels,
        },
        annotations=annotations,
    )
