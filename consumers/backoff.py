"""When to poll a feed next: its interval when healthy, exponential backoff with jitter when failing.

A failing feed is retried soon at first (most errors are transient), then ever more slowly so a broken server is
not hammered; jitter keeps many feeds that failed together (a CDN outage) from retrying in lockstep. A server's
``Retry-After`` is honoured (capped, so a bogus value cannot park a feed for a year). After ``unhealthy_after``
consecutive failures the feed is marked unhealthy and probed only every ``unhealthy_probe_s``, never dropped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from consumers.registry import EngineConfig


def backoff_delay(failures: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Equal-jitter exponential backoff: between half and all of ``min(cap, base * 2**(failures-1))``."""
    ceiling = min(cap_s, base_s * 2 ** max(0, min(failures - 1, 30)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None when absent or bogus."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class FeedSchedule:
    """Failure count and health of one feed, and the delay before its next poll."""

    engine: EngineConfig
    interval_s: float
    consecutive_failures: int = 0
    healthy: bool = True

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
        delay = backoff_delay(self.consecutive_failures, self.engine.backoff_base_s, self.engine.backoff_max_s)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.engine.retry_after_max_s))
        if not self.healthy:
            delay = max(delay, self.engine.unhealthy_probe_s)
        return delay
