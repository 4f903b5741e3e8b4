"""Bare model vs the live pipeline: capacity, produce→decision latency at half capacity, and a news burst.

Not a test: a measurement on the real stack (embedded Tansu + Valkey, real `bearwatch worker` subprocesses, the
shipped model). Phases of one run:

1. bare (before): the engine alone scores the N story texts at the worker's settings (its torch thread budget
   and its read batch: ``monitor.stages.worker.capacity``), in calls of that size;
2. end to end: N stories are produced to `news.raw` first, then the worker drains them; the rate is counted from
   the first story in the Redis windows to the last (worker start-up excluded), with the worker's CPU seconds;
3. bare (after): as 1, so the ratio is taken against the mean of two bare runs around the pipeline run, which
   halves the effect of a neighbour's load that comes and goes (the machine is shared);
4. latency: stories are produced at half the end-to-end rate (or ``--latency-rate``); the bench times
   produce→counted in the windows from outside (polling Redis), and reads produce→scored/windowed/decided from
   the worker's ``/api/pipeline`` and the worker's event-loop lag from its ``/metrics``;
5. burst (``--burst-seconds``): a base rate (``--burst-base`` of the rate the burst's worker drains a backlog
   at, measured in it right before; default half), then
   ``--burst-factor`` times that for the given seconds, then the base rate again until the burst's backlog is
   counted (or a ceiling of 7 minutes passes: then it reports the backlog left); reports that nothing is lost,
   the drain time, the largest produce→decision latency, and what ``/health`` said (behind, by how much);
6. scale-out (``--workers 2``): phases 2 and 4 again with two worker processes sharing the four partitions.

Ratios within one run are what to compare: the absolute rates move with whatever else the machine runs.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pipeline_throughput.py --stories 2000
    HF_HUB_OFFLINE=1 .venv/bin/python bench/pipeline_throughput.py --burst-seconds 60 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.ground.contracts import Story, encode  # noqa: E402
from monitor.ground.kafka import ensure_topics, make_producer  # noqa: E402
from monitor.ground.redis import COMMAND, redis_client  # noqa: E402
from monitor.ground.settings import Settings, load_settings  # noqa: E402
from monitor.ground.stack import EmbeddedStack  # noqa: E402
from monitor.stages.model.data import DEFAULT_SENTIMENT, load_split  # noqa: E402
from monitor.stages.model.engine import Engine  # noqa: E402
from monitor.stages.windows import WindowStore  # noqa: E402
from monitor.stages.worker import capacity  # noqa: E402
from tests.support.worker_fixtures import running_worker  # noqa: E402

console = Console()
T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def stories_from_texts(texts: list[str], prefix: str, start: datetime, step_s: float) -> list[Story]:
    """One story per text, ``step_s`` of event time apart (the rate they are produced at: event ≈ wall time)."""
    return [Story(id=f"{prefix}-{i}", source="bench", title=text, published_at=start + timedelta(seconds=i * step_s),
                  fetched_at=start + timedelta(seconds=i * step_s), tickers=["BENCH"])
            for i, text in enumerate(texts)]


def bare_rate(settings: Settings, texts: list[str]) -> dict[str, float]:
    """Texts per second and CPU milliseconds per text of the bare engine at the worker's settings."""
    engine = Engine.from_settings(capacity.engine_settings(settings))
    call = capacity.read_batch(settings)
    engine.score(texts[:call])  # warm-up
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), call):
        engine.score(texts[i : i + call])
    wall = time.perf_counter() - began
    return {"texts_per_s": len(texts) / wall, "cpu_ms_per_text": 1000 * (time.process_time() - cpu) / len(texts)}


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and its live descendants, all threads (Linux ``/proc``).

    Descendants count because the worker scores in a child process (monitor.stages.model.process_engine).
    """
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):  # exited while we looked
                continue
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = _stat(current)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICK
        todo += parents.get(current, [])
    return total


def get_json(port: int, path: str) -> dict[str, Any] | None:
    """A worker endpoint's JSON, or None when this worker does not serve it (an older build)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 503):
            return json.loads(exc.read() or b"null") if exc.code == 503 else None
        raise


def metric_sum(port: int, prefix: str) -> float:
    """Sum of the samples on the worker's ``/metrics`` whose line starts with ``prefix``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def histogram(port: int, name: str, labels: str) -> dict[float, float]:
    """Cumulative bucket counts ``{le: count}`` of one labelled histogram on the worker's ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{") and labels in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """Upper bound of the bucket holding quantile ``q`` of the observations made between two scrapes."""
    edges = sorted(after)
    counts = [after[e] - before.get(e, 0.0) for e in edges]
    if not counts or counts[-1] <= 0:
        return None
    want = q * counts[-1]
    return next(e for e, c in zip(edges, counts, strict=True) if c >= want)


