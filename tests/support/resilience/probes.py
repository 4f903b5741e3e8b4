"""Probes of the running processes: RSS, file descriptors and threads (psutil), /health and /metrics over HTTP.

Resource use is sampled from outside, by pid, so the numbers are what an operator's ``ps`` would show; a
process the supervisor restarted is followed under its new pid. The worker's ``/health`` carries the consumer
lag, which the overload scenario reads as the user would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    at: float
    name: str
    pid: int
    rss: int
    fds: int
    threads: int


class Sampler:
    """Every ``interval_s``: resources of each named process, and the worker's consumer lag."""

    def __init__(self, pids: Callable[[], dict[str, int | None]], lag: Callable[[], object],
                 interval_s: float = 1.0) -> None:
        self.pids = pids
        self.lag = lag
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.lags: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Sampler:
        self._task = asyncio.create_task(self._run(), name="sampler")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self.sample_now()
            lag = await self.lag()  # type: ignore[misc]
            if lag is not None:
                self.lags.append((time.monotonic(), int(lag)))
            await asyncio.sleep(self.interval_s)

    def sample_now(self) -> None:
        now = time.monotonic()
        for name, pid in self.pids().items():
            if pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                with proc.oneshot():
                    self.samples.append(Sample(now, name, pid, proc.memory_info().rss, proc.num_fds(),
                                               proc.num_threads()))

    def series(self, name: str, since: float = 0.0) -> list[Sample]:
        return [s for s in self.samples if s.name == name and s.at >= since]

    def peak_rss(self, name: str, since: float = 0.0) -> int:
        return max((s.rss for s in self.series(name, since)), default=0)

    def max_lag(self, since: float = 0.0) -> int:
        return max((lag for at, lag in self.lags if at >= since), default=0)


async def get_json(url: str, timeout_s: float = 3.0) -> dict | None:
    """The JSON answer of ``url`` (any status), or None when nothing answered."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url)
        return response.json()
    except (httpx.HTTPError, ValueError):
        return None


async def metric_values(url: str, name: str, timeout_s: float = 3.0) -> list[tuple[dict[str, str], float]]:
    """Every sample of metric family ``name`` (labels, value) on a Prometheus ``/metrics`` page."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            text = (await client.get(url)).text
    except httpx.HTTPError:
        return []
    return [
        (dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text) if family.name == name
        for sample in family.samples if sample.name in (name, f"{name}_total")
    ]
