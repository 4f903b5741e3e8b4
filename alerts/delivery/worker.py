"""Delivery of one channel's outbox, in order: group, send, retry with backoff, or dead-letter.

Exactly one notifier process delivers a channel at a time (a Redis lease), and it delivers the head of the
stream before anything behind it, so notifications of one fingerprint always arrive in the order they were
enqueued (firing before resolved). A receiver that is down therefore holds its own channel back but no other
channel.

Grouping (like Alertmanager's ``group_wait``): the head waits ``group_wait_s`` after it was enqueued; then
every waiting notification of the same rule and status joins it in one request, except one whose fingerprint
already has an earlier notification still queued (that would overtake it).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time

from alerts import metrics
from alerts.delivery.backoff import DeliveryPolicy
from alerts.delivery.channels import Channel
from alerts.delivery.outbox import Entry, Outbox, now_ms

log = logging.getLogger(__name__)


def idempotency_key(channel: str, entries: list[Entry]) -> str:
    """Stable for the same notifications on the same channel, across retries and restarts."""
    joined = "|".join([channel, *sorted(e.nid for e in entries)])
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def form_group(buffer: list[Entry], max_size: int) -> list[Entry]:
    head = buffer[0]
    group = [head]
    taken = {head.fingerprint}
    blocked: set[str] = set()
    for entry in buffer[1:]:
        if len(group) >= max_size:
            break
        joinable = entry.group == head.group and entry.fingerprint not in taken | blocked
        if joinable:
            group.append(entry)
            taken.add(entry.fingerprint)
        else:
            blocked.add(entry.fingerprint)
    return group


class ChannelWorker:
    """Delivers one channel; :meth:`step` does at most one request and says how long until the next is due."""

    def __init__(
        self,
        outbox: Outbox,
        channel: Channel,
        policy: DeliveryPolicy,
        consumer: str,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.channel = channel
        self.policy = policy
        self.consumer = consumer
        self.max_group = min(policy.max_group_size, getattr(channel, "max_group", policy.max_group_size))
        self.buffer: list[Entry] = []
        self._rng = rng or random.Random()
        self._leader = False

    async def step(self) -> float:
        """One unit of work. Returns 0 if it delivered (or dead-lettered) something, else seconds to wait."""
        name = self.channel.name
        lease = await self.outbox.hold_lease(name, self.consumer, int(self.policy.lease_s * 1000))
        if lease == 0:
            self._leader = False
            self.buffer.clear()
            return self.policy.lease_s / 3
        if lease == 2 or not self._leader:
            self.buffer = await self.outbox.claim_all(name, self.consumer)
            self._leader = True
        known = {e.id for e in self.buffer}
        self.buffer.extend(e for e in await self.outbox.read_new(name, self.consumer) if e.id not in known)
        metrics.OUTBOX.labels(channel=name).set(len(self.buffer))
        if not self.buffer:
            return self.policy.poll_interval_s
        head = self.buffer[0]
        now = now_ms()
        due = head.at_ms + int(self.policy.group_wait_s * 1000)
        attempts, next_ms, _ = await self.outbox.tries(name, head.id)
        due = max(due, next_ms)
        if now < due:
            return (due - now) / 1000
        group = form_group(self.buffer, self.max_group)
        await self._deliver(group, attempts)
        return 0.0

    async def _deliver(self, group: list[Entry], attempts: int) -> None:
        name = self.channel.name
        attempt = attempts + 1
        began = time.perf_counter()
        outcome = await self.channel.deliver([e.alert for e in group], idempotency_key(name, group), attempt)
        metrics.DELIVERY_SECONDS.labels(channel=name).observe(time.perf_counter() - began)
        if outcome.ok:
            metrics.ATTEMPTS.labels(channel=name, outcome="ok").inc()
            await self.outbox.ack(name, group)
            metrics.DELIVERED.labels(channel=name).inc()
            self._drop(group)
            return
        metrics.ATTEMPTS.labels(channel=name, outcome="retry" if outcome.retry else "rejected").inc()
        if outcome.retry and attempt < self.policy.max_attempts:
            wait = self.policy.delay(attempt, outcome.retry_after_s, self._rng)
            log.warning(
                "channel %s: attempt %d failed (%s); retrying in %.1fs", name, attempt, outcome.reason, wait
            )
            await self.outbox.record_failure(
                name, group[0].id, attempt, now_ms() + int(wait * 1000), outcome.reason
            )
            return
        why = outcome.reason if not outcome.retry else f"gave up after {attempt} attempts: {outcome.reason}"
        log.error("channel %s: notification %s dead-lettered: %s", name, group[0].nid, why)
        await self.outbox.dead_letter(name, group, why, attempt)
        metrics.DEAD.labels(channel=name).inc()
        self._drop(group)

    def _drop(self, group: list[Entry]) -> None:
        done = {e.id for e in group}
        self.buffer = [e for e in self.buffer if e.id not in done]

    async def release(self) -> None:
        if self._leader:
            await self.outbox.release_lease(self.channel.name, self.consumer)
            self._leader = False
