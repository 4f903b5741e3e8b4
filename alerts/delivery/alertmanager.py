"""The generic webhook body: Prometheus Alertmanager's webhook payload, version 4.

Existing Alertmanager receivers (chat bridges, incident tools) accept it unchanged. Labels identify the alert
(``alertname`` is the rule); annotations carry the text and the numbers as strings, including the top negative
headlines with their links, because the v4 format has no other place for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.ground.contracts import Alert

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(moment: datetime | None) -> str:
    if moment is None:
        return ZERO_TIME
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{moment.microsecond:06d}" if moment.microsecond else "")
        + "Z"
    )


def _annotations(alert: Alert) -> dict[str, str]:
    notes = dict(alert.annotations)
    notes["value"] = f"{alert.value:.6f}"
    notes["volume"] = f"{alert.count:.6f}"
    if alert.baseline is not None:
        notes["baseline"] = f"{alert.baseline:.6f}"
    if alert.zscore is not None:
        notes["zscore"] = f"{alert.zscore:.6f}"
    if alert.samples:
        notes["headlines"] = "\n".join(f"{s.score:+.2f} {s.title} {s.url}".rstrip() for s in alert.samples)
    return notes


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def build(alerts: list[Alert], receiver: str, external_url: str = "") -> dict[str, Any]:
    """One v4 body for a group of alerts of one rule and status."""
    items: list[dict[str, Any]] = [
        {
            "status": alert.status,
            "labels": dict(alert.labels),
            "annotations": _annotations(alert),
            "startsAt": rfc3339(alert.starts_at),
            "endsAt": rfc3339(alert.ends_at),
            "generatorURL": alert.samples[0].url if alert.samples else "",
            "fingerprint": alert.fingerprint,
        }
        for alert in alerts
    ]
    rule = alerts[0].rule
    return {
        "receiver": receiver,
        "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
        "alerts": items,
        "groupLabels": {"alertname": rule},
        "commonLabels": _common([item["labels"] for item in items]),
        "commonAnnotations": _common([item["annotations"] for item in items]),
        "externalURL": external_url,
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{rule}"}}',
        "truncatedAlerts": 0,
    }
