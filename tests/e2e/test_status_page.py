"""The status page on a real worker, rendered by real headless Chromium.

A `bearwatch worker` (tiny model) is fed ~200 stories and a negative burst on one ticker; Chromium loads ``/``,
runs its script (which fetches ``/api/status``) and dumps the DOM: the chart, the tables and the headlines must
be there with the data, a hostile headline must show as text, and a screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from monitor.ground.kafka import ensure_topics
from monitor.ground.settings import Settings
from tests.support.browser import CHROMIUM, chromium
from tests.support.ceilings import READY_CEILING_S, wait_for
from tests.support.web_fixtures import BURST_TICKER, TICKERS, burst_rules_file, feed_worker
from tests.support.worker_fixtures import running_worker, tiny_model_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def section(dom: str, table_id: str) -> str:
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', dom, re.S)
    assert match, f"table #{table_id} missing from the page"
    return match.group(1)


@pytest.fixture
async def page_settings(make_settings: Callable[..., Settings], tiny_model_dir: Path,  # noqa: F811
                        tmp_path: Path) -> Settings:
    settings = make_settings(model_path=tiny_model_dir, model_batch=64, batch_max_wait_s=0.2, allowed_lateness_s=60,
                             rules_file=burst_rules_file(tmp_path))
    await ensure_topics(settings.kafka_url or "", settings)
    return settings


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it: apt-get install chromium)")
async def test_status_page_renders_chart_tables_and_headlines_in_headless_chromium(
    page_settings: Settings, redis_client: aioredis.Redis, tmp_path: Path,
) -> None:
    with running_worker(page_settings, tmp_path / "worker.log") as (_, port):
        await feed_worker(page_settings, redis_client)
        url = f"http://127.0.0.1:{port}/"

        # The windows hold every story once feed_worker returns, but the detector decides after the window update:
        # await the two decisions the burst must produce (a readiness signal, not a race), then check the page.
        expected = {("test_ticker_negative", BURST_TICKER, "critical"),
                    ("ticker_very_negative", BURST_TICKER, "critical")}

        async def decided() -> dict | None:
            page = json.loads(await asyncio.to_thread(fetch, url + "api/status"))
            fired_now = {(a["rule"], a["key"], a["severity"]) for a in page["alerts"]}
            return page if expected <= fired_now else None

        status = await wait_for(decided, READY_CEILING_S, f"the alerts {sorted(expected)} on /api/status")
        assert status["market"]["1h"]["count"] > 0
        assert status["tickers"][0]["key"] == BURST_TICKER and status["tickers"][0]["negative_share"] == 1.0
        # The burst fires the test rule and, being very negative, the shipped ticker_very_negative rule too; once
        # the market has some history, the shipped surprise rule may also fire on a ticker never seen before.
        fired = {(a["rule"], a["key"], a["severity"]) for a in status["alerts"]}
        assert fired - {("ticker_negative_burst", BURST_TICKER, "warning")} == expected

        dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "status-page.png"
        shot.unlink(missing_ok=True)
        chromium(tmp_path, "--window-size=1280,900", "--virtual-time-budget=5000", f"--screenshot={shot}", url)

    (ARTIFACTS / "status-page.html").write_text(dom, encoding="utf-8")
    assert 'data-loaded="1"' in dom, "the page script never rendered /api/status"
    assert 'id="state" class="ok"' in dom

    points = int(re.search(r'<svg id="chart"[^>]*data-points="(\d+)"', dom).group(1))
    assert points >= 6, f"the chart drew {points} points of the six-hour market series"
    line = re.search(r'<path class="line" d="([^"]*)"', dom).group(1)
    assert line.startswith("M") and line.count("L") >= 5

    tickers = section(dom, "tickers")
    rows = re.findall(r'<tr data-key="([^"]+)"', tickers)
    assert rows[0] == BURST_TICKER, f"the all-negative ticker should top the table, got {rows}"
    assert set(rows[1:]) <= set(TICKERS)
    assert "100.0%" in tickers and "plunges as fraud allegations mount" in tickers

    topics = section(dom, "topics")
    assert 'data-key="Legal | Regulation"' in topics and "no topic has news" not in topics

    recent = section(dom, "recent")
    assert len(re.findall(r"<tr data-id=", recent)) == 20
    assert re.search(r'class="(negative|neutral|positive)">(negative|neutral|positive)</td>', recent)
    # The hostile headline is shown as text: no element injected, no script run, no javascript: link.
    assert "&lt;img src=x onerror=" in recent and "<img" not in dom and "<b>bold</b>" not in dom
    assert "<title>Bearwatch — status</title>" in dom, "a headline's markup ran as script"
    assert 'href="javascript:' not in dom

    alerts = section(dom, "alerts")
    assert alerts.count("<tr data-fingerprint=") == len(fired), "every alert of the burst is listed"
    assert '<span class="sev critical">critical</span>' in alerts and f"ticker {BURST_TICKER}" in alerts
    assert f'id="kpi-alerts">{len(fired)}<' in dom
    assert shot.is_file() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
