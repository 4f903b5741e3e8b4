"""The seven resilience scenarios: each starts its own system, injects its fault, settles, closes the books and
states its own assertion (``ScenarioResult.require``; ``result.check()`` raises).

Every scenario takes a :class:`Size`; ``CI`` presets keep ``tests/test_resilience.py`` short, ``BENCH`` presets
are what ``python -m bench.resilience`` runs. What each one proves and what it cannot (the embedded broker and
Redis keep everything in memory) is written up in ``docs/resilience.md``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.resilience.books import close_books
from bench.resilience.harness import Harness, HarnessConfig
from bench.resilience.probes import metric_values
from bench.resilience.report import MB, ScenarioResult


@dataclass(frozen=True)
class Size:
    rate: float = 8.0  # stories per second written by the publishers
    stream_s: float = 8.0  # seconds of stream before and after each fault
    outage_s: float = 5.0  # how long the fault lasts (scenario 5: the hostile phase; 7: the soak)
    faults: int = 1  # how many times the fault is injected
    burst: int = 0  # scenario 6: stories written at once
    feed_window: int = 400  # items each feed carries
    settle_s: float = 120.0  # longest wait for the books to balance


def _result(name: str, h: Harness, began: float) -> ScenarioResult:
    from bench.resilience.books import Books

    assert h.sampler is not None
    return ScenarioResult(name, Books(), max_lag=h.sampler.max_lag(),
                          peak_rss={n: h.sampler.peak_rss(n) for n in ("kafka", "redis", "ingest", "worker")},
                          seconds=time.monotonic() - began)


async def _finish(name: str, h: Harness, began: float, size: Size, *, oracle: bool = True,
                  strict_alerts: bool = True) -> ScenarioResult:
    settled = await h.settle(size.settle_s)
    books = await close_books(h, oracle=oracle)
    result = _result(name, h, began)
    result.books = books
    result.require(settled, f"the system did not settle within {size.settle_s:.0f} s")
    for problem in books.problems(alerts=strict_alerts, oracle=oracle):
        result.failures.append(problem)
    if books.not_scored or books.lost:
        result.notes.append("taps: " + "; ".join(tap.describe() for tap in h.taps.values()))
    if books.oracle is None and oracle:
        result.notes.append(f"offline detector check not applicable: {books.late} late, {books.ambiguous} "
                            "ambiguous stories")
    restarts = {n: s.restarts for n, s in h.services.items() if s.restarts}
    if restarts:
        result.notes.append(f"supervisor restarts: {restarts}")
    return result


async def _ready(h: Harness, result_name: str) -> None:
    if not await h.wait_ready():
        raise AssertionError(f"{result_name}: the pipeline never became ready; logs in {h.workdir / 'logs'}")


# --- 1. broker restart -------------------------------------------------------------------------------------


async def broker_restart(workdir: Path, size: Size, *, drained: bool = True) -> ScenarioResult:
    """Kill the broker mid-stream and start it again on the same port.

    The publishers keep writing during the outage, so the consumers must hold what they polled and re-send it;
    the worker must rejoin a broker that forgot its topics and group. With ``drained`` (the default) the crash
    comes right after the worker caught up with the broker, so nothing acknowledged-but-unconsumed sits in the
    broker's memory and the assertion is strict: not one story lost. Without it the crash is unsynchronised and
    any loss must be exactly the stories the raw tap saw acknowledged and the worker had not counted yet
    (Tansu's memory storage; Apache Kafka would keep them).
    """
    began = time.monotonic()
    async with Harness(HarnessConfig(workdir, feed_window=size.feed_window)) as h:
        await h.set_rate(size.rate)  # the stream starts while the worker is still loading its model
        await _ready(h, "broker_restart")
        crashes, recoveries = [], []
        for _ in range(size.faults):
            await asyncio.sleep(size.stream_s)
            if drained:
                await h.drain(60)
                await h.alerts_handed_on()
            crashes.append(await h.stop_server("kafka"))
            await h.set_rate(size.rate)  # the publishers go on writing while the broker is down
            await asyncio.sleep(size.outage_s)
            restarted = await h.start_server("kafka")
            recoveries.append(await _recovery(h, restarted, 90))
        await asyncio.sleep(size.stream_s)
        result = await _finish("1 broker restart", h, began, size)
        in_broker = set()
        for crash in crashes:
            in_broker |= h.taps["raw"].seen_before(crash) & set(result.books.lost)
        if drained:
            result.require(not in_broker, f"{len(in_broker)} stories acknowledged by the broker before the crash "
                                          "were lost with its memory")
        else:
            unexplained = set(result.books.lost) - in_broker
            result.failures = [f for f in result.failures if "never counted" not in f and "news.scored" not in f]
            result.require(not unexplained, f"{len(unexplained)} lost stories not explained by the broker's memory")
            result.notes.append(f"lost with Tansu's memory (acknowledged, not yet consumed): {len(in_broker)}")
        result.notes.append("recovery after restart (first new story counted): "
                            + ", ".join(f"{r:.1f} s" if r is not None else "never" for r in recoveries))
        result.require(all(r is not None for r in recoveries), "the pipeline did not resume after a restart")
    return result


async def _recovery(h: Harness, since: float, timeout_s: float) -> float | None:
    """Seconds from ``since`` until a story written after it is counted."""
    fresh = await h.world.call(lambda: h.world.write(6))
    ok = await h.wait_counted({item.id for item in fresh}, timeout_s)
    return time.monotonic() - since if ok else None


# --- 2. Redis restart --------------------------------------------------------------------------------------


async def redis_restart(workdir: Path, size: Size) -> ScenarioResult:
    """Stop Valkey mid-stream (its memory is gone), start it again: the worker and consumers retry and resume.

    Counts must stay exact: every story on the feeds at the restart or written after it is counted exactly
    once (the consumers lost their seen-ids and ETags with Redis, so they re-fetch and re-produce; the windows
    lost their markers, so each story is counted once more in the new, empty Redis). What lived only in Redis
    is reported: stories that had already left the feeds are gone from the windows, firing alerts were
    forgotten (and are notified again), queued notifications were lost.
    """
    began = time.monotonic()
    async with Harness(HarnessConfig(workdir, feed_window=size.feed_window)) as h:
        await h.set_rate(size.rate)  # the stream starts while the worker is still loading its model
        await _ready(h, "redis_restart")
        await asyncio.sleep(size.stream_s)
        served_before = set(await h.world.call(h.world.served))
        counted_before = await h.counted(served_before)
        queued = await h.outbox_left()
        await h.stop_server("redis")
        on_feeds = await h.world.call(h.world.on_feeds)
        await asyncio.sleep(size.outage_s)
        restarted = await h.start_server("redis")
        recovery = await _recovery(h, restarted, 90)
        await asyncio.sleep(size.stream_s)
        result = await _finish("2 redis restart", h, began, size, oracle=False, strict_alerts=False)
        gone = counted_before - on_feeds
        books = result.books
        # Stories that left every feed before the restart cannot be fetched again: their counts died with Redis.
        result.failures = [f for f in result.failures if "never counted" not in f]
        result.require(set(books.lost) <= gone, f"{len(set(books.lost) - gone)} lost stories were still on the "
                                                 "feeds or written after the restart")
        result.require(not books.undelivered, f"{len(books.undelivered)} decided notifications never delivered")
        result.require(books.outbox_left == 0 and books.dead_letters == 0, "outbox not drained")
        result.require(recovery is not None, "the pipeline did not resume after the restart")
        reproduced = sum(1 for seen in h.taps["raw"].seen.values() if len(seen.copies) > 1)
        result.notes.append(
            f"lost with Valkey's memory: windows of {len(counted_before)} counted stories ({len(gone)} had left "
            f"the feeds and stay uncounted), seen-ids and ETags ({reproduced} stories re-fetched and re-produced), "
            f"alert lifecycle ({books.duplicates} notifications sent again), {queued} queued notifications")
        result.notes.append(f"recovery after restart: {recovery:.1f} s" if recovery else "no recovery")
    return result


# --- 3. worker crash ---------------------------------------------------------------------------------------


async def worker_crash(workdir: Path, size: Size) -> ScenarioResult:
    """SIGKILL the worker mid-stream; the supervisor starts it again. Redelivered messages must not
    double-count, and no alert may be lost or sent twice (checked against the offline detector)."""
    began = time.monotonic()
    async with Harness(HarnessConfig(workdir, feed_window=size.feed_window)) as h:
        await h.set_rate(size.rate)  # the stream starts while the worker is still loading its model
        await _ready(h, "worker_crash")
        recoveries = []
        for _ in range(size.faults):
            await asyncio.sleep(size.stream_s)
            killed = await h.kill("worker")
            recoveries.append(await _recovery(h, killed, 120))
        await asyncio.sleep(size.stream_s)
        result = await _finish("3 worker crash", h, began, size)
        result.require(h.services["worker"].restarts >= size.faults, "the supervisor did not restart the worker")
        result.require(all(r is not None for r in recoveries), "the pipeline did not resume after a crash")
        redelivered = sum(1 for seen in h.taps["scored"].seen.values() if len(seen.copies) > 1)
        result.notes.append(f"stories scored more than once (redelivered after the crash): {redelivered}; "
                            "recovery: " + ", ".join(f"{r:.1f} s" for r in recoveries if r is not None))
    return result


# --- 4. webhook receiver down ------------------------------------------------------------------------------


async def receiver_down(workdir: Path, size: Size) -> ScenarioResult:
    """The webhook receiver is down (port closed) for ``outage_s`` while alerts keep being decided; then it is
    back. Every notification must arrive exactly once, in order per fingerprint, and the outbox must drain."""
    began = time.monotonic()
    config = HarnessConfig(workdir, feed_window=size.feed_window,
                           alert_backoff_max_s=max(4.0, size.outage_s / 6))
    async with Harness(config) as h:
        await h.set_rate(size.rate)  # the stream starts while the worker is still loading its model
        await _ready(h, "receiver_down")
        await asyncio.sleep(size.stream_s)
        down = await h.receiver(up=False)
        await asyncio.sleep(size.outage_s)
        up = await h.receiver(up=True)
        await asyncio.sleep(size.stream_s)
        result = await _finish("4 receiver down", h, began, size)
        during = [s for s in h.taps["alerts"].seen.values() if down <= s.first_at < up]
        retried = await h.world.call(lambda: sum(1 for r in h.world.receiver.requests if r.attempt > 1))
        result.require(bool(during), "no notification was decided while the receiver was down: nothing tested")
        result.require(retried > 0, "no request was a retry: the outage was not felt")
        result.notes.append(f"receiver down {up - down:.0f} s; {len(during)} notifications decided meanwhile; "
                            f"{retried} requests arrived as retries (X-Bearwatch-Attempt > 1)")
    return result


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
        await _ready(h, "hostile_feeds")
        assert h.sampler is not None
        h.sampler.sample_now()
        baseline = h.sampler.series("ingest")[-1].rss
        phase = h.mark("hostile phase measured from here")
        await asyncio.sleep(size.outage_s)
        end = h.mark("hostile phase ends")
        lags = await _poll_lags(h, phase, end, config.feed_interval_s)
        errors = await metric_values(f"{h.ingest_url}/metrics", "bearwatch_ingest_errors")
        growth = (h.sampler.peak_rss("ingest", since=phase) - baseline) / MB
        result = await _finish("5 hostile feeds", h, began, size)
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
        await _ready(h, "overload")
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
        result = await _finish("6 overload", h, began, size)
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


async def soak(workdir: Path, size: Size, max_growth: float = 0.10) -> ScenarioResult:
    """``outage_s`` seconds at ``rate`` (half the measured capacity): after warm-up the RSS of the consumers and
    the worker grows less than 10 %, and their descriptors and threads stay flat. The broker and Valkey hold
    the data itself (memory storage), so their growth is reported, not asserted."""
    began = time.monotonic()
    async with Harness(HarnessConfig(workdir, feed_window=size.feed_window)) as h:
        await _ready(h, "soak")
        assert h.sampler is not None
        h.sampler.interval_s = 5.0
        start = h.mark(f"soak at {size.rate:.0f} stories/s for {size.outage_s:.0f} s")
        await h.set_rate(size.rate)
        await asyncio.sleep(size.outage_s)
        warm = start + max(60.0, size.outage_s / 5)
        result = await _finish("7 soak", h, began, size)
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
            summary = f"{name}: RSS {first / MB:.0f}→{last / MB:.0f} MB ({growth:+.1%}), fds {fds:+d}, " \
                      f"threads {threads:+d}"
            if name in ("ingest", "worker"):
                result.require(growth < max_growth, f"{summary}: RSS grew ≥ {max_growth:.0%}")
                result.require(fds <= 5 and threads <= 2, f"{summary}: descriptors or threads leak")
            result.notes.append(summary)
    return result


CI = {
    "broker_restart": Size(rate=8, stream_s=4, outage_s=4),
    "redis_restart": Size(rate=8, stream_s=5, outage_s=3),
    "worker_crash": Size(rate=8, stream_s=4),
    "receiver_down": Size(rate=8, stream_s=4, outage_s=20),
    "hostile_feeds": Size(rate=8, outage_s=12),
}
BENCH = {
    "broker_restart": Size(rate=20, stream_s=20, outage_s=15, faults=2),
    "redis_restart": Size(rate=20, stream_s=30, outage_s=10, feed_window=60),
    "worker_crash": Size(rate=20, stream_s=20, faults=3, settle_s=240),
    "receiver_down": Size(rate=20, stream_s=20, outage_s=180, settle_s=300),
    "hostile_feeds": Size(rate=20, outage_s=120),
    "overload": Size(rate=400, burst=4000, feed_window=1000, settle_s=600),
    "soak": Size(rate=40, outage_s=1800, feed_window=200, settle_s=300),
}
SCENARIOS = {
    "broker_restart": broker_restart, "redis_restart": redis_restart, "worker_crash": worker_crash,
    "receiver_down": receiver_down, "hostile_feeds": hostile_feeds, "overload": overload, "soak": soak,
}
__all__ = ["BENCH", "CI", "SCENARIOS", "Size", "replace"]
