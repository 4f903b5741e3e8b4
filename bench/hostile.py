"""Hostile feeds and webhook receivers against Bearwatch's HTTP policy: outcome, peak RSS and time of each case.

Each case runs in a fresh Python process (so its peak RSS, ``ru_maxrss``, is its own) against a real hostile
server on loopback (``tests/support/hostile_server.py``) and prints one JSON line; this script collects them into a
table.
The ``baseline`` case imports the same modules and does nothing: subtract it to see what a case itself cost.
The issue's "before" numbers (issue 15) are shown for comparison where it measured one.

    .venv/bin/python bench/hostile.py                 # every case, a markdown table on stdout
    .venv/bin/python bench/hostile.py --case gzip2    # one case, its JSON line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MiB = 1 << 20
BEFORE = {
    "gzip2_1g": "2.1 GB RSS, loop frozen 11 s", "xml_quadratic": "2.9 GB RSS, 37 CPU s",
    "retry_after_feed": "traceback", "retry_after_webhook": "loop died, 1→17 loops/channel",
    "redirect_metadata": "followed", "redirect_decimal": "followed", "redirect_localhost_strict": "followed",
    "cross_host_header": "X-Api-Key forwarded", "webhook_300mb": "1.6 GB RSS", "webhook_trickle": "held forever",
    "feed_27k": "loop blocked 8 s", "json_deep": "RecursionError traceback",
    "xml_nested": "43 CPU s in the lenient parser (measured here before the guard)",
}


async def _case(name: str) -> dict[str, Any]:
    from alerts.delivery.channels import WebhookChannel
    from consumers.entries import NotAFeed
    from consumers.fetch import Fetcher, FetchError
    from consumers.normalise import EntryContext, normalise_entries_async
    from consumers.parse import parse_body, parse_body_async
    from consumers.politeness import HostGate
    from consumers.registry import EngineConfig, HostPolicy
    from monitor.ground.contracts import now_utc
    from monitor.ground.httpfetch import guarded_client
    from monitor.ground.settings import WebhookTarget
    from tests.support.alerts_fixtures import make_alert
    from tests.support.consumers_fixtures import items, rss
    from tests.support.hostile_server import (
        billion_laughs_rss,
        encoded,
        gzip_of_zeros,
        hostile_server,
        quadratic_blowup_rss,
        redirect,
        status,
        streamed,
        trickle,
    )

    engine = EngineConfig()  # production defaults: 5 MB cap, 45 s total deadline
    gate = HostGate(lambda _host: HostPolicy(min_gap_s=0, max_in_flight=8))

    async def feed_error(url: str, mode: str = "configured", headers: dict[str, str] | None = None) -> str:
        fetcher = Fetcher(engine, "BearwatchBench/1.0", gate, mode)  # type: ignore[arg-type]
        try:
            result = await fetcher.fetch(url, headers)
            return f"ok: {len(result.body)} bytes"
        except FetchError as exc:
            return f"{exc.kind}: {exc}"
        finally:
            await fetcher.aclose()

    async def webhook(url: str, timeout_s: float = 10.0) -> str:
        channel = WebhookChannel(WebhookTarget(name="bench", url=url, timeout_s=timeout_s), guarded_client())
        try:
            outcome = await channel.deliver([make_alert()], "bench", 1)
        finally:
            await channel._client.aclose()  # noqa: SLF001
        return f"ok={outcome.ok} retry={outcome.retry} reason={outcome.reason[:90]}"

    if name == "baseline":
        return {"outcome": "imports only"}
    if name in ("xml_quadratic", "xml_laughs"):
        body = quadratic_blowup_rss(50_000, 2_000) if name == "xml_quadratic" else billion_laughs_rss()
        parsed = parse_body(body, content_type="application/rss+xml")
        size = sum(len(e.title) + len(e.summary) for e in parsed.entries)
        return {"outcome": f"{len(body) // 1024} KB body: {parsed.problem}; {size} chars of text"}
    if name == "xml_nested":
        try:
            parse_body(b"<rss><channel><item><title>" + b"<a>" * 1_500_000)
        except NotAFeed as exc:
            return {"outcome": f"4.3 MB of unclosed tags: {exc.kind}: {exc.reason}"}
    if name == "json_deep":
        try:
            parse_body(b"[" * 10_000 + b"]" * 10_000)
        except NotAFeed as exc:
            return {"outcome": f"{exc.kind}: {exc.reason}"}
    if name == "feed_27k":
        body = rss(items("big", 27_000))
        lag = {"max": 0.0}
        done = asyncio.Event()

        async def watch() -> None:
            while not done.is_set():
                began = time.perf_counter()
                await asyncio.sleep(0.005)
                lag["max"] = max(lag["max"], time.perf_counter() - began - 0.005)

        watcher = asyncio.create_task(watch())
        parsed = await parse_body_async(body, content_type="application/rss+xml")
        context = EntryContext(source="bench", feed="bench", fetched_at=now_utc())
        built = await normalise_entries_async(parsed.entries, context, None)
        done.set()
        await watcher
        return {"outcome": f"{len(built.stories)} stories from {len(body) // MiB} MB; "
                           f"max event-loop lag {lag['max'] * 1000:.0f} ms"}
    async with hostile_server() as server:
        if name == "retry_after_feed":
            return {"outcome": await feed_error(server.add("/f", status(429, b"", **{"Retry-After": "²"})))}
        if name == "retry_after_webhook":
            return {"outcome": await webhook(server.add("/h", status(500, b"boom", **{"Retry-After": "²"})))}
        if name == "gzip2_1g":
            bomb = gzip_of_zeros(1 << 30, layers=2)  # building it takes most of this case's time
            began = time.perf_counter()
            out = await feed_error(server.add("/b", encoded(bomb, "gzip, gzip")))
            return {"outcome": f"{len(bomb) / 1024:.1f} KB on the wire (1 GiB decoded) → {out} "
                               f"(fetch {time.perf_counter() - began:.2f} s)"}
        if name == "redirect_metadata":
            return {"outcome": await feed_error(server.add("/r", redirect("http://169.254.169.254/latest/")))}
        if name == "redirect_decimal":
            return {"outcome": await feed_error(server.add("/r", redirect("http://2852039166/")))}
        if name == "redirect_localhost_strict":
            server.add("/feed", status(200, rss(items("x", 1))))
            public = f"http://localhost:{server.port}/feed"
            return {"outcome": await feed_error(public, "never")}
        if name == "cross_host_header":
            async with hostile_server("127.0.0.2") as other:
                final = other.add("/f", status(200, rss(items("x", 1))))
                out = await feed_error(server.add("/r", redirect(final)), headers={"X-Api-Key": "secret"})
                sent = other.hits("/f")[0].headers
                return {"outcome": f"{out}; X-Api-Key at the other host: {'X-Api-Key' in sent}"}
        if name == "webhook_300mb":
            return {"outcome": await webhook(server.add("/h", streamed(500, 300 * MiB)))}
        if name == "webhook_trickle":
            return {"outcome": await webhook(server.add("/h", trickle(200, 0.5)), timeout_s=2.0)}
    raise SystemExit(f"unknown case {name!r}")


CASES = ["baseline", "retry_after_feed", "retry_after_webhook", "gzip2_1g", "xml_quadratic", "xml_laughs",
         "redirect_metadata", "redirect_decimal", "redirect_localhost_strict", "cross_host_header", "webhook_300mb",
         "webhook_trickle", "feed_27k", "json_deep", "xml_nested"]


def run_one(name: str) -> None:
    began = time.perf_counter()
    cpu = time.process_time()
    result = asyncio.run(_case(name))
    result.update(case=name, wall_s=round(time.perf_counter() - began, 3), cpu_s=round(time.process_time() - cpu, 3),
                  peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=CASES)
    args = parser.parse_args()
    if args.case:
        run_one(args.case)
        return
    rows = []
    for name in CASES:
        done = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, cwd=ROOT,
                              timeout=600)
        line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        rows.append(json.loads(line) if line.startswith("{") else {"case": name, "outcome": done.stderr[-200:]})
    print("| case | outcome | peak RSS (MiB) | wall (s) | CPU (s) | before (issue 15) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        outcome = str(row.get("outcome", "")).replace("|", "\\|").replace("\n", " ")
        print(f"| {row['case']} | {outcome} | {row.get('peak_rss_mib', '')} | {row.get('wall_s', '')} | "
              f"{row.get('cpu_s', '')} | {BEFORE.get(row['case'], '')} |")


if __name__ == "__main__":
    main()
