"""The one HTTP policy for everything Bearwatch fetches from or sends to outside servers (feeds, webhooks).

Every byte a remote server sends is outside input, so one request, redirects included, is bounded here:

- **size**: the body is decoded by us while it streams, layer by layer for stacked ``Content-Encoding``
  (``gzip, gzip``), and every layer stops at ``max_body_bytes`` of output, so 2 KB of nested gzip cannot inflate
  to a gigabyte before a check runs (zlib's ``max_length`` bounds each step); unknown encodings are refused;
- **time**: one total deadline for the whole exchange, redirects and body included, not a per-read timeout that a
  server trickling one byte every few seconds never trips;
- **addresses**: redirects are followed by hand, and every hop's host is resolved and checked before a request is
  sent, and again at connect time on the very address connected to (a DNS answer that changes in between is
  caught). ``private_addresses`` (``BEARWATCH_PRIVATE_ADDRESSES``) decides: ``configured`` (default) lets the URL
  an operator configured be anywhere (an intranet feed, a local Alertmanager, the test servers on loopback) but a
  redirect may reach a non-public address only from a non-public one, and never link-local (cloud metadata,
  169.254.169.254); ``never`` wants every hop public; ``always`` checks nothing. Any textual form of an address
  (``2130706433``, ``0177.0.0.1``, ``localhost``) is caught because the check runs on what the name resolves to;
- **credentials**: on a redirect to another origin the caller's headers (API keys, ``Authorization``, cookies),
  the URL's user info and conditional-request validators are dropped; only the client's own headers go on.

A failure is a :class:`FetchFailure` whose ``kind`` is a short metric label and whose message is one line with
every URL in it redacted (:mod:`monitor.ground.redact`).
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from monitor.ground.errors import BearwatchError
from monitor.ground.redact import redact_url
from monitor.ground.retry import parse_retry_after

PrivateMode = Literal["configured", "never", "always"]
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_ENCODING_LAYERS = 3
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchFailure(BearwatchError):
    """A request failed. ``kind``: timeout, connect, refused_address, redirects, too_large, decoding, bad_url,
    http_4xx, http_5xx, rate_limited, transport. ``str()`` is one line, URLs redacted."""

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
class FetchLimits:
    """What one exchange may cost: decoded bytes, seconds in total, redirects, and which addresses it may reach."""

    max_body_bytes: int = 5_000_000
    total_timeout_s: float = 45.0
    max_redirects: int = 5
    private_addresses: PrivateMode = "configured"
    truncate_body: bool = False  # True: keep the first max_body_bytes and stop (webhook answers); False: fail


@dataclass
class Answer:
    """A final (non-redirect) response with its decoded, bounded body."""

    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    url: str
    wire_bytes: int
    elapsed_s: float
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)

    @property
    def retry_after_s(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


# --- addresses -------------------------------------------------------------------------------------------------


def address_kind(ip: IPAddress) -> str:
    """``public`` or the reason an address is not: loopback, private, link-local, ..."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved or not ip.is_global:
        return "non-public"
    return "public"


@dataclass(frozen=True)
class HopPermit:
    """Which addresses the hop being sent may connect to (see the module docstring)."""

    mode: PrivateMode = "configured"
    first_hop: bool = True
    previous_public: bool = False

    def problem(self, ip: IPAddress) -> str | None:
        """None when ``ip`` may be connected to, else why not (one phrase)."""
        if self.mode == "always":
            return None
        kind = address_kind(ip)
        if kind == "public":
            return None
        if self.mode == "never":
            return f"{ip} is a {kind} address and BEARWATCH_PRIVATE_ADDRESSES=never"
        if self.first_hop:
            return None
        if kind in ("link-local", "unspecified", "multicast"):
            return f"a redirect led to {ip}, a {kind} address (cloud metadata lives there)"
        if self.previous_public:
            return (f"a redirect from a public address led to {ip}, a {kind} address "
                    "(set BEARWATCH_PRIVATE_ADDRESSES=always if this is intended)")
        return None


_PERMIT: contextvars.ContextVar[HopPermit | None] = contextvars.ContextVar("bearwatch_hop_permit", default=None)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, without blocking the event loop."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


class _AddressRefused(httpcore.ConnectError, BearwatchError):
    """Raised inside httpcore when a connection would reach a refused address."""


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address against the current hop's permit, connects to a checked address only."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[object] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        permit = _PERMIT.get() or HopPermit()
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        for ip in addresses:
            problem = permit.problem(ip)
            if problem:
                raise _AddressRefused(problem)
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,  # type: ignore[arg-type]
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[object] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed for outside requests")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport whose connections go through the address check (no proxies: they would connect)."""

    def __init__(self, **options: object) -> None:
        super().__init__(trust_env=False, **options)  # type: ignore[arg-type]
        pool = self._pool
        pool._network_backend = _GuardedBackend(pool._network_backend)


