"""``bearwatch_asyncio_tasks`` counts the live tasks of the watched loop, at scrape time."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from monitor.loop_metrics import watch_tasks


def _tasks(service: str) -> float | None:
    return REGISTRY.get_sample_value("bearwatch_asyncio_tasks", {"service": service})


async def test_the_gauge_follows_tasks_as_they_start_and_finish() -> None:
    watch_tasks("test-loop")
    before = _tasks("test-loop")
    assert before is not None and before >= 1  # at least this test's own task
    release = asyncio.Event()
    sleepers = [asyncio.create_task(release.wait()) for _ in range(25)]
    await asyncio.sleep(0)
    assert _tasks("test-loop") == before + 25
    release.set()
    await asyncio.gather(*sleepers)
    assert _tasks("test-loop") == before
