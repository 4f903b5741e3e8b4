"""Bare model throughput vs end-to-end pipeline throughput, and produce→window latency at half the maximum rate.

Not a test: a measurement on the real stack (embedded Tansu + Valkey, a real `bearwatch worker` subprocess, the
shipped model). Three phases, one run:

1. bare: the engine alone scores N story texts (the same texts the pipeline gets), at the worker's batch size;
2. end to end: N stories are produced to `news.raw` first, then the worker drains them; the rate is counted from
   the first story in the Redis windows to the last (worker start-up excluded);
3. latency: stories are produced at half the end-to-end rate for a while; the time from each produce to the
   moment the market window's count includes it gives p50/p99.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/pipeline_throughput.py --stories 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.kafka import ensure_topics, make_producer  # noqa: E402
from monitor.model.data import DEFAULT_SENTIMENT, load_split  # noqa: E402
from monitor.model.engine import Engine  # noqa: E402
from monitor.schemas import Story, encode  # noqa: E402
from monitor.settings import Settings, load_settings  # noqa: E402
from monitor.stack import EmbeddedStack  # noqa: E402
from monitor.windows import WindowStore  # noqa: E402
from tests.worker_fixtures import running_worker  # noqa: E402

console = Console()
T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)


def stories_from_texts(texts: list[str], prefix: str, start: datetime, step_s: float = 1.0) -> list[Story]:
    return [Story(id=f"{prefix}-{i}", source="bench", title=text, published_at=start + timedelta(seconds=i * step_s),
                  fetched_at=start + timedelta(seconds=i * step_s), tickers=["BENCH"])
            for i, text in enumerate(texts)]


def bare_rate(settings: Settings, texts: list[str]) -> float:
    engine = Engine.from_settings(settings)
    engine.score(texts[: settings.batch_size])  # warm-up
    began = time.perf_counter()
    for i in range(0, len(texts), settings.batch_size):
        engine.score(texts[i : i + settings.batch_size])
    return len(texts) / (time.perf_counter() - began)


async def counted(store: WindowStore, at: datetime) -> int:
    return (await store.window("market", "all", "7d", at=at, samples=False)).count


async def end_to_end_rate(settings: Settings, store: WindowStore, stories: list[Story], log: Path) -> float:
    producer = make_producer(settings.kafka_url or "")
    await producer.start()
    for story in stories:
        await producer.send(settings.topics.raw, encode(story), key=story.id.encode())
    await producer.flush()
    await producer.stop()
    end = stories[-1].published_at + timedelta(hours=1)
    with running_worker(settings, log, ready_timeout_s=120, BEARWATCH_CPU_THREADS="0"):
        first_at, first_n = None, 0
        while True:
            n = await counted(store, end)
            now = time.perf_counter()
            if n and first_at is None:
                first_at, first_n = now, n
            if n >= len(stories):
                return (n - first_n) / (now - first_at) if first_at and now > first_at else float("nan")
            await asyncio.sleep(0.05)


async def latency(settings: Settings, store: WindowStore, stories: list[Story], rate: float, log: Path) -> list[float]:
    end = stories[-1].published_at + timedelta(hours=1)
    warmup, stories = stories[:64], stories[64:]
    sent_at: list[float] = []
    reached: dict[int, float] = {}
    with running_worker(settings, log, ready_timeout_s=120, BEARWATCH_CPU_THREADS="0"):
        producer = make_producer(settings.kafka_url or "", linger_ms=0)
        await producer.start()
        # Warm up: the worker has joined its group and scored a batch before the clock starts.
        for story in warmup:
            await producer.send(settings.topics.raw, encode(story), key=story.id.encode())
        await producer.flush()
        while await counted(store, end) < len(warmup):  # noqa: ASYNC110 - polling Redis, no event to wait on
            await asyncio.sleep(0.1)
        base = await counted(store, end)

        async def watch() -> None:
            while len(reached) < len(stories):
                n = await counted(store, end) - base
                now = time.perf_counter()
                for k in range(len(reached), n):
                    reached[k] = now
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        began = time.perf_counter()
        for i, story in enumerate(stories):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            sent_at.append(time.perf_counter())
            await producer.send(settings.topics.raw, encode(story), key=story.id.encode())
        await producer.flush()
        await asyncio.wait_for(watcher, 120)
        await producer.stop()
    return [reached[k] - sent_at[k] for k in range(len(stories))]


async def main_async(args: argparse.Namespace) -> dict:
    texts = load_split(DEFAULT_SENTIMENT, "sentiment", "valid").texts
    texts = (texts * (1 + args.stories // len(texts)))[: args.stories]
    var = Path(tempfile.mkdtemp(prefix="bw-bench-"))
    with EmbeddedStack(var) as stack:
        settings = load_settings(None, kafka_url=stack.kafka_url, redis_url=stack.redis_url, var_dir=var,
                                 batch_size=args.batch_size, batch_max_wait_s=args.max_wait, topic_partitions=4)
        await ensure_topics(stack.kafka_url, settings)
        console.print(f"bare model, {len(texts)} texts, batch {settings.batch_size}…")
        bare = await asyncio.to_thread(bare_rate, settings, texts)
        redis = aioredis.from_url(stack.redis_url)
        store = WindowStore(redis, settings.redis_namespace)
        console.print("end to end…")
        e2e = await end_to_end_rate(settings, store, stories_from_texts(texts, "e2e", T0), var / "worker-e2e.log")
        n_latency = 64 + int(e2e * 0.5 * args.latency_seconds)
        console.print(f"latency at {e2e * 0.5:.0f} stories/s for {args.latency_seconds} s…")
        after_e2e = T0 + timedelta(seconds=len(texts) + 60)  # event time continues where the e2e phase ended
        # Cycle the texts: the phase must really last --latency-seconds (n_latency can exceed --stories).
        lat_texts = [texts[i % len(texts)] for i in range(n_latency)]
        lat = await latency(settings, store, stories_from_texts(lat_texts, "lat", after_e2e),
                            e2e * 0.5, var / "worker-latency.log")
        await redis.aclose()
    ms = np.asarray(lat) * 1000
    return {"stories": len(texts), "batch_size": args.batch_size, "max_wait_s": args.max_wait,
            "bare_texts_per_s": round(bare, 1), "pipeline_stories_per_s": round(e2e, 1),
            "ratio": round(e2e / bare, 3), "latency_rate": round(e2e * 0.5, 1),
            "latency_ms_p50": round(float(np.percentile(ms, 50)), 1),
            "latency_ms_p99": round(float(np.percentile(ms, 99)), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-wait", type=float, default=0.5)
    parser.add_argument("--latency-seconds", type=int, default=30)
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench" / "results" / "pipeline_throughput.json")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    table = Table(title="Pipeline vs bare model (one run)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
