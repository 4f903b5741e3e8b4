"""Delivery through the Redis outbox to a real HTTP receiver on loopback.

Time scales are shrunk by configuration: "the receiver returns 500 for a while" is 1.2 s here, against a retry
policy of 50 ms doubling to 300 ms (production: 1 s doubling to 5 min, 20 attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from alerts.delivery import DeliveryPolicy, Notifier, verify
from monitor.ground.settings import WebhookTarget
from tests.support import alerts_fixtures
from tests.support.alerts_fixtures import Receiver, make_alert

receiver = alerts_fixtures.receiver
FAST = DeliveryPolicy(
    max_attempts=40,
    backoff_base_s=0.05,
    backoff_max_s=0.3,
    group_wait_s=0.0,
    lease_s=1.0,
    poll_interval_s=0.02,
)
SECRET = "s3cret-for-tests"


@pytest.fixture
def notifier_for(make_settings, redis_client, unique: str):
    made: list[Notifier] = []

    def build(
        *receivers: Receiver,
        policy: DeliveryPolicy = FAST,
        kind: str = "alertmanager",
        timeout_s: float = 2.0,
        **overrides: object,
    ) -> Notifier:
        hooks = [
            WebhookTarget(name=f"hook{i}", kind=kind, url=r.url, secret=SECRET, timeout_s=timeout_s)
            for i, r in enumerate(receivers)
        ]
        settings = make_settings(webhooks=hooks, **overrides)
        notifier = Notifier(redis_client, settings, f"test{unique}", policy=policy)
        made.append(notifier)
        return notifier

    yield build


@contextlib.asynccontextmanager
async def running(notifier: Notifier):
    task = asyncio.create_task(notifier.run_forever())
    try:
        yield notifier
    finally:
        await notifier.close()
        await asyncio.wait_for(task, 5)


async def test_receiver_down_then_up_gets_every_notification_once_in_order(receiver, notifier_for) -> None:
    down_until = time.monotonic() + 1.2
    receiver.behaviour = lambda i: (500 if time.monotonic() < down_until else 200, 0.0, {})
    notifier = notifier_for(receiver)
    sent = [
        make_alert("spike", "AAPL"),
        make_alert("drop", "MSFT"),
        make_alert("spike", "AAPL", "resolved", evaluated_minute=20),
        make_alert("drop", "MSFT", minute=1),
    ]
    async with running(notifier):
        for alert in sent:
            assert await notifier.enqueue(alert)
        assert not await notifier.enqueue(sent[0])  # a redelivered Kafka message is not queued twice
        await receiver.wait_for(4)
        await asyncio.sleep(0.2)  # nothing more arrives
    failed = [r for r in receiver.requests if r.status == 500]
    delivered = receiver.delivered()
    assert len(failed) >= 3  # it really was down and retried
    assert len(delivered) == 4 == len({r.key for r in delivered})  # once each, by idempotency key
    assert {r.key for r in failed} <= {r.key for r in delivered}  # retries reuse the key
    order = [(a["fingerprint"], a["status"], a["startsAt"]) for r in delivered for a in r.json()["alerts"]]
    assert order == [(a.fingerprint, a.status, a.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")) for a in sent]
    assert await notifier.outbox.pending_count("hook0") == 0


async def test_receiver_400_is_not_retried_and_goes_to_dead_letters_with_the_reason(
    receiver, notifier_for
) -> None:
    receiver.behaviour = lambda i: (400, 0.0, {})
    notifier = notifier_for(receiver)
    await notifier.enqueue(make_alert())
    assert await notifier.drain_once() == 1
    await asyncio.sleep(0.3)
    assert await notifier.drain_once() == 0
    assert len(receiver.requests) == 1
    dead = await notifier.outbox.dead()
    assert [(d["channel"], d["reason"], d["attempts"]) for d in dead] == [
        ("hook0", "HTTP 400: bad payload", 1)
    ]
    # the operator fixes the receiver and re-sends the dead letters (`bearwatch alerts retry`)
    receiver.behaviour = lambda i: (200, 0.0, {})
    assert await notifier.outbox.retry_dead() == 1
    assert await notifier.drain_once() == 1
    assert len(receiver.delivered()) == 1 and await notifier.outbox.dead() == []
    assert receiver.delivered()[0].key == receiver.requests[0].key


async def test_a_hanging_receiver_times_out_and_the_notification_is_retried(receiver, notifier_for) -> None:
    hang_s = 10.0
    receiver.behaviour = lambda i: (200, hang_s if i == 0 else 0.0, {})
    notifier = notifier_for(receiver, timeout_s=0.3)
    async with running(notifier):
        await notifier.enqueue(make_alert())
        await receiver.wait_for(2)  # the hung one (recorded 200, never answered in time) and the retry
    # The retry came while the first request still hung (a notifier that waited for it would send it after 10 s;
    # a 30x slower machine still passes with a 0.3 s timeout).
    assert receiver.requests[1].at - receiver.requests[0].at < hang_s
    assert len(receiver.requests) == 2 and receiver.requests[0].key == receiver.requests[1].key
    assert receiver.requests[1].headers["X-Bearwatch-Attempt"] == "2"


async def test_retry_after_of_a_429_is_honoured(receiver, notifier_for) -> None:
    receiver.behaviour = lambda i: (429, 0.0, {"Retry-After": "1"}) if i == 0 else (200, 0.0, {})
    notifier = notifier_for(receiver)
    async with running(notifier):
        await notifier.enqueue(make_alert())
        await receiver.wait_for(1)
    assert receiver.requests[1].at - receiver.requests[0].at >= 0.95


async def test_attempts_run_out_into_the_dead_letter_list(receiver, notifier_for) -> None:
    receiver.behaviour = lambda i: (503, 0.0, {})
    notifier = notifier_for(
        receiver,
        policy=DeliveryPolicy(
            max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02, group_wait_s=0, poll_interval_s=0.02
        ),
    )
    async with running(notifier):
        await notifier.enqueue(make_alert())
        for _ in range(200):
            if await notifier.outbox.dead():
                break
            await asyncio.sleep(0.02)
    dead = await notifier.outbox.dead()
    assert len(receiver.requests) == 3
    assert dead[0]["reason"].startswith("gave up after 3 attempts: HTTP 503")


async def test_signature_verifies_with_the_secret_and_not_on_a_tampered_body(receiver, notifier_for) -> None:
    notifier = notifier_for(receiver)
    await notifier.enqueue(make_alert())
    await notifier.drain_once()
    request = receiver.requests[0]
    header = request.headers["X-Bearwatch-Signature"]
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(SECRET, request.body, header)
    assert not verify(SECRET, request.body.replace(b"AAPL", b"AAPM"), header)
    assert not verify("another-secret", request.body, header)


async def test_keys_of_one_rule_firing_together_become_one_notification(receiver, notifier_for) -> None:
    policy = DeliveryPolicy(group_wait_s=0.3, backoff_base_s=0.05, poll_interval_s=0.02)
    notifier = notifier_for(receiver, policy=policy)
    async with running(notifier):
        for key in ("AAPL", "MSFT", "NVDA"):
            await notifier.enqueue(make_alert("spike", key))
        await notifier.enqueue(make_alert("other", "TSLA"))
        await receiver.wait_for(2)
        await asyncio.sleep(0.3)
    bodies = [r.json() for r in receiver.delivered()]
    assert [[a["labels"]["key"] for a in b["alerts"]] for b in bodies] == [["AAPL", "MSFT", "NVDA"], ["TSLA"]]
    assert (
        bodies[0]["groupLabels"] == {"alertname": "spike"}
        and bodies[0]["commonLabels"]["alertname"] == "spike"
    )


async def test_a_crashed_notifier_loses_nothing_the_next_one_delivers(receiver, notifier_for) -> None:
    receiver.behaviour = lambda i: (500, 0.0, {})
    first = notifier_for(receiver)
    task = asyncio.create_task(first.run_forever())
    for minute in range(3):
        await first.enqueue(make_alert(minute=minute, evaluated_minute=minute))
    await receiver.wait_for_requests(2)
    task.cancel()  # a crash: no close(), the lease is left to expire, entries stay pending in the group
    with contextlib.suppress(asyncio.CancelledError):
        await task
    receiver.behaviour = lambda i: (200, 0.0, {})
    second = notifier_for(receiver)
    async with running(second):
        await receiver.wait_for(3)  # after the 1 s lease ran out
    starts = [a["startsAt"] for r in receiver.delivered() for a in r.json()["alerts"]]
    assert starts == ["2024-05-01T09:00:00Z", "2024-05-01T09:01:00Z", "2024-05-01T09:02:00Z"]
    await first.close()


async def test_an_unreadable_outbox_entry_is_dead_lettered_and_delivery_goes_on(
    receiver, notifier_for
) -> None:
    from alerts import metrics

    notifier = notifier_for(receiver)
    await notifier.enqueue(make_alert("spike", "AAPL"))
    await notifier.redis.xadd(notifier.outbox.stream("hook0"), {"nid": "x", "alert": "{not json"})
    await notifier.enqueue(make_alert("spike", "MSFT"))
    before = metrics.BAD_ENTRIES.labels(channel="hook0")._value.get()
    await notifier.drain_once()
    keys = [a["labels"]["key"] for r in receiver.delivered() for a in r.json()["alerts"]]
    assert keys == ["AAPL", "MSFT"]
    dead = await notifier.outbox.dead()
    assert len(dead) == 1 and dead[0]["reason"].startswith("unreadable outbox entry")
    assert metrics.BAD_ENTRIES.labels(channel="hook0")._value.get() == before + 1