def guarded_client(
    *, headers: dict[str, str] | None = None, max_connections: int = 50, connect_timeout_s: float = 5.0,
    read_timeout_s: float = 15.0,
) -> httpx.AsyncClient:
    """The shared client of feeds or webhooks: HTTP/1.1, bounded pool, no automatic redirects, guarded connects."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                          keepalive_expiry=30.0)
    return httpx.AsyncClient(
        transport=GuardedTransport(http1=True, http2=False, limits=limits),
        follow_redirects=False,
        timeout=httpx.Timeout(connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s,
                              pool=read_timeout_s),
        headers=headers or {},
        trust_env=False,
    )


# --- decoding --------------------------------------------------------------------------------------------------


class _Layer:
    """One content-coding, decoded incrementally with its output bounded per call."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.raw_deflate_tried = False
        if coding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            self._obj = zlib.decompressobj()
        else:
            raise FetchFailure("decoding", f"unsupported Content-Encoding {coding!r}")
        self.first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode ``data``; at most ``room + 1`` bytes come out (one more than room means: too large)."""
        if not data:
            return b""
        try:
            out = self._obj.decompress(data, room + 1)
        except zlib.error as exc:
            if self.coding == "deflate" and self.first:  # servers send raw deflate under the zlib name
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self.first = False
                return self.feed(data, room)
            raise FetchFailure("decoding", f"cannot decode the {self.coding} body: {exc}") from None
        self.first = False
        return out

    def flush(self, room: int) -> bytes:
        try:
            return self._obj.flush(room + 1) if room >= 0 else b""
        except zlib.error as exc:
            raise FetchFailure("decoding", f"cannot decode the {self.coding} body: {exc}") from None


class BoundedDecoder:
    """Undo stacked content-codings (applied in header order, so undone in reverse) within a byte budget."""

    def __init__(self, encodings: list[str], limit: int) -> None:
        codings = [c.strip().lower() for c in encodings if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > MAX_ENCODING_LAYERS:
            raise FetchFailure("decoding", f"{len(codings)} stacked Content-Encodings ({', '.join(codings)}); "
                                           f"at most {MAX_ENCODING_LAYERS} are decoded")
        self.layers = [_Layer(c) for c in reversed(codings)]
        self.limit = limit
        self.produced = [0] * len(self.layers)
        self.total = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Decoded bytes of ``data`` and whether the limit was passed (then the bytes stop at the limit)."""
        for index, layer in enumerate(self.layers):
            room = self.limit - self.produced[index]
            data = layer.feed(data, room)
            self.produced[index] += len(data)
            if self.produced[index] > self.limit:
                keep = len(data) - (self.produced[index] - self.limit)
                return (data[:keep] if index == len(self.layers) - 1 else b""), True
        return self._count(data)

    def flush(self) -> tuple[bytes, bool]:
        data = b""
        for index, layer in enumerate(self.layers):
            room = self.limit - self.produced[index]
            data = layer.feed(data, room) + layer.flush(room)
            self.produced[index] += len(data)
            if self.produced[index] > self.limit:
                return b"", True
        return self._count(data)

    def _count(self, data: bytes) -> tuple[bytes, bool]:
        room = self.limit - self.total
        if len(data) > room:
            self.total = self.limit
            return data[:room], True
        self.total += len(data)
        return data, False


# --- the exchange ----------------------------------------------------------------------------------------------


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    return (pa.scheme, pa.hostname, pa.port or default.get(pa.scheme)) == (
        pb.scheme, pb.hostname, pb.port or default.get(pb.scheme))


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


