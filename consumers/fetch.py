"""One polite, bounded HTTP GET of a feed: conditional, size-capped, time-capped, with typed failures.

Nothing a remote server does may stall or exhaust the consumer: connect and read timeouts bound each step, a total
deadline bounds a server that trickles bytes forever, the body is streamed and abandoned past ``max_body_bytes``
(counted after gzip/deflate decoding, so a compression bomb stops too), and redirects are capped. Every failure
becomes a :class:`FetchError` whose ``kind`` is a metric label and whose message names the cause.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from consumers.backoff import parse_retry_after
from consumers.politeness import HostGate
from consumers.registry import EngineConfig
from consumers.validators import Validators

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


class FetchError(Exception):
    """A poll failed. ``kind``: timeout, connect, http_4xx, http_5xx, rate_limited, too_large, redirects, ..."""

    def __init__(
        self, kind: str, detail: str, *, status: int | None = None, retry_after_s: float | None = None,
        wire_bytes: int = 0,
    ) -> None:
        self.kind = kind
        self.status = status
        self.retry_after_s = retry_after_s
        self.wire_bytes = wire_bytes
        super().__init__(detail)


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


class Fetcher:
    """Shared HTTP client of all feeds (HTTP/1.1 only, bounded connection pool), behind the host gate."""

    def __init__(self, engine: EngineConfig, user_agent: str, gate: HostGate) -> None:
        self.engine = engine
        self.gate = gate
        self.client = httpx.AsyncClient(
            http1=True,
            http2=False,
            follow_redirects=True,
            max_redirects=engine.max_redirects,
            timeout=httpx.Timeout(
                connect=engine.connect_timeout_s, read=engine.read_timeout_s, write=engine.read_timeout_s,
                pool=engine.total_timeout_s,
            ),
            limits=httpx.Limits(
                max_connections=engine.max_connections, max_keepalive_connections=engine.max_connections,
                keepalive_expiry=30.0,
            ),
            headers={"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
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
            began = time.monotonic()
            try:
                async with asyncio.timeout(self.engine.total_timeout_s):
                    return await self._get(url, request_headers, began, waited)
            except TimeoutError:
                raise FetchError("timeout", f"no complete answer within {self.engine.total_timeout_s:g} s") from None
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"{type(exc).__name__}: {exc or 'timed out'}") from None
            except httpx.ConnectError as exc:
                raise FetchError("connect", f"cannot connect: {exc}") from None
            except httpx.TooManyRedirects:
                raise FetchError("redirects", f"more than {self.engine.max_redirects} redirects") from None
            except httpx.DecodingError as exc:
                raise FetchError("decoding", f"cannot decode the compressed body: {exc}") from None
            except httpx.InvalidURL as exc:
                raise FetchError("bad_url", f"invalid URL: {exc}") from None
            except httpx.HTTPError as exc:
                raise FetchError("transport", f"{type(exc).__name__}: {exc}") from None

    async def _get(self, url: str, headers: dict[str, str], began: float, waited: float) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            final_url = str(response.url)
            if status == 304:
                return self._result(response, b"", began, waited)
            if status in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                kind = "rate_limited" if status == 429 else "http_5xx"
                shown = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
                raise FetchError(kind, f"HTTP {status}{shown}", status=status, retry_after_s=retry_after)
            if status >= 400:
                kind = "http_5xx" if status >= 500 else "http_4xx"
                raise FetchError(kind, f"HTTP {status} {response.reason_phrase} from {final_url}", status=status)
            if status != 200:
                raise FetchError("http_status", f"unexpected HTTP {status} from {final_url}", status=status)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.engine.max_body_bytes:
                raise FetchError("too_large", f"Content-Length {declared} exceeds {self.engine.max_body_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.engine.max_body_bytes:
                    raise FetchError(
                        "too_large", f"body exceeds {self.engine.max_body_bytes} bytes; stopped reading",
                        wire_bytes=response.num_bytes_downloaded,
                    )
                chunks.append(chunk)
            return self._result(response, b"".join(chunks), began, waited)

    @staticmethod
    def _result(response: httpx.Response, body: bytes, began: float, waited: float) -> FetchResult:
        return FetchResult(
            status=response.status_code,
            body=body,
            url=str(response.url),
            content_type=response.headers.get("Content-Type", ""),
            content_language=response.headers.get("Content-Language"),
            validators=Validators(response.headers.get("ETag"), response.headers.get("Last-Modified")),
            wire_bytes=response.num_bytes_downloaded,
            elapsed_s=time.monotonic() - began,
            politeness_wait_s=waited,
        )
