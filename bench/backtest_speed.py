"""How fast ``bearwatch backtest`` iterates on rules: the same file three ways in one run, as ratios.

1. ``scored``: scores already in the score cache (``--cache``), run cache empty: read, de-duplicate, look up the
   scores, evaluate (what a first run costs once the model has scored the texts);
2. ``cached``: the same command again: the run cache holds the scored stories, only the detector runs;
3. ``evaluator``: the detector alone (``monitor.history.engine.run_rules`` on the scored stories, in process).

Not a test: run by hand. A cold score cache makes step 1 model-bound (minutes on a CPU); pass the cache a previous
backtest filled (default ``var/cache/scores.sqlite``). Writes ``bench/results/backtest_speed.json``.

    .venv/bin/python bench/backtest_speed.py --cache var/cache/scores.sqlite
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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "headlines"
REUTERS = DATA / "reuters_ticker_news_2011-07-06_to_2011-10-31_US_downgrade_EU_debt.csv"


def backtest(path: Path, extra: list[str], out: Path, cache: Path, var: Path) -> tuple[dict, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEARWATCH_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "BEARWATCH_VAR_DIR": str(var)})
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "monitor.shell.cli", "backtest", str(path), *extra, "--quiet", "--out",
                           str(out), "--cache", str(cache)], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"backtest failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=REUTERS)
    parser.add_argument("--source", default="Reuters")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "cache" / "scores.sqlite")
    args = parser.parse_args()
    extra = ["--source", args.source] if args.source else []
    results: dict[str, object] = {"file": args.file.name, "cpus": os.cpu_count(),
                                  "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bw-speed-") as tmp:
        work = Path(tmp)
        cache = work / "scores.sqlite"
        if args.cache.is_file():
            shutil.copy(args.cache, cache)
        for name in ("scored", "cached"):
            summary, wall = backtest(args.file, extra, work / name, cache, work / "var")
            stories = summary["stories_scored"]
            results[name] = {"stories": stories, "seconds_in_run": summary["seconds"], "wall_s": round(wall, 2),
                             "stories_per_s_in_run": round(stories / summary["seconds"], 1),
                             "stories_per_s_wall": round(stories / wall, 1),
                             "evaluate_seconds": summary["evaluate_seconds"], "read_seconds": summary["read_seconds"],
                             "score_seconds": summary["score_seconds"], "cache_misses": summary["cache_misses"],
                             "alerts_fired": summary["alerts_fired"]}
            print(name, json.dumps(results[name]))
        sys.path.insert(0, str(ROOT))
        from alerts.rules import load_rules
        from monitor.history.engine import run_rules
        from monitor.history.run_cache import RunCache

        entries = sorted((work / "runs").glob("*.pkl"))
        stored = RunCache(work / "runs").get(entries[0].stem) if entries else None
        if stored is not None:
            rules = load_rules()
            began = time.perf_counter()
            result = run_rules(rules, stored.stories, 60, 300)
            seconds = time.perf_counter() - began
            results["evaluator"] = {"stories": len(stored.stories), "seconds": round(seconds, 3),
                                    "stories_per_s": round(len(stored.stories) / seconds, 1),
                                    "alerts": len(result.alerts)}
            print("evaluator", json.dumps(results["evaluator"]))
    cached, scored = results["cached"], results["scored"]
    results["ratio_cached_over_scored_in_run"] = round(
        cached["stories_per_s_in_run"] / scored["stories_per_s_in_run"], 2)  # type: ignore[index]
    out = ROOT / "bench" / "results" / "backtest_speed.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
