"""One polite, bounded HTTP GET of a feed: conditional, size-capped, time-capped, with typed failures.

The bounds themselves are the shared HTTP policy of :mod:`monitor.ground.httpfetch` (decoded-size cap enforced while
streaming, stacked encodings included; one total deadline; redirects followed by hand with an address check on
every hop; the feed's own headers never sent to another host). This module adds what is particular to feeds:
the host gate (politeness), conditional-GET validators, and the reading of statuses (304, 429/503 with
``Retry-After``, 4xx/5xx). Every failure is a :class:`FetchError` whose ``kind`` is a metric label and whose
message is one line naming the cause, with URLs redacted.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumers.politeness import HostGate
from consumers.registry import EngineConfig
from consumers.validators import Validators
from monitor.ground.httpfetch import FetchFailure, FetchLimits, PrivateMode, exchange, guarded_client
from monitor.ground.redact import redact_url
from monitor.ground.retry import parse_retry_after

FetchError = FetchFailure  # one failure type for every outside request

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200 (body read) or 304 (not modified, no body)
    body: bytes
    url: str
    content_type: str
    content_language: str | None
    validators: Validators
    wire_bytes: int
    elapsed_s: float
    politeness_wait_s: float
    redirected_from: str | None = None  # the URL asked for, when redirects led elsewhere


class Fetcher:
    """Shared HTTP client of all feeds (HTTP/1.1 only, bounded connection pool, guarded), behind the host gate."""

    def __init__(
        self, engine: EngineConfig, user_agent: str, gate: HostGate, private_addresses: PrivateMode = "configured"
    ) -> None:
        self.engine = engine
        self.gate = gate
        self.limits = FetchLimits(
            max_body_bytes=engine.max_body_bytes, total_timeout_s=engine.total_timeout_s,
            max_redirects=engine.max_redirects, private_addresses=private_addresses,
        )
        self.client = guarded_client(
            headers={"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
            max_connections=engine.max_connections, connect_timeout_s=engine.connect_timeout_s,
            read_timeout_s=engine.read_timeout_s,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(
        self, url: str, headers: dict[str, str] | None = None, validators: Validators | None = None
    ) -> FetchResult:
        request_headers = dict(headers or {})
        if validators:
            request_headers.update(validators.request_headers())
        async with self.gate.slot(url) as waited:
            answer = await exchange(
                self.client, "GET", url, self.limits, headers=request_headers, read_body=lambda status: status == 200,
            )
        shown = redact_url(answer.url)
        status = answer.status
        if status in (429, 503):
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            kind = "rate_limited" if status == 429 else "http_5xx"
            wait = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
            raise FetchError(kind, f"HTTP {status}{wait} from {shown}", status=status, retry_after_s=retry_after,
                             wire_bytes=answer.wire_bytes)
        if status >= 400:
            kind = "http_5xx" if status >= 500 else "http_4xx"
            raise FetchError(kind, f"HTTP {status} {answer.reason} from {shown}", status=status,
                             wire_bytes=answer.wire_bytes)
        if status not in (200, 304):
            where = f" to {redact_url(answer.headers.get('Location', ''))}" if "Location" in answer.headers else ""
            raise FetchError("http_status", f"unexpected HTTP {status}{where} from {shown}", status=status,
                             wire_bytes=answer.wire_bytes)
        return FetchResult(
            status=status,
            body=answer.body if status == 200 else b"",
            url=answer.url,
            content_type=answer.headers.get("Content-Type", ""),
            content_language=answer.headers.get("Content-Language"),
            validators=Validators(answer.headers.get("ETag"), answer.headers.get("Last-Modified")),
            wire_bytes=answer.wire_bytes,
            elapsed_s=answer.elapsed_s,
            politeness_wait_s=waited,
            redirected_from=answer.redirects[0] if answer.redirects else None,
        )


__all__ = ["ACCEPT", "FetchError", "FetchResult", "Fetcher"]
