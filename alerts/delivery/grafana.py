"""Grafana annotations for alert state changes, through grafana-client's async API.

A firing alert becomes a point annotation at ``starts_at``; a resolved one a region from ``starts_at`` to
``ends_at``. Tags are ``bearwatch``, the rule, the key and the status, so a dashboard can show one rule or
key. Repeat notifications are not annotated (the state did not change). Grafana errors map to the same
outcomes as webhooks: 5xx, timeouts and connection errors are retried, other 4xx are not.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from alerts.delivery.channels import Outcome
from monitor.ground.contracts import Alert
from monitor.ground.redact import redact_text

log = logging.getLogger(__name__)


def with_trailing_slash(url: str) -> str:
    """grafana-client joins ``/{path}api``: a sub-path must end in ``/`` (``/grafana`` gave ``/grafanaapi``)."""
    parts = urlsplit(url)
    if parts.path and not parts.path.endswith("/"):
        return urlunsplit(parts._replace(path=parts.path + "/"))
    return url


class GrafanaChannel:
    name = "grafana"
    kind = "grafana"
    max_group = 1  # one annotation per request, so a retry never duplicates an annotation already made

    def __init__(self, url: str, token: str | None, timeout_s: float = 10.0) -> None:
        from grafana_client import AsyncGrafanaApi

        self.url = url
        self._api = AsyncGrafanaApi.from_url(with_trailing_slash(url), credential=token, timeout=timeout_s)

    @staticmethod
    def annotation(alert: Alert) -> dict[str, object]:
        start_ms = int(alert.starts_at.timestamp() * 1000)
        end_ms = int(alert.ends_at.timestamp() * 1000) if alert.ends_at else start_ms
        text = f"[{alert.status.upper()}] {alert.rule} {alert.key}: {alert.annotations.get('summary', '')}"
        return {
            "time_from": start_ms,
            "time_to": end_ms,
            "text": text.strip(),
            "tags": ["bearwatch", alert.rule, alert.key, alert.status],
        }

    async def deliver(self, alerts: list[Alert], idempotency_key: str, attempt: int = 1) -> Outcome:
        from grafana_client.client import GrafanaClientError, GrafanaException

        for alert in alerts:
            try:
                await self._api.annotations.add_annotation(**self.annotation(alert))
            except GrafanaClientError as exc:
                return Outcome(
                    ok=False,
                    retry=False,
                    reason=redact_text(f"Grafana HTTP {exc.status_code}: {exc.message}")[:300],
                    status=exc.status_code,
                )
            except GrafanaException as exc:
                return Outcome(
                    ok=False,
                    retry=True,
                    reason=redact_text(f"Grafana: {exc.message}")[:300],
                    status=exc.status_code or None,
                )
            except Exception as exc:  # noqa: BLE001 - niquests connection errors etc.: retry, never crash
                return Outcome(ok=False, retry=True, reason=redact_text(f"Grafana: {type(exc).__name__}: {exc}")[:300])
        return Outcome(ok=True)

    async def close(self) -> None:
        session = getattr(self._api.client, "s", None)
        if session is not None:
            await session.close()
