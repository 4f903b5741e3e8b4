"""``bearwatch_asyncio_tasks{service}``: how many asyncio tasks a service's event loop holds, read at scrape time.

Why: a task leak (a poll, a delivery or a timer task that is created per event and never finishes) grows
memory slowly and is invisible in RSS for hours; a gauge read straight from the loop shows it at once. The
soak scenario of ``bench/resilience`` asserts it stays flat.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Gauge

ASYNCIO_TASKS = Gauge("bearwatch_asyncio_tasks", "Asyncio tasks alive in the service's event loop.", ["service"])


def watch_tasks(service: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Publish the task count of ``loop`` (default: the running loop) under ``service``."""
    target = loop or asyncio.get_running_loop()
    ASYNCIO_TASKS.labels(service).set_function(lambda: len(asyncio.all_tasks(target)))
