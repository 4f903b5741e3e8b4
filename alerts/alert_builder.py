"""Turn a lifecycle transition into the ``Alert`` contract message, with the numbers and headlines behind it.

Every number is rounded to 6 decimals and every time is a bucket boundary, so the same data gives a
byte-identical alert in the live pipeline, a replay and the backtest.
"""

from __future__ import annotations

from alerts.annotations import render
from alerts.measure import Measurement
from alerts.rules import Rule
from alerts.state import Transition
from monitor.schemas import Alert, alert_fingerprint
from monitor.windows.spans import format_span, from_ms

MAX_SAMPLES = 5


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def build_alert(
    rule: Rule, key: str, measured: Measurement, transition: Transition, boundary_s: int
) -> Alert:
    """The Alert for a ``fire``, ``repeat`` or ``resolve`` transition evaluated at ``boundary_s``."""
    stats = measured.stats
    status = "resolved" if transition.action == "resolve" else "firing"
    starts_ms = transition.starts_at_ms if transition.starts_at_ms is not None else boundary_s * 1000
    samples = [sample for sample in stats.samples if sample.score < 0][:MAX_SAMPLES]
    baseline = measured.baseline.mean if measured.baseline else None
    values = {
        "rule": rule.name,
        "scope": rule.scope,
        "key": key,
        "severity": rule.severity,
        "status": status,
        "window": format_span(rule.window),
        "negative_share": measured.share,
        "mean_score": measured.mean_score,
        "zscore": measured.zscore,
        "baseline": baseline,
        "volume": measured.volume,
        "count": stats.count,
        "negative": stats.negative,
        "top_headline": samples[0].title if samples else None,
    }
    annotations = {name: render(template, values) for name, template in rule.annotations.items()}
    annotations.update(
        {
            "evaluated_at": from_ms(boundary_s * 1000).isoformat(),
            "window": format_span(rule.window),
            "stories": str(stats.count),
            "mean_score": f"{measured.mean_score:.6f}",
        }
    )
    if transition.action == "repeat":
        annotations["repeat"] = "true"
    return Alert(
        fingerprint=alert_fingerprint(rule.name, rule.scope, key),
        status=status,
        rule=rule.name,
        scope=rule.scope,
        key=key,
        severity=rule.severity,
        starts_at=from_ms(starts_ms),
        ends_at=from_ms(boundary_s * 1000) if status == "resolved" else None,
        value=round(measured.share, 6),
        baseline=_round(baseline),
        zscore=_round(measured.zscore),
        count=round(measured.volume, 6),
        samples=samples,
        labels={
            "alertname": rule.name,
            "scope": rule.scope,
            "key": key,
            "severity": rule.severity,
            **rule.labels,
        },
        annotations=annotations,
    )
