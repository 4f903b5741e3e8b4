"""Delivery channels: turn a group of alerts into one request and say whether it worked, may be retried, or
not.

A channel never raises for a delivery problem; it returns an :class:`Outcome`, so the outbox worker alone
decides about retries and dead letters. Webhooks (Alertmanager v4, Slack, Teams) share one HTTP path with the
total deadline, the bounded answer and the address policy of :mod:`monitor.ground.httpfetch`, the signature and the
idempotency key; Grafana annotations go through grafana-client.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from alerts.delivery import alertmanager, slack, teams
from alerts.delivery.signing import HEADER, sign
from monitor.ground.contracts import Alert
from monitor.ground.httpfetch import Answer, FetchFailure, FetchLimits, PrivateMode, exchange
from monitor.ground.redact import redact_text, redact_url
from monitor.ground.retry import transient_status
from monitor.ground.settings import WebhookTarget

log = logging.getLogger(__name__)
USER_AGENT = "Bearwatch-Alerts/0.1"
ANSWER_MAX_BYTES = 65_536  # of a receiver's answer: enough for its error message, never its 300 MB body
REASON_BYTES = 1000


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


def classify(answer: Answer) -> Outcome:
    """2xx: done. 429 and 5xx: retry (honouring Retry-After). A redirect: not followed, a permanent failure that
    says where it pointed. Anything else: a permanent failure, no retry."""
    status = answer.status
    if 200 <= status < 300:
        return Outcome(ok=True, status=status)
    text = redact_text(answer.body[:REASON_BYTES].decode("utf-8", "replace").strip())
    text = " ".join(text.split())[:200]
    reason = f"HTTP {status}: {text}" if text else f"HTTP {status} {answer.reason}".rstrip()
    if 300 <= status < 400:
        where = redact_url(answer.headers.get("Location", "")) or "nowhere"
        return Outcome(ok=False, retry=False, status=status, reason=(
            f"HTTP {status} redirect to {where}: webhooks do not follow redirects, configure the final URL"))
    if transient_status(status):
        return Outcome(ok=False, retry=True, reason=reason, status=status, retry_after_s=answer.retry_after_s)
    return Outcome(ok=False, retry=False, reason=reason, status=status)


class WebhookChannel:
    """POST a JSON body to one configured webhook target."""

    def __init__(
        self, target: WebhookTarget, client: httpx.AsyncClient, private_addresses: PrivateMode = "configured"
    ) -> None:
        self.target = target
        self.private_addresses: PrivateMode = private_addresses
        self.name = target.name
        self.kind: str = target.kind
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
        limits = FetchLimits(max_body_bytes=ANSWER_MAX_BYTES, total_timeout_s=self.target.timeout_s, max_redirects=0,
                             private_addresses=self.private_addresses, truncate_body=True)
        try:
            answer = await exchange(self._client, "POST", self.target.url, limits, headers=headers, content=body,
                                    follow_redirects=False)
        except FetchFailure as exc:
            if exc.kind == "timeout":
                return Outcome(ok=False, retry=True, reason=f"no complete answer within {self.target.timeout_s:g} s")
            retry = exc.kind not in ("refused_address", "bad_url")
            return Outcome(ok=False, retry=retry, reason=redact_text(f"{exc.kind}: {exc}")[:300])
        return classify(answer)

    async def close(self) -> None:
        """The HTTP client is shared and closed by the notifier."""
