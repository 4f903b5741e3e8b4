"""How fast the worker keeps up with the news: produce→stage latencies, the live scoring rate, and "behind".

Why in-process as well as in Prometheus: ``/health``, the status page and the bench need the answer without a
Prometheus server (a fresh ``make run`` has none), over a recent window, with exact percentiles. Prometheus gets
the same samples as a histogram (``bearwatch_pipeline_latency_seconds``) for dashboards and alerting.

The produce time of a story is the Kafka timestamp of its ``news.raw`` record (set by the producer when it sent
it). A clock step or another host's skew can make a latency negative; it is counted as 0.

*Behind*: 0 while the worker has nothing queued; otherwise the age now of the newest story it has decided, which
bounds how old the next queued story is and keeps growing if the worker stalls. Above :data:`BEHIND_AFTER_S` the
worker says so on ``/health`` and on the status page, with the queue depth and the time it needs to drain at
the current rate.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from itertools import takewhile
from typing import Any

from monitor.stages.worker import metrics

#: Seconds behind the news after which the worker reports itself as behind. Well above the normal
#: produce→decision latency (about a second at half capacity) so that ordinary batching never trips it.
BEHIND_AFTER_S = 5.0
#: Samples kept per stage: bounded memory and bounded work per read, whatever the rate (a minute at over 300
#: stories a second; above that the percentiles cover the most recent 20,000 stories).
MAX_SAMPLES = 20_000
RATE_WINDOW_S = 60.0


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


class Pace:
    """Recent produce→stage latencies and scoring counts of one worker process. Not thread-safe: loop only."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._samples = {stage: deque[tuple[float, float]](maxlen=MAX_SAMPLES) for stage in metrics.STAGES}
        self._scored = deque[tuple[float, int]](maxlen=MAX_SAMPLES)
        self._started = clock()
        self.last_decided_produced: float | None = None
        self.backlog = 0

    def observe(self, stage: str, produced: Iterable[float | None]) -> None:
        """Record that stories produced at ``produced`` (Unix seconds; ``None``: unknown) reached ``stage`` now."""
        now = self._clock()
        histogram = metrics.PIPELINE_LATENCY.labels(stage)
        samples = self._samples[stage]
        newest = None
        count = 0
        for at in produced:
            if at is None or at <= 0:
                continue
            latency = max(0.0, now - at)
            histogram.observe(latency)
            samples.append((now, latency))
            newest = at if newest is None else max(newest, at)
            count += 1
        if stage == "scored" and count:
            self._scored.append((now, count))
        if stage == "decided" and newest is not None:
            self.last_decided_produced = max(newest, self.last_decided_produced or newest)

    def rate(self, window_s: float = RATE_WINDOW_S) -> float:
        """Stories scored per second over the last ``window_s`` (or since start, if shorter)."""
        now = self._clock()
        since = now - window_s
        total = sum(n for _, n in takewhile(lambda sample: sample[0] >= since, reversed(self._scored)))
        span = min(window_s, max(1e-9, now - self._started))
        return total / span

    def latency(self, stage: str, since: float | None = None, window_s: float = RATE_WINDOW_S) -> dict[str, Any]:
        """p50/p99/max of ``stage`` latencies recorded at or after ``since`` (default: the last ``window_s``)."""
        start = since if since is not None else self._clock() - window_s
        # Samples are appended in time order: read back from the newest only as far as ``start`` (this runs on
        # the event loop for every /health and status read).
        recent = takewhile(lambda sample: sample[0] >= start, reversed(self._samples[stage]))
        values = sorted(latency for _, latency in recent)
        if not values:
            return {"count": 0, "p50_s": None, "p99_s": None, "max_s": None}
        return {"count": len(values), "p50_s": round(_quantile(values, 0.5), 3),
                "p99_s": round(_quantile(values, 0.99), 3), "max_s": round(values[-1], 3)}

    def set_backlog(self, stories: int) -> None:
        self.backlog = max(0, int(stories))
        metrics.BACKLOG.set(self.backlog)

    def behind(self) -> dict[str, Any]:
        """Whether the worker is behind, by how many seconds and stories, and how long the queue needs to drain."""
        rate = self.rate()
        seconds = 0.0
        if self.backlog > 0 and self.last_decided_produced is not None:
            seconds = max(0.0, self._clock() - self.last_decided_produced)
        elif self.backlog > 0:  # nothing decided yet: as old as this process
            seconds = max(0.0, self._clock() - self._started)
        metrics.BEHIND.set(seconds)
        metrics.SCORING_RATE.set(rate)
        return {
            "behind": seconds > BEHIND_AFTER_S, "seconds": round(seconds, 1), "backlog_stories": self.backlog,
            "rate_per_s": round(rate, 1),
            "drain_s": round(self.backlog / rate, 1) if rate > 0 and self.backlog else (0.0 if not self.backlog
                                                                                         else None),
            "threshold_s": BEHIND_AFTER_S,
        }

    def summary(self, since: float | None = None) -> dict[str, Any]:
        """Everything at once: what ``/health``, ``/api/status`` and the bench read."""
        return {"stages": {stage: self.latency(stage, since) for stage in metrics.STAGES}, **self.behind()}
