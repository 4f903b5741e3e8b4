"""The one retry policy of Bearwatch: a :class:`Backoff`, reading a server's ``Retry-After``, and which errors
are worth another try.

Feeds (``consumers``), alert delivery (``alerts.delivery``), the worker's Redis and Kafka calls and the
supervisor's restarts all wait and try again; one policy keeps their jitter, base and cap from drifting apart (six
hand-written copies had). Equal jitter spreads callers that failed together (a Redis restart, a CDN outage) without
ever retrying sooner than half the step.

A ``Retry-After`` header is outside input: whatever it holds (Unicode digits such as ``²``, a thousand-digit
number, a date in year 9999, garbage), the parser returns a number within ``[0, RETRY_AFTER_CEILING_S]`` or
``None``, and never raises; :meth:`Backoff.delay` clamps further to ``retry_after_max_s``. A loop that died on a bad
header once restarted itself every 2 s and hammered the receiver.

:func:`is_transient` says which exceptions mean "the other side is down or busy, try again" (see its docstring for
the list); anything else is a bug or a refusal that another try would only repeat.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from aiokafka.errors import KafkaError
from redis.exceptions import AuthenticationError as RedisAuthenticationError
from redis.exceptions import AuthorizationError as RedisAuthorizationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "RETRY_AFTER_CEILING_S", "Backoff", "is_transient", "parse_retry_after", "retry", "transient_status",
]

T = TypeVar("T")

RETRY_AFTER_CEILING_S = 7 * 86400.0  # a week: beyond any caller's own maximum, small enough for any arithmetic
_DELTA = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)
_MAX_HEADER_CHARS = 200


def parse_retry_after(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), clamped; None when unusable.

    Only ASCII digits count as delta-seconds (``"²".isdigit()`` is true but it is no number); a number too long
    to be meant is the ceiling; a date in the past is 0.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) > 15:
        return RETRY_AFTER_CEILING_S  # a number too long to be meant: the longest wait, not int() of 5000 digits
    if not text or len(text) > _MAX_HEADER_CHARS:
        return None
    if _DELTA.fullmatch(text):
        return min(float(text), RETRY_AFTER_CEILING_S)
    if not text.isascii():
        return None
    try:
        moment = parsedate_to_datetime(text)
    except Exception:  # noqa: BLE001 - the email parser raises TypeError, ValueError, IndexError, OverflowError
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    except OverflowError:
        return RETRY_AFTER_CEILING_S
    return min(max(0.0, seconds), RETRY_AFTER_CEILING_S)



@dataclass(frozen=True)
class Backoff:
    """How long to wait after consecutive failures: exponential from ``base_s``, capped at ``cap_s``.

    ``jitter`` (the default) is equal jitter: a wait between half and all of the step, so callers that failed
    together do not retry in lockstep. Without jitter the wait is the step itself (the supervisor's restarts,
    where one child has no crowd to spread). A server's ``Retry-After`` raises the wait, capped at
    ``retry_after_max_s`` so a bogus value cannot park a feed or a channel for a year.
    """

    base_s: float = 0.5
    cap_s: float = 10.0
    jitter: bool = True
    retry_after_max_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (self.base_s >= 0 and self.cap_s >= 0 and self.retry_after_max_s >= 0):
            raise ValueError(f"backoff values must be >= 0 (got {self})")

    def step(self, failures: int) -> float:
        """The un-jittered wait after ``failures`` consecutive failures (1-based): ``min(cap, base * 2**(n-1))``."""
        return min(self.cap_s, self.base_s * 2 ** max(0, min(failures - 1, 30)))

    def delay(self, failures: int, retry_after_s: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds before the next try after ``failures`` consecutive failures (1-based), ≥ ``Retry-After``."""
        ceiling = self.step(failures)
        wait = (rng or random).uniform(ceiling / 2, ceiling) if self.jitter else ceiling
        if retry_after_s is not None:
            wait = max(wait, min(max(retry_after_s, 0.0), self.retry_after_max_s))
        return wait


def transient_status(status: int | None) -> bool:
    """An HTTP status that another try may cure: 429 (rate limited) and every 5xx (what alert delivery retries)."""
    return status is not None and (status == 429 or status >= 500)


# Local problems that happen to be OSErrors: another try finds the same file missing or forbidden.
_LOCAL_OS_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means the other side is down, slow or busy, so the same call may succeed later.

    Transient:

    - Redis ``ConnectionError`` (includes ``BusyLoadingError`` while a server loads its data) and ``TimeoutError``,
      but not ``AuthenticationError``/``AuthorizationError``, which redis-py files under ``ConnectionError``: a
      wrong password stays wrong;
    - ``OSError`` (refused, reset, unreachable, timed out; builtin ``ConnectionError`` and ``TimeoutError`` are
      OSErrors), except the local file errors (``FileNotFoundError``, ``PermissionError``, …);
    - aiokafka ``KafkaError`` whose ``retriable`` flag is set (broker not ready, leader moving, request timed
      out); a message too large or an authorization failure is not;
    - ``httpx.TransportError`` (connect, read, write, pool timeouts, protocol errors mid-exchange), except
      ``UnsupportedProtocol`` and ``LocalProtocolError``: the request itself is wrong;
    - any exception with an HTTP status that :func:`transient_status` accepts (429, 5xx): httpx's
      ``HTTPStatusError`` through its response, ours (``FetchFailure``) through ``status``.

    Anything else is classified by what it was raised from (``raise X(...) from exc``), so a wrapper of a
    connection error is transient too; with no cause, it is not. ``CancelledError`` never is.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        verdict = _classify(current)
        if verdict is not None:
            return verdict
        current = current.__cause__
    return False


def _classify(exc: BaseException) -> bool | None:
    """True/False when ``exc`` itself decides, None to look at its cause."""
    if isinstance(exc, asyncio.CancelledError):
        return False
    if isinstance(exc, RedisAuthenticationError | RedisAuthorizationError):
        return False
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    if isinstance(exc, httpx.HTTPStatusError):
        return transient_status(exc.response.status_code)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return False
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, _LOCAL_OS_ERRORS):
        return False
    if isinstance(exc, OSError):
        return True
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return transient_status(status)
    return None


async def retry(
    call: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    transient: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    max_attempts: int | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Await ``call()`` until it succeeds, sleeping ``backoff.delay(failures)`` after each transient failure.

    A non-transient error, or the last of ``max_attempts`` (None: no limit), is raised as is. ``on_retry(exc,
    failures, delay)`` runs before each sleep (log it, count it). A ``retry_after_s`` attribute on the error
    (``FetchFailure`` has one) raises the wait.
    """
    failures = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            failures += 1
            if not transient(exc) or (max_attempts is not None and failures >= max_attempts):
                raise
            retry_after = getattr(exc, "retry_after_s", None)
            delay = backoff.delay(failures, retry_after if isinstance(retry_after, int | float) else None)
            if on_retry is not None:
                on_retry(exc, failures, delay)
            await sleep(delay)

