"""``bearwatch backtest`` as a user runs it: outputs on disk, the score cache, and a report that opens in headless
Chromium with its chart, rule table, event scores and alert cards (asserted on the rendered DOM), plus a
screenshot under test-artifacts/."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from monitor.ground.contracts import Alert
from monitor.ground.stack import EmbeddedStack

pytestmark = pytest.mark.slow

TERRA = "headlines/2022-05-02_to_2022-05-20_TerraLuna.csv"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
RULES = """
[[rule]]
name = "market_negative_shift"
enabled = false
scope = "market"
negative_share_above = 0.9
[[rule]]
name = "topic_negative_surge"
enabled = false
scope = "topic"
negative_share_above = 0.9
[[rule]]
name = "report_test_market"
scope = "market"
window = "30m"
min_volume = 1
negative_share_above = 0.3
for = "5m"
severity = "warning"
annotations = { summary = "{negative_share:.0%} of market news negative over {window}" }
"""
EXTRA_RULE = """
[[rule]]
name = "report_test_source"
scope = "source"
window = "20m"
min_volume = 1
negative_share_above = 0.5
severity = "info"
"""


def backtest(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "monitor.shell.cli", "backtest", "--quiet", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"backtest failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def chromium(tmp_path: Path, *args: str) -> str:
    command = [CHROMIUM or "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=240)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it: apt-get install chromium)")
def test_backtest_writes_alerts_index_and_a_report_that_renders_in_headless_chromium(
    stack: EmbeddedStack, unique: str, shared_data: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data = tmp_path / "terra-250.csv"
    with (shared_data / TERRA).open(encoding="utf-8") as handle:
        data.write_text("".join(next(handle) for _ in range(251)), encoding="utf-8")
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    cache = tmp_path_factory.getbasetemp() / "bearwatch-score-cache.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEARWATCH_")}
    env.update({"BEARWATCH_REDIS_URL": stack.redis_url, "BEARWATCH_REDIS_NAMESPACE": f"test{unique}",
                "BEARWATCH_VAR_DIR": str(tmp_path / "var"), "BEARWATCH_CPU_THREADS": "1", "HF_HUB_OFFLINE": "1"})

    first = tmp_path / "first"
    printed = backtest([str(data), "--rules", str(rules), "--out", str(first), "--run-id", "first",
                        "--cache", str(cache)], env)
    assert "alerts fired" in printed and "stories/s" in printed and str(first / "report.html") in printed
    alerts = [Alert.model_validate(item) for item in json.loads((first / "alerts.json").read_text())]
    fired = [a for a in alerts if a.status == "firing"]
    assert fired and {a.rule for a in fired} == {"report_test_market"}
    with (first / "alerts.csv").open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(alerts)
    index = pq.read_table(first / "index.parquet").to_pylist()
    market = [row for row in index if row["scope"] == "market"]
    english = 250 - json.loads((first / "summary.json").read_text())["source"].get("non_english", 0)
    assert sum(row["count"] for row in market) == english and {row["scope"] for row in index} >= {"market", "topic"}

    events = tmp_path / "events.csv"
    hit = fired[0].starts_at + timedelta(hours=1)
    events.write_text(f"time,key,label\n{hit.isoformat()},market,known sell-off\n"
                      "2022-05-03 12:00,TSLA,nothing watched\n", encoding="utf-8")
    rules.write_text(RULES + EXTRA_RULE, encoding="utf-8")  # other rules, same stories: all scores from the cache
    second = tmp_path / "second"
    backtest([str(data), "--rules", str(rules), "--out", str(second), "--run-id", "second", "--cache", str(cache),
              "--events", str(events)], env)
    summary = json.loads((second / "summary.json").read_text())
    assert (summary["cache_hits"], summary["cache_misses"]) == (250, 0)
    assert summary["events"]["recall"] == 0.5 and summary["events"]["mean_lead_s"] == 3600
    second_alerts = [Alert.model_validate(a) for a in json.loads((second / "alerts.json").read_text())]
    assert [a for a in second_alerts if a.rule == "report_test_market"] == [a for a in alerts]
    episodes = [a for a in second_alerts if a.status == "firing" and a.annotations.get("repeat") != "true"]

    report = (second / "report.html").resolve()
    assert not re.search(r"""(src|href)=["']https?://(?!www\.|[a-z0-9.-]+/)""", report.read_text())
    assert "<script src" not in report.read_text() and "<link" not in report.read_text()  # self-contained
    dom = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", report.as_uri())
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "backtest-report.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path, "--window-size=1280,900", "--virtual-time-budget=3000", f"--screenshot={shot}",
             report.as_uri())
    (ARTIFACTS / "backtest-report.html").write_text(dom, encoding="utf-8")

    assert 'data-ready="1"' in dom, "the report's script did not run"
    chart = re.search(r'<svg id="market-chart"[^>]*data-bins="(\d+)"[^>]*data-alerts="(\d+)"', dom)
    assert chart and int(chart.group(1)) > 10 and int(chart.group(2)) == len(episodes)
    assert dom.count('class="volume"') > 10 and re.search(r'<path class="neg-share" d="M[\d.,]+ L', dom)
    assert dom.count('class="alert-marker"') == len(episodes)
    cards = re.findall(r'<article class="alert-card (\w+)" id="alert-\d+" data-rule="([\w-]+)"', dom)
    assert sorted(rule for _, rule in cards) == sorted(a.rule for a in episodes)
    assert re.search(r'<article class="alert-card[^>]*>.*?negative over 30m.*?<ol><li><span class="score">-0\.\d\d'
                     r'</span> <a href="https://', dom, re.S), "a card lacks its reason or its linked headlines"
    fired_cells = dict(re.findall(r'<tr class="rule" data-rule="([\w-]+)">.*?<td class="fired">(\d+)</td>', dom))
    assert fired_cells["report_test_market"] == str(sum(a.rule == "report_test_market" for a in episodes))
    assert '<b id="recall">50%</b>' in dom and 'id="events"' in dom and 'id="false-alarms"' in dom
    assert "Markers: alert starts" in dom  # said only when there are markers
    assert str(summary["rules"]["report_test_market"]["fired"]) == fired_cells["report_test_market"]
    assert shot.is_file() and shot.stat().st_size > 20_000