async def check_hop(url: str, permit: HopPermit) -> bool:
    """Raise when ``url``'s host resolves to an address the permit refuses; True when every address is public."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise FetchFailure("bad_url", f"invalid URL {redact_url(url)}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise FetchFailure("bad_url", f"not an http(s) URL: {redact_url(url)}")
    try:
        addresses = await resolve(host, port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise FetchFailure("connect", f"cannot resolve {host}: {exc.strerror or exc}") from None
    for ip in addresses:
        problem = permit.problem(ip)
        if problem:
            raise FetchFailure("refused_address", f"refused {redact_url(url)}: {problem}")
    return all(address_kind(ip) == "public" for ip in addresses)


async def exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    limits: FetchLimits,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    follow_redirects: bool = True,
    read_body: Callable[[int], bool] = lambda _status: True,
) -> Answer:
    """One bounded request (see the module docstring); raises :class:`FetchFailure`.

    ``read_body(status)`` says whether the final response's body is wanted at all (a feed's 404 page is not).
    """
    began = time.monotonic()
    wire = [0]
    try:
        async with asyncio.timeout(limits.total_timeout_s):
            return await _exchange(client, method, url, limits, dict(headers or {}), content, follow_redirects,
                                   read_body, began, wire)
    except TimeoutError:
        raise FetchFailure("timeout", f"no complete answer within {limits.total_timeout_s:g} s",
                           wire_bytes=wire[0]) from None
    except FetchFailure as exc:
        exc.wire_bytes = exc.wire_bytes or wire[0]
        raise
    except _AddressRefused as exc:
        raise FetchFailure("refused_address", f"refused {redact_url(url)}: {exc}", wire_bytes=wire[0]) from None
    except httpx.ConnectError as exc:
        cause = exc.__context__ or exc.__cause__
        if isinstance(cause, _AddressRefused):
            raise FetchFailure("refused_address", f"refused {redact_url(url)}: {cause}") from None
        raise FetchFailure("connect", f"cannot connect: {exc}", wire_bytes=wire[0]) from None
    except httpx.TimeoutException as exc:
        raise FetchFailure("timeout", f"{type(exc).__name__}: {exc or 'timed out'}", wire_bytes=wire[0]) from None
    except httpx.InvalidURL as exc:
        raise FetchFailure("bad_url", f"invalid URL: {exc}") from None
    except httpx.RemoteProtocolError as exc:
        if "location header" in str(exc).lower():  # httpx refuses to parse it (e.g. an octal IPv4 address)
            raise FetchFailure("redirects", f"redirect to an invalid URL refused: {exc}"[:300]) from None
        raise FetchFailure("transport", f"{type(exc).__name__}: {exc}"[:300], wire_bytes=wire[0]) from None
    except (httpx.HTTPError, httpcore.ProtocolError) as exc:
        raise FetchFailure("transport", f"{type(exc).__name__}: {exc}"[:300], wire_bytes=wire[0]) from None


async def _exchange(
    client: httpx.AsyncClient, method: str, url: str, limits: FetchLimits, headers: dict[str, str],
    content: bytes | None, follow_redirects: bool, read_body: Callable[[int], bool], began: float,
    wire: list[int],
) -> Answer:
    origin = url
    current = url
    permit = HopPermit(limits.private_addresses, first_hop=True)
    redirects: list[str] = []
    for _hop in range(limits.max_redirects + 1):
        public = await check_hop(current, permit)
        token = _PERMIT.set(permit)
        try:
            request = client.build_request(method, current, headers=headers, content=content)
            response = await client.send(request, stream=True)
        finally:
            _PERMIT.reset(token)
        try:
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_STATUSES and location and follow_redirects:
                wire[0] += response.num_bytes_downloaded
                target = urljoin(current, location.strip())
                if urlsplit(target).scheme not in ("http", "https"):
                    raise FetchFailure("redirects", f"redirect to a non-http URL refused: {redact_url(target)}")
                if not same_origin(origin, target):
                    headers = {}  # the caller's headers (API keys, auth, validators) stay with their host
                    target = _strip_userinfo(target)
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method, content = "GET", None
                redirects.append(current)
                current = target
                permit = HopPermit(limits.private_addresses, first_hop=False, previous_public=public)
                continue
            return await _read(response, current, limits, read_body, began, redirects, wire)
        finally:
            await response.aclose()
    raise FetchFailure("redirects", f"more than {limits.max_redirects} redirects (last: {redact_url(current)})")


async def _read(
    response: httpx.Response, url: str, limits: FetchLimits, read_body: Callable[[int], bool], began: float,
    redirects: list[str], wire: list[int],
) -> Answer:
    status = response.status_code
    chunks: list[bytes] = []
    truncated = False
    if read_body(status) and status not in (204, 304):
        declared = response.headers.get("Content-Length", "").strip()
        encodings = response.headers.get_list("Content-Encoding", split_commas=True)
        if (not limits.truncate_body and not encodings and declared.isascii() and declared.isdigit()
                and len(declared) < 20 and int(declared) > limits.max_body_bytes):
            raise FetchFailure("too_large", f"Content-Length {declared} exceeds {limits.max_body_bytes} bytes",
                               status=status)
        decoder = BoundedDecoder(encodings, limits.max_body_bytes)
        async for raw in response.aiter_raw():
            data, over = decoder.feed(raw)
            chunks.append(data)
            if over:
                truncated = True
                break
            await asyncio.sleep(0)  # a fast local server must not starve the event loop
        else:
            data, over = decoder.flush()
            chunks.append(data)
            truncated = over
        if truncated and not limits.truncate_body:
            wire[0] += response.num_bytes_downloaded
            raise FetchFailure(
                "too_large", f"body exceeds {limits.max_body_bytes} bytes once decoded; stopped reading",
                status=status, wire_bytes=wire[0],
            )
    wire[0] += response.num_bytes_downloaded
    return Answer(
        status=status, reason=response.reason_phrase, headers=response.headers, body=b"".join(chunks), url=url,
        wire_bytes=wire[0], elapsed_s=time.monotonic() - began, truncated=truncated, redirects=redirects,
    )
