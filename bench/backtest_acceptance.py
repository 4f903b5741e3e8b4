"""Acceptance run of ``bearwatch backtest`` on the two shared headline files, with the default rules.

Not a test (it scores ~20k texts on CPU: several minutes): run by hand when the backtest, the detector or the model
changes. For each file it runs the real command twice, first with an empty score cache (the model scores every
story) and then with the cache it just filled (rules iteration speed), and reports alerts fired (time, key, why),
run time and stories/s for both, and saves a screenshot of the report's first screen under ``test-artifacts/``.
Writes ``bench/results/backtest_acceptance.json``.

    .venv/bin/python bench/backtest_acceptance.py            # both files
    .venv/bin/python bench/backtest_acceptance.py --only terra
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "headlines"
FILES = {
    "terra": (DATA / "2022-05-02_to_2022-05-20_TerraLuna.csv", []),
    "reuters": (DATA / "reuters_ticker_news_2011-07-06_to_2011-10-31_US_downgrade_EU_debt.csv",
                ["--source", "Reuters"]),
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900", "--virtual-time-budget=3000"]
console = Console(width=150)


def run_backtest(path: Path, extra: list[str], out: Path, cache: Path, run_id: str) -> tuple[dict, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEARWATCH_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "BEARWATCH_VAR_DIR": str(out.parent / "var")})
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "monitor.shell.cli", "backtest", str(path), *extra, "--quiet",
                           "--out", str(out), "--run-id", run_id, "--cache", str(cache)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"backtest of {path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), wall


def screenshot(report: Path, shot: Path, profile: Path) -> bool:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        console.print("[yellow]chromium not found: no screenshot[/]")
        return False
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                    report.resolve().as_uri()], capture_output=True, timeout=120, check=True)
    return shot.is_file()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(FILES), help="one file only")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bw-acceptance-") as tmp:
        work = Path(tmp)
        for name, (path, extra) in FILES.items():
            if args.only and name != args.only:
                continue
            cache = work / f"{name}-scores.sqlite"
            console.print(f"[bold]{path.name}[/]: cold run (empty score cache)...")
            cold, cold_wall = run_backtest(path, extra, work / f"{name}-cold", cache, f"{name}-cold")
            console.print(f"[bold]{path.name}[/]: warm run (cache filled by the cold run)...")
            warm, warm_wall = run_backtest(path, extra, work / f"{name}-warm", cache, f"{name}-warm")
            alerts = json.loads((work / f"{name}-warm" / "alerts.json").read_text(encoding="utf-8"))
            cold_alerts = json.loads((work / f"{name}-cold" / "alerts.json").read_text(encoding="utf-8"))
            shot = ROOT / "test-artifacts" / f"backtest-{name}.png"
            shot_ok = screenshot(work / f"{name}-warm" / "report.html", shot, work / f"{name}-chromium")
            fired = [a for a in alerts if a["status"] == "firing" and a["annotations"].get("repeat") != "true"]
            results[name] = {
                "file": path.name, "rows": cold["source"]["rows"], "stories": cold["source"]["stories"],
                "rejected": cold["source"]["rejected"], "alert_messages": len(alerts), "alerts_fired": len(fired),
                "same_alerts_cold_and_warm": alerts == cold_alerts,
                "cold": {"wall_s": round(cold_wall, 1), "run_s": cold["seconds"], "stories_per_s":
                         round(cold["source"]["stories"] / cold_wall, 1), "read_s": cold["read_seconds"],
                         "score_s": cold["score_seconds"], "evaluate_s": cold["evaluate_seconds"],
                         "cache_hits": cold["cache_hits"]},
                "warm": {"wall_s": round(warm_wall, 1), "run_s": warm["seconds"], "stories_per_s":
                         round(warm["source"]["stories"] / warm_wall, 1), "read_s": warm["read_seconds"],
                         "score_s": warm["score_seconds"], "evaluate_s": warm["evaluate_seconds"],
                         "cache_hits": warm["cache_hits"]},
                "alerts": [{"starts_at": a["starts_at"], "rule": a["rule"], "scope": a["scope"], "key": a["key"],
                            "severity": a["severity"], "why": a["annotations"].get("summary", "")} for a in fired],
                "screenshot": str(shot.relative_to(ROOT)) if shot_ok else None,
            }
    table = Table(title="bearwatch backtest acceptance (default rules)")
    for column in ("file", "stories", "alerts fired", "cold: s", "cold: stories/s", "warm: s", "warm: stories/s",
                   "warm cache hits"):
        table.add_column(column)
    for r in results.values():
        table.add_row(r["file"][:40], f"{r['stories']:,}", str(r["alerts_fired"]), f"{r['cold']['wall_s']:.1f}",
                      f"{r['cold']['stories_per_s']:.0f}", f"{r['warm']['wall_s']:.1f}",
                      f"{r['warm']['stories_per_s']:.0f}", f"{r['warm']['cache_hits']:,}")
    console.print(table)
    for r in results.values():
        console.print(f"[bold]{r['file']}[/]: {r['alerts_fired']} alerts fired")
        for a in r["alerts"][:40]:
            console.print(f"  {a['starts_at']} {a['severity']:<8} {a['rule']} {a['scope']}:{a['key']} - {a['why']}",
                          highlight=False)
    out = ROOT / "bench" / "results" / "backtest_acceptance.json"
    out.write_text(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(), "results": results},
                              indent=2) + "\n", encoding="utf-8")
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
