"""When to poll a feed next: its interval when healthy, exponential backoff with jitter when failing.

A failing feed is retried soon at first (most errors are transient), then ever more slowly so a broken server is
not hammered; jitter keeps many feeds that failed together (a CDN outage) from retrying in lockstep. A server's
``Retry-After`` is honoured (capped, so a bogus value cannot park a feed for a year). After ``unhealthy_after``
consecutive failures the feed is marked unhealthy and probed only every ``unhealthy_probe_s``, never dropped.
The waits come from the one policy, :class:`monitor.ground.retry.Backoff`, with the registry's ``[engine]`` values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from consumers.registry import EngineConfig
from monitor.ground.retry import Backoff

__all__ = ["OUTAGE_BACKOFF", "FeedSchedule"]

# Our own Redis or Kafka is down, not a feed: retry soon (stories are waiting), at most every 10 s.
OUTAGE_BACKOFF = Backoff(base_s=0.5, cap_s=10.0)


@dataclass
class FeedSchedule:
    """Failure count and health of one feed, and the delay before its next poll."""

    engine: EngineConfig
    interval_s: float
    consecutive_failures: int = 0
    healthy: bool = True
    backoff: Backoff = field(init=False)

    def __post_init__(self) -> None:
        self.backoff = Backoff(
            base_s=self.engine.backoff_base_s, cap_s=self.engine.backoff_max_s,
            retry_after_max_s=self.engine.retry_after_max_s,
        )

    def after_success(self) -> float:
        self.consecutive_failures = 0
        self.healthy = True
        return self.interval_s * random.uniform(0.95, 1.05)

    def after_not_modified(self) -> float:
        return self.after_success()

    def after_failure(self, retry_after_s: float | None = None) -> float:
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.engine.unhealthy_after:
            self.healthy = False
        delay = self.backoff.delay(self.consecutive_failures, retry_after_s)
        if not self.healthy:
            delay = max(delay, self.engine.unhealthy_probe_s)
        return delay
