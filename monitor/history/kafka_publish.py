"""Produce a replay's stories to its raw topic in order, paced or not, through the live at-least-once producer.

:class:`consumers.produce.StoryProducer` is the live consumers' producer: a story counts as delivered only once
the broker acknowledged it, and only then is its id marked seen in the run's namespace, so a replay that dies
half-way re-sends the rest when run again (and the windows, idempotent by story id, count nothing twice). Its one
sender sends in submission order; with the run's single partition the worker reads them in that order.
"""

from __future__ import annotations

import asyncio

from consumers.dedup import Deduplicator
from consumers.produce import StoryProducer
from monitor.ground.contracts import Story
from monitor.ground.progress import SILENT, Bars
from monitor.ground.settings import Settings
from monitor.history.pacing import Pacer


async def publish(settings: Settings, stories: list[Story], dedup: Deduplicator, *, speed: float | None = None,
                  bars: Bars = SILENT, pacer: Pacer | None = None) -> int:
    """Produce ``stories`` to ``settings.topics.raw``; returns how many the broker acknowledged."""
    producer = StoryProducer(settings, dedup, queue_size=5000, delivery_timeout_s=30.0)
    step = bars.step("producing", len(stories))
    await producer.start()
    futures: list[asyncio.Future[None]] = []
    try:
        async for chunk in (pacer or Pacer(speed)).chunks(stories):
            for future in await producer.submit(chunk):
                future.add_done_callback(lambda _: step.advance())
                futures.append(future)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return producer.acknowledged
