"""Load scenarios 5-7: hostile feeds beside normal ones, an overload burst, and a soak at half capacity.

What they measure besides the books: poll lag of the normal feeds, the consumer lag the worker reports on
``/health``, and the RSS, descriptors and threads of every process (``probes.Sampler``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from tests.support.resilience.harness import Harness, HarnessConfig
from tests.support.resilience.probes import metric_values
from tests.support.resilience.report import MB, ScenarioResult
from tests.support.resilience.steps import Size, finish, ready

# --- 5. slow and hostile feeds -----------------------------------------------------------------------------

HOSTILE_KINDS = {"trickle": "timeout", "endless": "too_large", "huge": "too_large", "loop": "redirects"}


async def hostile_feeds(workdir: Path, size: Size, max_poll_lag_s: float = 2.0, max_ingest_growth_mb: float = 32.0,
                        max_ingest_peak_mb: float = 200.0) -> ScenarioResult:
    """Four hostile publishers (1 byte/s, never-ending, 10 MB, redirect loop) beside the normal ones for
    ``outage_s``: the normal feeds keep their schedule, the consumers' memory stays bounded, the books balance."""
    began = time.monotonic()
    config = HarnessConfig(workdir, feed_window=size.feed_window, hostile=tuple(HOSTILE_KINDS))
    async with Harness(config) as h:
        await h.set_rate(size.rate)
        await ready(h, "hostile_feeds")
        assert h.sampler is not None
        h.sampler.sample_now()
        baseline = h.sampler.series("ingest")[-1].rss
        phase = h.mark("hostile phase measured from here")
        await asyncio.sleep(size.outage_s)
        end = h.mark("hostile phase ends")
        lags = await _poll_lags(h, phase, end, config.feed_interval_s)
        errors = await metric_values(f"{h.ingest_url}/metrics", "bearwatch_ingest_errors")
        growth = (h.sampler.peak_rss("ingest", since=phase) - baseline) / MB
        result = await finish("5 hostile feeds", h, began, size)
        result.require(bool(lags), "no poll of a normal feed during the hostile phase")
        worst = max(lags, default=0.0)
        result.require(worst <= max_poll_lag_s, f"normal feeds fell behind: worst poll lag {worst:.2f} s "
                                                f"> {max_poll_lag_s} s")
        for mode, kind in HOSTILE_KINDS.items():
            hits = sum(v for labels, v in errors if labels.get("feed") == f"hostile-{mode}"
                       and labels.get("kind") == kind)
            result.require(hits > 0, f"hostile-{mode} was never cut off as {kind!r}")
        peak = h.sampler.peak_rss("ingest") / MB
        result.require(growth <= max_ingest_growth_mb, f"ingest RSS grew {growth:.0f} MB > {max_ingest_growth_mb}")
        result.require(peak <= max_ingest_peak_mb, f"ingest RSS peaked at {peak:.0f} MB > {max_ingest_peak_mb}")
        cut = ", ".join(f"{labels['feed']} {labels['kind']} x{v:.0f}" for labels, v in errors
                        if labels.get("feed", "").startswith("hostile"))
        ordered = sorted(lags) or [0.0]
        result.notes.append(
            f"normal feeds' poll lag over {len(lags)} polls: p50 {statistics.median(ordered):.2f} s, "
            f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.2f} s, max {worst:.2f} s; ingest RSS "
            f"{baseline / MB:.0f} MB at the start of the phase, +{growth:.0f} MB during it, peak {peak:.0f} MB; "
            f"hostile feeds cut: {cut}")
    return result


async def _poll_lags(h: Harness, since: float, until: float, interval_s: float) -> list[float]:
    """For each poll of a normal feed: how much later it started than its schedule says (its interval after the
    previous poll ended; the schedule's 5 % jitter and the host's 0.2 s politeness gap are part of the lag)."""
    hits = await h.world.call(h.world.hits)
    by_feed: dict[str, list] = {}
    for publisher, path, hit in hits:
        if not publisher.startswith("hostile"):
            by_feed.setdefault(path, []).append(hit)
    lags = []
    for feed_hits in by_feed.values():
        feed_hits.sort(key=lambda hit: hit.started)
        for previous, hit in zip(feed_hits, feed_hits[1:], strict=False):
            if since <= hit.started <= until and previous.ended:
                lags.append(max(0.0, hit.started - previous.ended - interval_s))
    return lags


# --- 6. overload -------------------------------------------------------------------------------------------


