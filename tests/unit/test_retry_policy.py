"""The one retry policy (monitor.ground.retry): Backoff's waits, the transient-error classifier, retry()."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, NodeNotReadyError
from redis.exceptions import AuthenticationError, BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from monitor.ground.httpfetch import FetchFailure
from monitor.ground.retry import Backoff, is_transient, retry, transient_status


def test_equal_jitter_stays_between_half_and_all_of_the_capped_step() -> None:
    policy = Backoff(base_s=1.0, cap_s=8.0)
    rng = random.Random(7)
    for failures, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (10_000, 8.0)]:
        waits = [policy.delay(failures, rng=rng) for _ in range(200)]
        assert all(step / 2 <= wait <= step for wait in waits), (failures, min(waits), max(waits))
        assert max(waits) - min(waits) > step / 4  # it does spread


def test_without_jitter_the_wait_is_the_step() -> None:
    policy = Backoff(base_s=1.0, cap_s=30.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert policy.delay(0) == 1.0  # "no failure yet" is treated as the first


def test_retry_after_raises_the_wait_but_only_up_to_its_own_maximum() -> None:
    policy = Backoff(base_s=0.01, cap_s=0.02, retry_after_max_s=60.0)
    assert policy.delay(1, retry_after_s=5.0) == 5.0
    assert policy.delay(1, retry_after_s=10**9) == 60.0
    assert policy.delay(1, retry_after_s=-3.0) <= 0.02  # a negative header value is no wait at all
    assert Backoff(base_s=10.0, cap_s=10.0).delay(1, retry_after_s=1.0) >= 5.0  # never lowers the backoff


def test_negative_values_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(base_s=-1.0)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, False), (200, False), (400, False), (404, False), (408, False), (429, True), (500, True), (503, True),
     (599, True)],
)
def test_transient_statuses(status: int | None, expected: bool) -> None:
    assert transient_status(status) is expected


def _status_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://example.test/")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(status, request=request))


def _wrapped(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("wrapper") from cause
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (RedisConnectionError("refused"), True),
        (BusyLoadingError("loading"), True),
        (RedisTimeoutError("slow"), True),
        (AuthenticationError("wrong password"), False),
        (ResponseError("WRONGTYPE"), False),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (OSError(113, "no route to host"), True),
        (FileNotFoundError("x"), False),
        (PermissionError("x"), False),
        (KafkaConnectionError(), True),
        (NodeNotReadyError(), True),
        (MessageSizeTooLargeError(), False),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("eof"), True),
        (httpx.UnsupportedProtocol("ftp://"), False),
        (_status_error(429), True),
        (_status_error(502), True),
        (_status_error(404), False),
        (FetchFailure("http_5xx", "boom", status=503), True),
        (FetchFailure("rate_limited", "slow down", status=429), True),
        (FetchFailure("http_4xx", "gone", status=410), False),
        (FetchFailure("too_large", "big"), False),
        (_wrapped(RedisConnectionError("down")), True),
        (_wrapped(ValueError("bad")), False),
        (ValueError("bad"), False),
        (asyncio.CancelledError(), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_is_transient(exc: BaseException, expected: bool) -> None:
    assert is_transient(exc) is expected


def test_a_cause_cycle_does_not_loop() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert is_transient(first) is False


class _Sleeps:
    """Records the waits retry() asks for instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_retry_retries_transient_errors_until_the_call_succeeds() -> None:
    outcomes: list[BaseException | str] = [RedisConnectionError("down"), OSError("reset"), "ok"]
    seen: list[tuple[str, int, float]] = []
    sleeps = _Sleeps()

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    result = asyncio.run(retry(
        call, Backoff(base_s=1.0, cap_s=10.0, jitter=False), sleep=sleeps,
        on_retry=lambda exc, failures, delay: seen.append((type(exc).__name__, failures, delay)),
    ))
    assert result == "ok"
    assert sleeps.waits == [1.0, 2.0]
    assert seen == [("ConnectionError", 1, 1.0), ("OSError", 2, 2.0)]


def test_retry_raises_a_permanent_error_at_once_and_the_last_transient_one_after_max_attempts() -> None:
    sleeps = _Sleeps()

    async def permanent() -> None:
        raise ValueError("bug")

    async def down() -> None:
        raise RedisConnectionError("down")

    with pytest.raises(ValueError):
        asyncio.run(retry(permanent, Backoff(), sleep=sleeps))
    assert sleeps.waits == []
    with pytest.raises(RedisConnectionError):
        asyncio.run(retry(down, Backoff(base_s=1.0, jitter=False), sleep=sleeps, max_attempts=3))
    assert sleeps.waits == [1.0, 2.0]


def test_retry_honours_an_errors_retry_after() -> None:
    sleeps = _Sleeps()
    calls = 0

    async def limited() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise FetchFailure("rate_limited", "slow down", status=429, retry_after_s=7.0)
        return calls

    assert asyncio.run(retry(limited, Backoff(base_s=0.1, cap_s=0.1), sleep=sleeps)) == 2
    assert sleeps.waits == [7.0]
