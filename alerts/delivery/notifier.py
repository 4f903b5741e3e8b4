"""``Notifier``: the alerts stage's delivery front door (``enqueue``) and loop
(``run_forever``/``drain_once``).

The Faust ``notify`` agent calls ``await notifier.enqueue(alert)`` for each message of ``bearwatch.alerts``
and runs ``run_forever()`` as a background task. ``enqueue`` only writes to Redis (fast, idempotent by
notification id: fingerprint + status + starts_at + evaluation time), so a redelivered Kafka message is not
notified twice; the loop delivers each channel from its own outbox stream (see ``outbox.py`` and
``worker.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from alerts import metrics
from alerts.delivery.backoff import DeliveryPolicy
from alerts.delivery.channels import Channel, WebhookChannel
from alerts.delivery.outbox import Outbox
from alerts.delivery.worker import ChannelWorker
from monitor.ground.contracts import Alert, encode
from monitor.ground.httpfetch import guarded_client
from monitor.ground.retry import Backoff
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)
# Redis (the outbox) failing, not a receiver: 1 s doubling to 30 s, without jitter as before (one Redis, a few
# channel loops: no crowd to spread).
REDIS_BACKOFF = Backoff(base_s=1.0, cap_s=30.0, jitter=False)


def notification_id(alert: Alert) -> str:
    """One id per notification: a repeat (new evaluation time) or the resolve gets a new one."""
    evaluated = alert.annotations.get("evaluated_at") or (alert.ends_at or alert.starts_at).isoformat()
    raw = f"{alert.fingerprint}|{alert.status}|{alert.starts_at.isoformat()}|{evaluated}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def build_channels(settings: Settings, client: httpx.AsyncClient) -> list[Channel]:
    """Channels from ``settings.webhooks``, plus Grafana annotations when ``settings.grafana_url`` is set."""
    channels: list[Channel] = [
        WebhookChannel(target, client, settings.private_addresses) for target in settings.webhooks
    ]
    if settings.grafana_url:
        from alerts.delivery.grafana import GrafanaChannel

        channels.append(GrafanaChannel(settings.grafana_url, settings.grafana_token))
    names = [c.name for c in channels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"webhook names must be unique (and 'grafana' is reserved): {duplicates}")
    return channels


class Notifier:
    """Durable, ordered, retried delivery of alert notifications to every configured channel.

    Example::

        notifier = Notifier(redis, settings, settings.redis_namespace)
        task = asyncio.create_task(notifier.run_forever())
        await notifier.enqueue(alert)   # returns False if this notification was already enqueued
        ...
        await notifier.close()
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        settings: Settings,
        namespace: str,
        *,
        policy: DeliveryPolicy | None = None,
        channels: list[Channel] | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.policy = policy or DeliveryPolicy.from_settings(settings)
        self.outbox = Outbox(redis, namespace)
        self._http = guarded_client(max_connections=20)
        self.channels = channels if channels is not None else build_channels(settings, self._http)
        consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.workers = [ChannelWorker(self.outbox, c, self.policy, consumer) for c in self.channels]
        self._groups_ready = False
        self._stopping = asyncio.Event()

    def channel(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(f"no channel named {name!r}: configured are {[c.name for c in self.channels]}")

    async def _ensure_groups(self) -> None:
        if not self._groups_ready:
            for channel in self.channels:
                await self.outbox.ensure_group(channel.name)
            self._groups_ready = True

    async def enqueue(self, alert: Alert) -> bool:
        """Queue ``alert`` for every channel; True if new, False if this notification was already queued."""
        await self._ensure_groups()
        repeat = alert.annotations.get("repeat") == "true"
        targets = [c.name for c in self.channels if not (repeat and c.kind == "grafana")]
        added = await self.outbox.put(
            encode(alert).decode(),
            notification_id(alert),
            f"{alert.rule}|{alert.status}",
            alert.fingerprint,
            targets,
        )
        metrics.ENQUEUED.labels(result="new" if added else "duplicate").inc()
        return added

    async def drain_once(self) -> int:
        """Deliver everything due now on every channel (no waiting); returns the requests that finished."""
        await self._ensure_groups()
        done = 0
        for worker in self.workers:
            while await worker.step() == 0.0:
                done += 1
        return done

    async def _run_channel(self, worker: ChannelWorker) -> None:
        failures = 0
        while not self._stopping.is_set():
            # A library may turn our cancellation into its own timeout error (httpx/anyio on Python 3.11):
            # honour a pending cancel request even if the CancelledError itself was swallowed underneath.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise asyncio.CancelledError
            unexpected = False
            try:
                await self._ensure_groups()
                wait = await worker.step()
                failures = 0
            except RedisError as exc:
                self._groups_ready = False  # a restarted Redis without persistence has lost the groups
                failures += 1
                wait = REDIS_BACKOFF.delay(failures)
                log.warning("channel %s: Redis error %r; retrying in %.1fs", worker.channel.name, exc, wait)
            except Exception as exc:  # noqa: BLE001 - one channel's loop must outlive anything a receiver sends
                failures += 1
                unexpected = True
                wait = self.policy.backoff.delay(failures)
                log.error("channel %s: delivery step failed (%s: %s); retrying in %.1fs",
                          worker.channel.name, type(exc).__name__, exc, wait)
            if wait > 0:
                # A plain sleep, not wait_for(event): on Python 3.11 wait_for can swallow a task cancellation.
                # After an unexpected failure the whole backoff is slept, in steps so that close() is prompt.
                floor = wait if unexpected else min(wait, self.policy.poll_interval_s)
                slept = 0.0
                while slept < floor and not self._stopping.is_set():
                    step = min(floor - slept, max(self.policy.poll_interval_s, 0.01))
                    await asyncio.sleep(step)
                    slept += step

    async def run_forever(self) -> None:
        """Deliver every channel until :meth:`close`, each in its own task: a slow receiver waits alone."""
        while True:
            try:
                await self._ensure_groups()
                break
            except RedisError as exc:
                log.warning("notifier: Redis unavailable (%r); retrying", exc)
                await asyncio.sleep(1.0)
        # One task per channel, owned here: when this coroutine ends or is cancelled (the worker restarting the
        # delivery loop) every channel task ends with it; a restart never leaves the old loops running.
        tasks = [asyncio.create_task(self._run_channel(w), name=f"deliver:{w.channel.name}") for w in self.workers]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        self._stopping.set()
        for worker in self.workers:
            with contextlib.suppress(RedisError):
                await worker.release()
        for channel in self.channels:
            await channel.close()
        await self._http.aclose()
