"""``bearwatch_asyncio_tasks`` counts the live tasks of the watched loop, at scrape time."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from monitor.ground.loop_metrics import watch_tasks


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


async def test_the_lag_probe_sees_a_loop_held_by_blocking_code() -> None:
    """A probe asleep when the loop is held for 0.3 s wakes at least 0.2 s late (it asked for 0.1 s)."""
    import time

    from monitor.ground.loop_metrics import recent_lag

    watch_tasks("lag-test")
    watch_tasks("lag-test")  # a second call starts no second probe
    await asyncio.sleep(0.25)  # the probe is running and asleep
    probes = [t for t in asyncio.all_tasks() if t.get_name() == "loop-lag-probe:lag-test"]
    assert len(probes) == 1
    time.sleep(0.3)  # noqa: ASYNC251 - holding the loop on purpose
    await asyncio.sleep(0.25)
    lag = recent_lag("lag-test")
    assert lag["samples"] >= 2
    assert lag["max_s"] >= 0.2
    assert REGISTRY.get_sample_value("bearwatch_event_loop_lag_seconds_count", {"service": "lag-test"}) >= 2
    probes[0].cancel()
