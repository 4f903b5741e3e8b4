"""Benchmark of the ingest engine: poll many local feeds into the real broker, with and without conditional GET.

    .venv/bin/python bench/feeds_poll.py                  # 500 feeds x 50 entries, 5 rounds (about a minute)
    .venv/bin/python bench/feeds_poll.py --feeds 100 --rounds 3

Set-up: an embedded Tansu broker and Valkey (the same launcher as ``bearwatch up``), and a feed server in its own
process on 127.0.0.1 serving N RSS feeds of 50 entries with ETag/Last-Modified. Before each round after the first,
10% of the feeds change (each replaces 5 of its 50 entries with new ones). Each round polls every feed once through
the real consumer (fetch, parse, normalise, ticker linking, dedup in Redis, produce and wait for the broker's
acknowledgement). Each mode (conditional GET on / off) runs in its own process, on fresh topics and a fresh Redis
namespace, so CPU time and peak RSS are its own. CPU is the ingest process's (all threads, parse threads
included); the broker's, Redis's and the feed server's are not counted.
Reported: stories/s produced, CPU seconds per 1,000 stories produced, peak RSS, and the off/on ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = (
    "shares stocks bonds yields rally slump surge tumble earnings profit revenue outlook guidance bank fund "
    "investors analysts merger deal bid tariffs oil gold dollar euro yen inflation rates fed ecb central policy "
    "growth recession jobs payrolls retail sales housing chip maker software cloud retailer airline automaker "
    "lender insurer miner drugmaker vaccine trial approval lawsuit probe regulator antitrust fine ceo steps down "
    "buyback dividend ipo debut listing downgrade upgrade target record high low weekly monthly quarterly annual"
).split()


# --- the feed server (child process) -------------------------------------------------------------------------

def serve(port: int, feeds: int, entries: int) -> None:
    from aiohttp import web

    rng = random.Random(7)
    versions = [0] * feeds
    starts = [0] * feeds
    titles: dict[tuple[int, int], str] = {}
    bodies: dict[int, bytes] = {}

    def title(feed: int, n: int) -> str:
        key = (feed, n)
        if key not in titles:
            titles[key] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(7, 12))).capitalize()
        return titles[key]

    def body(feed: int) -> bytes:
        if feed not in bodies:
            items = "".join(
                f"<item><title>{title(feed, n)}</title><link>https://bench.example/{feed}/{n}?utm_source=rss</link>"
                f"<description>&lt;p&gt;Story {n} of feed {feed}: {title(feed, n + 1)}&lt;/p&gt;</description>"
                f"<pubDate>Wed, 01 May 2024 {n % 24:02d}:{feed % 60:02d}:00 GMT</pubDate></item>"
                for n in range(starts[feed], starts[feed] + entries)
            )
            bodies[feed] = (
                f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Feed {feed}</title>"
                f"<language>en</language>{items}</channel></rss>"
            ).encode()
        return bodies[feed]

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        etag = f'"{number}-{versions[number]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body(number), headers={"ETag": etag, "Content-Type": "application/rss+xml"})

    async def advance(request: web.Request) -> web.Response:
        round_number = int(request.query["round"])
        for number in range(feeds):
            if (number + round_number) % 10 == 0:
                versions[number] += 1
                starts[number] += entries // 10
                bodies.pop(number, None)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/feed/{n}", feed)
    app.router.add_get("/_advance", advance)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- one measured mode (child process) -----------------------------------------------------------------------

async def measure(conditional: bool, feeds: int, rounds: int, base: str) -> dict[str, object]:
    import httpx

    from consumers.dedup import Deduplicator
    from consumers.fetch import Fetcher
    from consumers.politeness import HostGate
    from consumers.poller import FeedPoller
    from consumers.produce import StoryProducer
    from consumers.registry import EngineConfig, FeedConfig, HostPolicy
    from consumers.service import redis_client
    from consumers.tickers import TickerLinker, Watchlist
    from consumers.validators import ValidatorStore
    from monitor.ground.kafka import ensure_topics
    from monitor.ground.settings import TopicNames, load_settings

    tag = uuid.uuid4().hex[:8]
    settings = load_settings(
        kafka_url=os.environ["BENCH_KAFKA"], redis_url=os.environ["BENCH_REDIS"], redis_namespace=f"bench{tag}",
        topics=TopicNames(raw=f"bench{tag}.raw", scored=f"bench{tag}.scored", alerts=f"bench{tag}.alerts",
                          deadletter=f"bench{tag}.dead"),
    )
    await ensure_topics(settings.kafka_url or "", settings)
    engine = EngineConfig(conditional_get=conditional, max_connections=32)
    redis = redis_client(settings.redis_url or "")
    dedup = Deduplicator(redis, settings.redis_namespace)
    producer = StoryProducer(settings, dedup, queue_size=engine.produce_queue)
    await producer.start()
    loopback = HostPolicy(min_gap_s=0.0, max_in_flight=16)
    fetcher = Fetcher(engine, settings.user_agent, HostGate(lambda _host: loopback))
    poller = FeedPoller(engine=engine, fetcher=fetcher, validators=ValidatorStore(redis, settings.redis_namespace),
                        dedup=dedup, sink=producer, linker=TickerLinker(Watchlist.load()))
    configs = [FeedConfig(name=f"bench{n}", url=f"{base}/feed/{n}", source=f"Bench {n % 20}") for n in range(feeds)]
    per_round = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with httpx.AsyncClient() as control:
        for round_number in range(rounds):
            if round_number:
                await control.get(f"{base}/_advance", params={"round": round_number})
            began, acked = time.perf_counter(), producer.acknowledged
            outcomes = await asyncio.gather(*(poller.poll(feed) for feed in configs))
            errors = sum(1 for outcome in outcomes if outcome.status == "error")
            per_round.append({
                "seconds": round(time.perf_counter() - began, 2), "stories": producer.acknowledged - acked,
                "not_modified": sum(1 for o in outcomes if o.status == "not_modified"), "errors": errors,
            })
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stories = producer.acknowledged
    await producer.stop()
    await fetcher.aclose()
    doomed = [key async for key in redis.scan_iter(f"{settings.redis_namespace}:*", count=5000)]
    for start in range(0, len(doomed), 5000):
        await redis.unlink(*doomed[start: start + 5000])
    await redis.aclose()
    steady = per_round[1:]
    steady_s = sum(r["seconds"] for r in steady)
    return {
        "conditional_get": conditional, "stories": stories, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "stories_per_s": round(stories / wall, 1), "cpu_s_per_1000_stories": round(cpu / stories * 1000, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "steady_round_s": round(steady_s / max(1, len(steady)), 2), "rounds": per_round,
    }


# --- orchestration ---------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.feeds, args.entries)
        return
    if args.measure:
        result = asyncio.run(measure(args.measure == "on", args.feeds, args.rounds, args.base))
        print(json.dumps(result))
        return

    from monitor.ground.stack import EmbeddedStack
    from monitor.ground.stack.process import free_port, port_open, wait_until

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--feeds", str(args.feeds),
                               "--entries", str(args.entries)])
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 20, "feed server")
        with EmbeddedStack(Path(tempfile.mkdtemp(prefix="bw-bench-"))) as stack:
            env = {**os.environ, "BENCH_KAFKA": stack.kafka_url, "BENCH_REDIS": stack.redis_url}
            results = {}
            for mode in ("on", "off"):
                completed = subprocess.run(
                    [sys.executable, __file__, "--measure", mode, "--feeds", str(args.feeds), "--rounds",
                     str(args.rounds), "--base", f"http://127.0.0.1:{port}"],
                    env=env, stdout=subprocess.PIPE, text=True, check=False,
                )
                if completed.returncode:
                    raise SystemExit(f"measuring with conditional GET {mode} failed (exit {completed.returncode})")
                results[mode] = json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(10)
    on, off = results["on"], results["off"]
    print(f"{args.feeds} feeds x {args.entries} entries, {args.rounds} rounds, 10% of feeds changing per round")
    print(f"{'':28}{'conditional GET on':>20}{'off':>12}{'off/on':>10}")
    for key, label in (("stories", "stories produced"), ("stories_per_s", "stories/s"),
                       ("cpu_s_per_1000_stories", "CPU s per 1,000 stories"), ("peak_rss_mib", "peak RSS MiB"),
                       ("wall_s", "wall s (all rounds)"), ("steady_round_s", "s per steady-state round")):
        ratio = off[key] / on[key] if on[key] else float("nan")
        print(f"{label:28}{on[key]:>20}{off[key]:>12}{ratio:>10.2f}")
    for mode in ("on", "off"):
        print(f"rounds ({mode}):", json.dumps(results[mode]["rounds"]))


if __name__ == "__main__":
    main()
