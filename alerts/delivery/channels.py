"""Delivery channels: turn a group of alerts into one request and say whether it worked, may be retried, or
not.

A channel never raises for a delivery problem; it returns an :class:`Outcome`, so the outbox worker alone
decides about retries and dead letters. Webhooks (Alertmanager v4, Slack, Teams) share one HTTP path with the
timeout, the signature and the idempotency key; Grafana annotations go through grafana-client.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from alerts.delivery import alertmanager, slack, teams
from alerts.delivery.backoff import parse_retry_after
from alerts.delivery.signing import HEADER, sign
from monitor.schemas import Alert
from monitor.settings import WebhookTarget

log = logging.getLogger(__name__)
USER_AGENT = "Bearwatch-Alerts/0.1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool = False
    reason: str = ""
    retry_after_s: float | None = None
    status: int | None = None


class Channel(Protocol):
    name: str
    kind: str

    async def deliver(self, alerts: list[Alert], idempotency_key: str, attempt: int) -> Outcome: ...

    async def close(self) -> None: ...


def render(kind: str, alerts: list[Alert], receiver: str) -> dict[str, Any]:
    """The JSON body a channel kind sends for a group of alerts."""
    if kind == "slack":
        return slack.build(alerts)
    if kind == "teams":
        return teams.build(alerts)
    return alertmanager.build(alerts, receiver)


def classify(response: httpx.Response) -> Outcome:
    """2xx: done. 429 and 5xx: retry (honouring Retry-After). Anything else: a permanent failure, no retry."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(ok=True, status=status)
    reason = f"HTTP {status}: {response.text[:200].strip()}"
    if status == 429 or status >= 500:
        return Outcome(
            ok=False,
            retry=True,
            reason=reason,
            status=status,
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )
    return Outcome(ok=False, retry=False, reason=reason, status=status)


class WebhookChannel:
    """POST a JSON body to one configured webhook target."""

    def __init__(self, target: WebhookTarget, client: httpx.AsyncClient) -> None:
        self.target = target
        self.name = target.name
        self.kind = target.kind
        self._client = client

    def request(
        self, alerts: list[Alert], idempotency_key: str, attempt: int = 1
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(render(self.kind, alerts, self.name), separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": idempotency_key,
            "X-Bearwatch-Attempt": str(attempt),
        }
        if self.target.secret:
            headers[HEADER] = sign(self.target.secret, body)
        return body, headers

    async def deliver(self, alerts: list[Alert], idempotency_key: str, attempt: int = 1) -> Outcome:
        body, headers = self.request(alerts, idempotency_key, attempt)
        try:
            response = await self._client.post(
                self.target.url, content=body, headers=headers, timeout=httpx.Timeout(self.target.timeout_s)
            )
        except httpx.TimeoutException:
            return Outcome(ok=False, retry=True, reason=f"timeout after {self.target.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return Outcome(ok=False, retry=True, reason=f"{type(exc).__name__}: {exc}"[:300])
        return classify(response)

    async def close(self) -> None:
        """The HTTP client is shared and closed by the notifier."""
