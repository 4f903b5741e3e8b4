"""The ``notify`` agent (alerts → the durable webhook outbox) and the loop that delivers what it queued.

Both run inside the worker's Faust app (the shell adds them: ``monitor.shell.worker_app``), but belong to the
alerts stage: the agent reads ``bearwatch.alerts`` and queues each alert once per channel
(:class:`alerts.delivery.Notifier`, idempotent by notification id, so a re-read alert is not sent twice). What it
needs of the worker (counters, dead letters, the Redis retry) comes in as a :class:`monitor.ground.ports.AgentKit`.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import faust

from alerts.delivery import Notifier
from monitor.ground.contracts import Alert, SchemaError, decode
from monitor.ground.ports import AgentKit, AlertQueue

log = logging.getLogger(__name__)

AGENT = "notify"
#: Pause before the delivery loop starts again after it failed or returned (never spin).
RESTART_AFTER_S = 2.0


def add_notify_agent(app: faust.App, source: faust.TopicT, queue: AlertQueue, kit: AgentKit) -> None:
    """Register the ``notify`` agent on ``app``: every alert on ``source`` goes to ``queue``; an undecodable
    message goes to the dead letters."""

    @app.agent(source, name=AGENT)
    async def notify(stream: faust.StreamT) -> None:
        async for event in stream.events():
            kit.received(AGENT)
            try:
                alert = decode(Alert, event.message.value or b"")
            except SchemaError as exc:
                await kit.dead_letter(event, str(exc))
                continue
            await kit.retry_redis(partial(queue.enqueue, alert))
            kit.handled(AGENT)


async def deliver_forever(notifier: Notifier) -> None:
    """Drain the webhook outbox for as long as the worker runs; Redis outages and failures only pause it."""
    while True:
        try:
            await notifier.run_forever()
            await asyncio.sleep(RESTART_AFTER_S)  # it returned normally (e.g. no channels configured): never spin
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - delivery must outlive any one failure
            log.exception("notification delivery loop failed; restarting in %.0f s", RESTART_AFTER_S)
            await asyncio.sleep(RESTART_AFTER_S)


def add_delivery(app: faust.App, notifier: Notifier) -> None:
    """Run :func:`deliver_forever` as a task of ``app``."""

    @app.task
    async def deliver_notifications() -> None:
        await deliver_forever(notifier)
