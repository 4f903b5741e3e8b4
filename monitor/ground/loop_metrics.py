"""Event-loop health of a service, read straight from its loop: task count and scheduling lag.

``bearwatch_asyncio_tasks{service}``: how many asyncio tasks the loop holds, read at scrape time. Why: a task leak
(a poll, a delivery or a timer task that is created per event and never finishes) grows memory slowly and is
invisible in RSS for hours; a gauge read straight from the loop shows it at once. The soak scenario of
``bench/resilience`` asserts it stays flat.

``bearwatch_event_loop_lag_seconds{service}``: how late a probe that asks to wake every ``LAG_PROBE_S`` really
wakes. Why: anything that holds the loop (a CPU-heavy decode, a blocking call, the model's Python side fighting
torch's threads for a core) delays every heartbeat, commit and HTTP answer of that process by the same amount;
Faust's "Timer livelock" warnings were the only sign of it before. The same samples feed :func:`recent_lag`, a
percentile over the last minute for ``/health`` and the status page.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from prometheus_client import Gauge, Histogram

ASYNCIO_TASKS = Gauge("bearwatch_asyncio_tasks", "Asyncio tasks alive in the service's event loop.", ["service"])
LOOP_LAG = Histogram(
    "bearwatch_event_loop_lag_seconds", "How late the event loop ran a probe that asked to wake up on time.",
    ["service"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

#: How often the lag probe asks to wake up. 10 wake-ups a second cost nothing measurable and resolve lag well
#: below the 100 ms that matters (a heartbeat is 1 s).
LAG_PROBE_S = 0.1
#: Recent samples kept per service for :func:`recent_lag` (one minute at the probe's rate, with headroom).
RECENT_SAMPLES = 1200

_probes: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = {}
_recent: dict[str, deque[tuple[float, float]]] = {}


def watch_tasks(service: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Publish the task count of ``loop`` (default: the running loop) under ``service``, and start its lag probe.

    Calling it again for the same service and loop changes nothing; a new loop (a restarted service) gets a new
    probe.
    """
    target = loop or asyncio.get_running_loop()
    ASYNCIO_TASKS.labels(service).set_function(lambda: len(asyncio.all_tasks(target)))
    current = _probes.get(service)
    if current is not None and current[0] is target and not current[1].done():
        return
    task = target.create_task(_probe(service, target), name=f"loop-lag-probe:{service}")
    _probes[service] = (target, task)


async def _probe(service: str, loop: asyncio.AbstractEventLoop, interval_s: float = LAG_PROBE_S) -> None:
    histogram = LOOP_LAG.labels(service)
    recent = _recent.setdefault(service, deque(maxlen=RECENT_SAMPLES))
    while True:
        asked = loop.time()
        await asyncio.sleep(interval_s)
        lag = max(0.0, loop.time() - asked - interval_s)
        histogram.observe(lag)
        recent.append((time.monotonic(), lag))


def recent_lag(service: str, window_s: float = 60.0) -> dict[str, float | int]:
    """p50, p99 and max event-loop lag of ``service`` over the last ``window_s`` seconds (0 with no samples)."""
    since = time.monotonic() - window_s
    lags = sorted(lag for at, lag in list(_recent.get(service, ())) if at >= since)
    if not lags:
        return {"samples": 0, "p50_s": 0.0, "p99_s": 0.0, "max_s": 0.0}

    def pick(q: float) -> float:
        return round(lags[min(len(lags) - 1, int(q * len(lags)))], 4)

    return {"samples": len(lags), "p50_s": pick(0.5), "p99_s": pick(0.99), "max_s": round(lags[-1], 4)}
