"""The resilience scenarios, their sizes and their names.

Every scenario is an async function ``(workdir, size) -> ScenarioResult`` that starts its own system, injects its
fault or load, settles, closes the books and records its own assertion (``result.check()`` raises). ``CI`` sizes
keep ``tests/e2e/test_resilience.py`` short; ``BENCH`` sizes are what ``python -m bench.resilience`` runs.
Faults (1-4) live in ``faults.py``, load (5-7) in ``load.py``.
"""

from __future__ import annotations

from tests.support.resilience.faults import (
    broker_crash_seaweedfs,
    broker_crash_unsynced,
    broker_restart,
    receiver_down,
    redis_restart,
    redis_restart_memory,
    worker_crash,
)
from tests.support.resilience.load import hostile_feeds, overload, soak
from tests.support.resilience.steps import Size

CI = {
    "broker_restart": Size(rate=8, stream_s=4, outage_s=4),
    "redis_restart": Size(rate=8, stream_s=5, outage_s=3),
    "worker_crash": Size(rate=8, stream_s=4),
    "receiver_down": Size(rate=8, stream_s=4, outage_s=20),
    "hostile_feeds": Size(rate=8, outage_s=12),
}
BENCH = {
    "broker_restart": Size(rate=20, stream_s=20, outage_s=15, faults=2),
    "broker_crash_unsynced": Size(rate=20, stream_s=20, outage_s=10, faults=2),
    "broker_crash_seaweedfs": Size(rate=20, stream_s=20, outage_s=10, faults=2),
    "redis_restart": Size(rate=20, stream_s=60, outage_s=10, feed_window=120),
    "redis_restart_memory": Size(rate=20, stream_s=60, outage_s=10, feed_window=120),
    "worker_crash": Size(rate=20, stream_s=20, faults=3, settle_s=240),
    "receiver_down": Size(rate=20, stream_s=20, outage_s=180, settle_s=300),
    "hostile_feeds": Size(rate=20, outage_s=120),
    "overload": Size(rate=600, burst=12000, feed_window=600, settle_s=600),
    "soak": Size(rate=40, outage_s=1800, feed_window=100, settle_s=300),
}
SCENARIOS = {
    "broker_restart": broker_restart,
    "broker_crash_unsynced": broker_crash_unsynced,
    "broker_crash_seaweedfs": broker_crash_seaweedfs,
    "redis_restart": redis_restart,
    "redis_restart_memory": redis_restart_memory,
    "worker_crash": worker_crash,
    "receiver_down": receiver_down,
    "hostile_feeds": hostile_feeds,
    "overload": overload,
    "soak": soak,
}
__all__ = ["BENCH", "CI", "SCENARIOS", "Size", "broker_crash_seaweedfs", "broker_crash_unsynced", "broker_restart",
           "hostile_feeds", "overload", "receiver_down", "redis_restart", "redis_restart_memory", "soak",
           "worker_crash"]