async def counted(store: WindowStore, at: datetime) -> int:
    return (await store.window("market", "all", "7d", at=at, samples=False)).count


async def produce_all(settings: Settings, stories: list[Story]) -> None:
    producer = make_producer(settings.kafka_url or "")
    await producer.start()
    for story in stories:
        await producer.send(settings.topics.raw, encode(story), key=story.id.encode())
    await producer.flush()
    await producer.stop()


@contextlib.contextmanager
def workers(settings: Settings, logs: Path, name: str, count: int):  # noqa: ANN201 - a context manager
    """``count`` worker processes; yields their (process, port) pairs once each answers /health."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_worker(settings, logs / f"worker-{name}-{i}.log", ready_timeout_s=180,
                                                  BEARWATCH_CPU_THREADS="0"))
               for i in range(count)]


async def settled(settings: Settings, store: WindowStore, procs: list[Any], stories: list[Story], end: datetime,
                  logs: Path) -> None:
    """Warm-up rounds of 64 stories until every worker has scored some: each holds partitions, the group settled."""
    score_in = 'bearwatch_worker_messages_in_total{agent="score"}'
    for round_ in range(20):
        start = stories[0].published_at - timedelta(minutes=10 + round_)
        warm = stories_from_texts([s.title for s in stories[:64]], f"{stories[0].id}-warm{round_}", start, 0.01)
        await warmed_up(settings, store, warm, end)
        if all(metric_sum(port, score_in) > 0 for _, port in procs):
            return
    raise RuntimeError(f"not every one of {len(procs)} workers got a partition: see the worker logs in {logs}")


async def end_to_end(settings: Settings, store: WindowStore, stories: list[Story], logs: Path,
                     n_workers: int = 1) -> dict[str, float]:
    """One worker: the stories wait in Kafka before it starts. Several: they start first and warm up until
    every one of them scores (the group has settled: a rebalance mid-run would re-deliver batches), then the
    stories are produced (far faster than the workers read)."""
    end = stories[-1].published_at + timedelta(hours=1)
    if n_workers == 1:
        await produce_all(settings, stories)
    before = await counted(store, end)
    with workers(settings, logs, f"e2e{n_workers}", n_workers) as procs:
        if n_workers > 1:
            await settled(settings, store, procs, stories, end, logs)
            before = await counted(store, end)
            first_at, cpu0 = time.perf_counter(), sum(cpu_seconds(p.pid) for p, _ in procs)
            await produce_all(settings, stories)
        else:
            # The clock starts when the score agent takes its first batch (not when the first story reaches the
            # windows: the aggregate agent may start later, and the score agent would have run unclocked).
            score_in = 'bearwatch_worker_messages_in_total{agent="score"}'
            while not metric_sum(procs[0][1], score_in):  # noqa: ASYNC110 - polling /metrics
                await asyncio.sleep(0.02)
            first_at, cpu0 = time.perf_counter(), cpu_seconds(procs[0][0].pid)
        while await counted(store, end) - before < len(stories):  # noqa: ASYNC110 - polling Redis
            await asyncio.sleep(0.05)
        now = time.perf_counter()
        cpu = sum(cpu_seconds(p.pid) for p, _ in procs) - cpu0
        return {"stories_per_s": len(stories) / (now - first_at), "cpu_ms_per_story": 1000 * cpu / len(stories)}


class Paced:
    """Produces stories at a schedule of rates and records, from outside, when each is counted in the windows."""

    def __init__(self, settings: Settings, store: WindowStore, end: datetime) -> None:
        self.settings, self.store, self.end = settings, store, end
        self.sent_at: list[float] = []
        self.reached: dict[int, float] = {}
        self.base = 0

    async def watch(self, total: int) -> None:
        while len(self.reached) < total:
            n = await counted(self.store, self.end) - self.base
            now = time.perf_counter()
            for k in range(len(self.reached), min(n, total)):
                self.reached[k] = now
            await asyncio.sleep(0.01)

    async def send(self, producer: Any, stories: list[Story], rate: float) -> None:
        began = time.perf_counter()
        for i, story in enumerate(stories):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            self.sent_at.append(time.perf_counter())
            await producer.send(self.settings.topics.raw, encode(story), key=story.id.encode())

    def latencies(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = len(self.sent_at) if stop is None else stop
        return np.asarray([self.reached[k] - self.sent_at[k] for k in range(start, stop)])


async def warmed_up(settings: Settings, store: WindowStore, stories: list[Story], end: datetime) -> int:
    """Produce the warm-up stories and wait until they are counted: the workers have joined and scored."""
    before = await counted(store, end)
    await produce_all(settings, stories)
    while await counted(store, end) < before + len(stories):  # noqa: ASYNC110 - polling Redis, no event to wait on
        await asyncio.sleep(0.1)
    return await counted(store, end)


def pipeline_numbers(ports: list[int], since: float) -> dict[str, Any]:
    """Produce→stage percentiles from each worker's /api/pipeline; the worst worker's when there are several."""
    answers = [a for a in (get_json(port, f"/api/pipeline?since={since}") for port in ports) if a]
    out: dict[str, Any] = {}
    for stage in ("scored", "windowed", "decided"):
        for key in ("p50_s", "p99_s", "max_s"):
            values = [a["stages"][stage][key] for a in answers if a["stages"][stage][key] is not None]
            out[f"{stage}_{key}"] = max(values) if values else None
    return out


async def latency(settings: Settings, store: WindowStore, texts: list[str], rate: float, seconds: float,
                  logs: Path, n_workers: int = 1, day: int = 1) -> dict[str, Any]:
    n = 64 + int(rate * seconds)
    start = T0 + timedelta(days=day)
    stories = stories_from_texts([texts[i % len(texts)] for i in range(n)], f"lat{n_workers}", start, 1 / rate)
    end = stories[-1].published_at + timedelta(hours=1)
    with workers(settings, logs, f"latency{n_workers}", n_workers) as procs:
        ports = [port for _, port in procs]
        paced = Paced(settings, store, end)
        if n_workers > 1:
            await settled(settings, store, procs, stories, end, logs)
        paced.base = await warmed_up(settings, store, stories[:64], end)
        phase = stories[64:]
        loop_before = [histogram(port, "bearwatch_event_loop_lag_seconds", 'service="worker"') for port in ports]
        since = time.time()
        producer = make_producer(settings.kafka_url or "", linger_ms=0)
        await producer.start()
        watcher = asyncio.create_task(paced.watch(len(phase)))
        await paced.send(producer, phase, rate)
        await producer.flush()
        await asyncio.wait_for(watcher, 300)
        await producer.stop()
        await asyncio.sleep(0.5)  # the last decisions land just after the last window update
        numbers = pipeline_numbers(ports, since)
        loop_after = [histogram(port, "bearwatch_event_loop_lag_seconds", 'service="worker"') for port in ports]
    ms = paced.latencies() * 1000
    loop_p99 = [bucket_quantile(b, a, 0.99) for b, a in zip(loop_before, loop_after, strict=True)]
    return {"rate": round(rate, 1), "stories": len(phase),
            "window_ms_p50": round(float(np.percentile(ms, 50)), 1),
            "window_ms_p99": round(float(np.percentile(ms, 99)), 1),
            **{k: v for k, v in numbers.items() if not k.endswith("max_s") or k.startswith("decided")},
            "loop_lag_p99_s_at_most": max((x for x in loop_p99 if x is not None), default=None)}


def burst_stories(texts: list[str], start: datetime, rates: list[float]) -> tuple[list[Story], datetime]:
    """One story per scheduled send, event time advancing with the send schedule; and the last event time."""
    at, stories = 0.0, []
    for i, rate in enumerate(rates):
        when = start + timedelta(seconds=at)
        stories.append(Story(id=f"burst-{i}", source="bench", title=texts[i % len(texts)], tickers=["BENCH"],
                             published_at=when, fetched_at=when))
        at += 1 / rate
    return stories, start + timedelta(seconds=at)


async def burst(settings: Settings, store: WindowStore, texts: list[str], base_share: float, factor: float,
                seconds: float, logs: Path, lead_s: float = 10.0, drain_ceiling_s: float = 420.0) -> dict[str, Any]:
    """Measure the burst worker's rate now (a backlog of stories drained), then ``base_share`` of it for
    ``lead_s``, ``factor`` times that for ``seconds``, then the base rate until the lead and the burst are counted,
    or ``drain_ceiling_s`` after the burst (then it reports the backlog left).

    The rate is measured in the burst's own worker right before the burst, because on a shared machine the
    capacity measured minutes earlier can be off by a factor of three."""
    start = T0 + timedelta(days=2)
    end = start + timedelta(days=1)
    warm = stories_from_texts(texts[:64], "burst-warm", start - timedelta(hours=1), 0.1)
    probe = stories_from_texts(texts, "burst-capacity", start - timedelta(minutes=50), 0.01)
    health: list[dict[str, Any]] = []
    with workers(settings, logs, "burst", 1) as procs:
        port = procs[0][1]
        paced = Paced(settings, store, end)
        await warmed_up(settings, store, warm, end)
        began = time.perf_counter()
        paced.base = await warmed_up(settings, store, probe, end)
        capacity_now = len(probe) / (time.perf_counter() - began)
        base_rate = base_share * capacity_now
        peak = base_rate * factor
        n_lead, n_burst = int(base_rate * lead_s), int(peak * seconds)
        rates = [base_rate] * n_lead + [peak] * n_burst + [base_rate] * int(base_rate * drain_ceiling_s)
        stories, _ = burst_stories(texts, start, rates)
        console.print(f"  worker drains {capacity_now:.0f} stories/s now: {base_rate:.0f}/s, then {peak:.0f}/s "
                      f"for {seconds:.0f} s, then {base_rate:.0f}/s")
        producer = make_producer(settings.kafka_url or "", linger_ms=5)
        await producer.start()
        since = time.time()
        watcher = asyncio.create_task(paced.watch(n_lead + n_burst))

        async def poll_health() -> None:
            while True:
                body = await asyncio.to_thread(get_json, port, "/health")
                if body:
                    health.append({"t": time.perf_counter(), "behind": body.get("behind"),
                                   **{k: body.get("pipeline", {}).get(k) for k in ("seconds", "backlog_stories")}})
                await asyncio.sleep(1.0)

        poller = asyncio.create_task(poll_health())
        await paced.send(producer, stories[:n_lead], base_rate)
        await paced.send(producer, stories[n_lead:n_lead + n_burst], peak)
        burst_end = time.perf_counter()
        tail = asyncio.create_task(paced.send(producer, stories[n_lead + n_burst:], base_rate))
        try:
            await asyncio.wait_for(watcher, drain_ceiling_s)  # every story of the lead and the burst is counted
            drained_in_time = True
        except TimeoutError:
            drained_in_time = False
        drained = time.perf_counter()
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        await producer.flush()
        await producer.stop()
        produced = len(paced.sent_at)
        while (drained_in_time and await counted(store, end) - paced.base < produced  # noqa: ASYNC110
               and time.perf_counter() - drained < 300):
            await asyncio.sleep(0.2)
        total = await counted(store, end) - paced.base
        # After the drain /health must say the worker caught up again (lag is read every 2 s): wait, bounded.
        caught_up = False
        for _ in range(60 if drained_in_time else 0):
            body = get_json(port, "/health") or {}
            if body.get("behind") is False:
                caught_up = True
                break
            await asyncio.sleep(1.0)
        poller.cancel()
        numbers = pipeline_numbers([port], since)
    ms = paced.latencies(0, min(n_lead + n_burst, len(paced.reached))) * 1000
    during = [h for h in health if h["t"] <= drained]
    return {"capacity_now": round(capacity_now, 1), "base_rate": round(base_rate, 1), "peak_rate": round(peak, 1),
            "burst_s": seconds,
            "produced": produced, "counted": total,
            "not_counted": produced - total if drained_in_time else f"not drained within {drain_ceiling_s:.0f} s",
            "drain_s_after_burst": round(drained - burst_end, 1) if drained_in_time else None,
            "window_ms_p50": round(float(np.percentile(ms, 50)), 1),
            "window_ms_max": round(float(ms.max()), 1),
            "decided_max_s": numbers["decided_max_s"], "decided_p99_s": numbers["decided_p99_s"],
            "health_said_behind": any(h["behind"] for h in during),
            "health_behind_max_s": max((h["seconds"] or 0 for h in during), default=None),
            "health_backlog_max": max((h["backlog_stories"] or 0 for h in during), default=None),
            "health_caught_up_after": caught_up}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    texts = load_split(DEFAULT_SENTIMENT, "sentiment", "valid").texts
    texts = (texts * (1 + args.stories // len(texts)))[: args.stories]
    var = Path(tempfile.mkdtemp(prefix="bw-bench-"))
    wait = {} if args.max_wait is None else {"batch_max_wait_s": args.max_wait}
    result: dict[str, Any] = {"stories": len(texts), "model_batch": args.model_batch,
                              "loadavg_start": round(os.getloadavg()[0], 2), "cores": capacity.usable_cores()}
    with EmbeddedStack(var) as stack:
        settings = load_settings(None, kafka_url=stack.kafka_url, redis_url=stack.redis_url, var_dir=var,
                                 model_batch=args.model_batch, topic_partitions=4, **wait)
        result.update(max_wait_s=settings.batch_max_wait_s, model_process=settings.model_process,
                      torch_threads=capacity.torch_threads(settings), read_batch=capacity.read_batch(settings))
        await ensure_topics(stack.kafka_url, settings)
        redis = redis_client(stack.redis_url, COMMAND)
        store = WindowStore(redis, settings.redis_namespace)
        console.print(f"bare model, {len(texts)} texts, calls of {result['read_batch']}, "
                      f"{result['torch_threads']} torch thread(s)…")
        bare1 = await asyncio.to_thread(bare_rate, settings, texts)
        console.print("end to end…")
        e2e = await end_to_end(settings, store, stories_from_texts(texts, "e2e", T0, 0.01), var)
        console.print("bare model again…")
        bare2 = await asyncio.to_thread(bare_rate, settings, texts)
        bare = (bare1["texts_per_s"] + bare2["texts_per_s"]) / 2
        bare_cpu = (bare1["cpu_ms_per_text"] + bare2["cpu_ms_per_text"]) / 2
        result.update(bare_texts_per_s_before=round(bare1["texts_per_s"], 1),
                      bare_texts_per_s_after=round(bare2["texts_per_s"], 1),
                      pipeline_stories_per_s=round(e2e["stories_per_s"], 1),
                      ratio=round(e2e["stories_per_s"] / bare, 3),
                      bare_cpu_ms_per_text=round(bare_cpu, 2),
                      worker_cpu_ms_per_story=round(e2e["cpu_ms_per_story"], 2),
                      cpu_ratio=round(bare_cpu / e2e["cpu_ms_per_story"], 3))
        half = args.latency_rate or e2e["stories_per_s"] * 0.5
        console.print(f"latency at {half:.0f} stories/s for {args.latency_seconds} s…")
        result["latency"] = await latency(settings, store, texts, half, args.latency_seconds, var)
        if args.burst_seconds:
            console.print(f"burst: {args.burst_factor}x {args.burst_base} of capacity for {args.burst_seconds} s…")
            result["burst"] = await burst(settings, store, texts, args.burst_base, args.burst_factor,
                                          args.burst_seconds, var)
        if args.workers > 1:
            console.print(f"{args.workers} workers: end to end…")
            # Event time after every earlier phase: the windows would count older stories as late.
            e2e_n = await end_to_end(settings, store, stories_from_texts(texts, f"e2e-w{args.workers}",
                                                                         T0 + timedelta(days=3), 0.01),
                                     var, args.workers)
            console.print(f"{args.workers} workers: latency at {half:.0f} stories/s…")
            result[f"workers_{args.workers}"] = {
                "stories_per_s": round(e2e_n["stories_per_s"], 1),
                "vs_one_worker": round(e2e_n["stories_per_s"] / e2e["stories_per_s"], 3),
                "cpu_ms_per_story": round(e2e_n["cpu_ms_per_story"], 2),
                "latency": await latency(settings, store, texts, half, args.latency_seconds, var, args.workers,
                                         day=4)}
        await redis.aclose()
    result["loadavg_end"] = round(os.getloadavg()[0], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--model-batch", "--batch-size", type=int, default=32, help="texts per forward pass")
    parser.add_argument("--max-wait", type=float, default=None,
                        help="the score read's longest wait (default: the settings' batch_max_wait_s)")
    parser.add_argument("--latency-seconds", type=int, default=30)
    parser.add_argument("--latency-rate", type=float, default=0.0,
                        help="stories/s of the latency phases (0: half the measured pipeline rate)")
    parser.add_argument("--burst-seconds", type=int, default=0, help="run the burst phase for this long (0: skip)")
    parser.add_argument("--burst-factor", type=float, default=5.0, help="burst rate as a multiple of the base rate")
    parser.add_argument("--burst-base", type=float, default=0.5,
                        help="base rate before and after the burst, as a share of the worker's measured rate")
    parser.add_argument("--workers", type=int, default=1, help="also measure this many workers (2: scale-out)")
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench" / "results" / "pipeline_throughput.json")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    table = Table(title="Pipeline vs bare model (one run)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    def rows(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for sub, inner in value.items():
                rows(f"{prefix}.{sub}" if prefix else sub, inner)
        else:
            table.add_row(prefix, str(value))

    rows("", result)
    console.print(table)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
