"""Every PromQL expression of every dashboard returns data on a real Prometheus scraping a real, fed pipeline.

Real parts: Prometheus (Debian package) on 127.0.0.1 scraping every second; a `bearwatch worker` (tiny model)
fed with ~200 stories, one malformed message (a dead letter) and a burst of negative stories that makes a
critical ticker alert fire; three webhook receivers (one answers 200, one 503, one 400) so every delivery outcome
happens; and a `bearwatch ingest` process polling two local feeds (one healthy with duplicates and a
near-duplicate, one answering 500). Template variables are substituted the way Grafana does (``$ticker`` = the
burst ticker); ``label_values()`` variables go through Prometheus' label-values API, as Grafana sends them.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from dashboards.catalog import Query, load_all, queries
from monitor.ground.kafka import ensure_topics
from monitor.ground.settings import Settings, WebhookTarget
from monitor.ground.stack.process import free_port
from tests.support.ceilings import READY_CEILING_S
from tests.support.web_fixtures import BURST_TICKER, burst_rules_file, feed_worker, produce
from tests.support.worker_fixtures import running_worker, tiny_model_dir, worker_env  # noqa: F401 - fixture

pytestmark = pytest.mark.slow
PROMETHEUS = shutil.which("prometheus")
RATE_INTERVAL = "10s"  # what Grafana's $__rate_interval becomes with a 1 s scrape and a short dashboard range
NEAR_DUPLICATES = ("Fed holds rates steady and signals patience on cuts, officials say",
                   "Fed holds rates steady and signals patience on cuts, officials said")


def rss(now: datetime) -> str:
    items = [(f"https://local.example/news/{i}", f"Acme Corp (NASDAQ: AAPL) update number {i} on guidance",
              now - timedelta(minutes=5 * i)) for i in range(10)]
    items += [(f"https://local.example/fed/{i}", title, now - timedelta(minutes=3 + i))
              for i, title in enumerate(NEAR_DUPLICATES)]
    body = "".join(f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
                   f"<pubDate>{format_datetime(at)}</pubDate><description>Story text.</description></item>"
                   for link, title, at in items)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Local wire</title>'
            f"<link>https://local.example/</link><description>test</description>{body}</channel></rss>")


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[int, dict[str, int]]]:
    """Local HTTP endpoints: feeds (/news.xml ok, /broken.xml 500) and webhooks (/ok 200, /flaky 503, /reject 400)."""
    hits: dict[str, int] = {}
    feed = rss(datetime.now(UTC).replace(microsecond=0))

    async def handle(request: web.Request) -> web.Response:
        hits[request.path] = hits.get(request.path, 0) + 1
        if request.path == "/news.xml":  # no ETag/Last-Modified: every poll re-reads, so duplicates are dropped
            return web.Response(text=feed, content_type="application/rss+xml")
        status = {"/ok": 200, "/flaky": 503, "/reject": 400}.get(request.path, 500)
        return web.json_response({"status": status}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1], hits
    finally:
        await runner.cleanup()


@contextmanager
def running_prometheus(tmp_path: Path, targets: dict[str, int]) -> Iterator[str]:
    port = free_port()
    jobs = "".join(f"  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
                   for job, target in targets.items())
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}")
    log = open(tmp_path / "prometheus.log", "wb")  # closed in the finally below
    proc = subprocess.Popen([PROMETHEUS or "prometheus", f"--config.file={config}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_CEILING_S  # a ceiling for a loaded machine, not a speed check
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"awaited Prometheus {url}/-/ready for {READY_CEILING_S:g} s "
                                         f"(exit status {proc.poll()}); its log:\n"
                                         + (tmp_path / "prometheus.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@contextmanager
def running_ingest(settings: Settings, tmp_path: Path, feed_port: int) -> Iterator[int]:
    """A real `bearwatch ingest` process (its own /metrics, as in production), polling the local feeds."""
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f"""
[engine]
connect_timeout_s = 2.0
read_timeout_s = 2.0
total_timeout_s = 5.0
unhealthy_after = 2
backoff_base_s = 1.0
backoff_max_s = 2.0
unhealthy_probe_s = 2.0
[host_default]
min_gap_s = 0.0
max_in_flight = 4
[[feed]]
name = "local-news"
source = "Local Wire"
url = "http://127.0.0.1:{feed_port}/news.xml"
interval_s = 1
[[feed]]
name = "local-broken"
source = "Broken Wire"
url = "http://127.0.0.1:{feed_port}/broken.xml"
interval_s = 1
""")
    port = free_port()
    env = worker_env(settings, BEARWATCH_FEEDS_FILE=str(feeds), BEARWATCH_INGEST_PORT=str(port))
    with open(tmp_path / "ingest.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "monitor.shell.cli", "ingest"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def substitute(expr: str) -> str:
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$ticker", BURST_TICKER)


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def run_query(prometheus: str, query: Query) -> tuple[int, str]:
    """How many series (or label values) the query returns, and an error text if Prometheus refused it."""
    expr = substitute(query.expr)
    if query.kind == "label_values":
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", expr)
        assert match, f"cannot read {expr!r}"
        params = urllib.parse.urlencode({"match[]": match.group(1)})
        url = f"{prometheus}/api/v1/label/{match.group(2)}/values?{params}"
    else:
        url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        body = http_json(url)
    except urllib.error.HTTPError as exc:
        return 0, exc.read().decode()[:300]
    data = body["data"]
    return len(data if query.kind == "label_values" else data["result"]), ""


def all_queries() -> list[Query]:
    return [q for doc in load_all().values() for q in queries(doc)]


async def poll_until_every_query_has_series(prometheus: str, expressions: list[Query],
                                            timeout_s: float = 240) -> list[str]:
    """Re-run every query until all return series (metrics appear as events happen); the empty ones at the end."""
    empty: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        results = await asyncio.gather(*(asyncio.to_thread(run_query, prometheus, q) for q in expressions))
        empty = [f"{q.dashboard} / {q.where}: {substitute(q.expr)}" + (f" -> {error}" if error else "")
                 for q, (count, error) in zip(expressions, results, strict=True) if count == 0]
        if not empty:
            return []
        await asyncio.sleep(2)
    return empty


@pytest.fixture
async def pipeline_settings(make_settings: Callable[..., Settings], tiny_model_dir: Path,  # noqa: F811
                            receivers: tuple[int, dict[str, int]], tmp_path: Path) -> Settings:
    port, _ = receivers
    hooks = [WebhookTarget(name=name, url=f"http://127.0.0.1:{port}/{name}", timeout_s=2)
             for name in ("ok", "flaky", "reject")]
    settings = make_settings(model_path=tiny_model_dir, model_batch=64, batch_max_wait_s=0.2, allowed_lateness_s=60,
                             webhooks=hooks, rules_file=burst_rules_file(tmp_path))
    await ensure_topics(settings.kafka_url or "", settings)
    return settings


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (CI: apt-get install prometheus)")
async def test_every_dashboard_query_returns_series_from_a_real_prometheus(
    pipeline_settings: Settings, receivers: tuple[int, dict[str, int]], redis_client: aioredis.Redis,
    tmp_path: Path,
) -> None:
    settings = pipeline_settings
    feed_port, hits = receivers
    expressions = all_queries()
    assert len(expressions) > 60
    with running_worker(settings, tmp_path / "worker.log", BEARWATCH_GAUGE_REFRESH_S="2") as (_, worker_port):
        await produce(settings, settings.topics.raw, [(b"malformed", b"{not json")])
        await feed_worker(settings, redis_client)  # before ingest: the burst must not arrive after newer news
        with running_ingest(settings, tmp_path, feed_port) as ingest_port, \
                running_prometheus(tmp_path, {"bearwatch-worker": worker_port, "bearwatch-ingest": ingest_port}) \
                as prom:
            empty = await poll_until_every_query_has_series(prom, expressions)

    log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
    assert not empty, (f"{len(empty)} of {len(expressions)} dashboard queries returned no series:\n"
                       + "\n".join(empty) + f"\nwebhook hits: {hits}\nworker log tail:\n{log}")
    assert hits.get("/ok") and hits.get("/reject") and hits.get("/flaky"), hits