async def overload(workdir: Path, size: Size, max_worker_growth_mb: float = 250.0) -> ScenarioResult:
    """A burst of ``burst`` stories, far faster than the model scores: the lag grows and /health shows it, memory
    stays bounded, nothing is dropped, and the lag drains afterwards. Reports the measured capacity."""
    began = time.monotonic()
    async with Harness(HarnessConfig(workdir, feed_window=size.feed_window)) as h:
        await ready(h, "overload")
        assert h.sampler is not None
        await asyncio.sleep(3)
        h.sampler.sample_now()
        base = {name: h.sampler.series(name)[-1].rss for name in ("worker", "ingest")}
        start = h.mark(f"burst of {size.burst} stories")
        await h.set_rate(size.rate)
        await asyncio.sleep(size.burst / size.rate)
        drained = await h.drain(size.settle_s)
        end = time.monotonic()
        lag_zero = await _wait_lag_zero(h, 30)
        scored_in_burst = sum(1 for s in h.taps["scored"].seen.values() if start <= s.first_at <= end)
        capacity = scored_in_burst / max(1e-6, end - start)
        result = await finish("6 overload", h, began, size)
        result.max_lag = h.sampler.max_lag(since=start)
        growth = {n: (h.sampler.peak_rss(n, since=start) - base[n]) / MB for n in base}
        result.require(drained, "the backlog did not drain")
        result.require(result.max_lag >= size.burst // 4, f"/health never showed the lag (max {result.max_lag})")
        result.require(lag_zero, "/health still reports lag after the backlog drained")
        result.require(growth["worker"] <= max_worker_growth_mb,
                       f"worker RSS grew {growth['worker']:.0f} MB during the burst")
        result.notes.append(f"capacity ≈ {capacity:.0f} stories/s scored end to end; backlog drained in "
                            f"{end - start:.0f} s; RSS growth MB: "
                            + ", ".join(f"{n} +{g:.0f}" for n, g in growth.items()))
        result.measured["capacity"] = capacity
    return result


async def _wait_lag_zero(h: Harness, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await h.consumer_lag() == 0:
            return True
        await asyncio.sleep(1)
    return False


# --- 7. soak -----------------------------------------------------------------------------------------------


async def _count_tasks_until(h: Harness, warm: float, end: float, every_s: float = 15.0) -> dict[str, list[float]]:
    """``bearwatch_asyncio_tasks`` of ingest and worker every ``every_s`` from ``warm`` until ``end``."""
    counts: dict[str, list[float]] = {"ingest": [], "worker": []}
    while (now := time.monotonic()) < end:
        if now >= warm:
            for service, url in (("ingest", h.ingest_url), ("worker", h.worker_url)):
                for _, value in await metric_values(f"{url}/metrics", "bearwatch_asyncio_tasks"):
                    counts[service].append(value)
        await asyncio.sleep(min(every_s, max(0.0, end - time.monotonic())))
    return counts


async def soak(workdir: Path, size: Size, max_growth: float = 0.10) -> ScenarioResult:
    """``outage_s`` seconds at ``rate`` (half the measured capacity): after warm-up the RSS of the consumers and
    the worker grows less than 10 %, and their descriptors, threads and asyncio tasks stay flat. The broker and
    Valkey hold the data itself (memory storage), so their growth is reported, not asserted."""
    began = time.monotonic()
    async with Harness(HarnessConfig(workdir, feed_window=size.feed_window)) as h:
        await ready(h, "soak")
        assert h.sampler is not None
        h.sampler.interval_s = 5.0
        start = h.mark(f"soak at {size.rate:.0f} stories/s for {size.outage_s:.0f} s")
        await h.set_rate(size.rate)
        warm = start + max(60.0, size.outage_s / 5)
        tasks = await _count_tasks_until(h, warm, start + size.outage_s)
        result = await finish("7 soak", h, began, size)
        for service, counts in tasks.items():
            if len(counts) < 4:
                result.failures.append(f"{service}: too few asyncio task counts after warm-up")
                continue
            third = max(1, len(counts) // 3)
            early, late = max(counts[:third]), max(counts[-third:])
            summary = (f"{service}: asyncio tasks {min(counts):.0f}-{max(counts):.0f} "
                       f"(max early {early:.0f}, late {late:.0f})")
            result.require(late <= early + 5, f"{summary}: the task count keeps rising")
            result.notes.append(summary)
        for name in ("ingest", "worker", "kafka", "redis"):
            series = [s for s in h.sampler.series(name) if warm <= s.at <= start + size.outage_s]
            if len(series) < 4:
                result.failures.append(f"{name}: too few samples after warm-up")
                continue
            tenth = max(1, len(series) // 10)
            first = statistics.median(s.rss for s in series[:tenth])
            last = statistics.median(s.rss for s in series[-tenth:])
            growth = last / first - 1
            fds = series[-1].fds - series[0].fds
            threads = series[-1].threads - series[0].threads
            path = "/".join(f"{statistics.median(s.rss for s in series[i:i + tenth]) / MB:.0f}"
                            for i in range(0, len(series), max(tenth, len(series) // 5)))
            summary = f"{name}: RSS {first / MB:.0f}→{last / MB:.0f} MB ({growth:+.1%}; along the way {path}), " \
                      f"fds {fds:+d}, threads {threads:+d}"
            if name in ("ingest", "worker"):
                result.require(growth < max_growth, f"{summary}: RSS grew ≥ {max_growth:.0%}")
                result.require(fds <= 5 and threads <= 2, f"{summary}: descriptors or threads leak")
            result.notes.append(summary)
    return result
