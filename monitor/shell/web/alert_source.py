"""Where the status page and the gauges learn which alerts are firing.

The alert lifecycle (firing → resolved, one owner per fingerprint) belongs to the alerts stage, which keeps it in
Redis. This module is the one seam between that stage and the web views: it reads the firing alerts through the
alerts stage's public ``AlertState.firing()``, adds each rule's severity from the rules file (the state does not
store it), and turns them into small JSON rows. Without an alerts stage there are simply no firing alerts: the
status page and the metrics keep working instead of failing on an import.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FiringSource = Callable[[], Awaitable[list[dict[str, Any]]]]
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def _iso_from_ms(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def alert_row(state: Mapping[str, Any], severities: Mapping[str, str]) -> dict[str, Any]:
    """One firing alert as JSON: fingerprint, rule, scope, key, severity, starts_at (RFC 3339) and value."""
    rule = str(state.get("rule") or "")
    return {
        "fingerprint": str(state.get("fingerprint") or ""),
        "rule": rule,
        "scope": str(state.get("scope") or ""),
        "key": str(state.get("key") or ""),
        "severity": severities.get(rule, "warning"),
        "starts_at": _iso_from_ms(state.get("starts_at")),
        "value": _number(state.get("value")),
    }


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most severe first, then the newest: what a reader should look at first is on top."""
    rows = sorted(rows, key=lambda r: str(r.get("starts_at") or ""), reverse=True)
    return sorted(rows, key=lambda r: SEVERITY_ORDER.get(r["severity"], len(SEVERITY_ORDER)))


def _rule_severities(rules_file: Path | None) -> dict[str, str]:
    from alerts.rules import load_rules

    try:
        return {rule.name: rule.severity for rule in load_rules(rules_file)}
    except Exception as exc:  # noqa: BLE001 - a bad rules file is the detector's error to report, not ours
        log.warning("rules not readable for alert severities (%s); showing 'warning'", exc)
        return {}


def firing_source(redis: Any, namespace: str, rules_file: Path | None = None) -> FiringSource:
    """An async callable returning the firing alerts of ``namespace`` as rows (always empty without alerts/)."""
    try:
        from alerts.state import AlertState
    except ModuleNotFoundError as exc:
        if exc.name is None or not "alerts.state".startswith(exc.name):
            raise
        log.info("no alerts stage installed: the status page and gauges show no firing alerts")
        return no_alerts
    state = AlertState(redis, namespace)
    severities: dict[str, str] | None = None

    async def firing() -> list[dict[str, Any]]:
        nonlocal severities
        if severities is None:
            severities = _rule_severities(rules_file)
        return sort_rows([alert_row(row, severities) for row in await state.firing()])

    return firing


async def no_alerts() -> list[dict[str, Any]]:
    """A source with no alerts, for views that run without an alerts stage."""
    return []
