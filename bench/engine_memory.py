"""RSS of the inference engine over many small calls, with and without ``malloc_trim`` (monitor.stages.model.memory).

The worker scores micro-batches of 1-32 headlines, each padded to its own length, for days. This runs the same
call pattern in two fresh processes (trimming off / on, everything else equal, ``MALLOC_ARENA_MAX=2`` as the
services use) and prints RSS every ``--every`` calls, plus the growth after warm-up (first report → last).

    .venv/bin/python bench/engine_memory.py --calls 4000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(trim_interval_s: float, calls: int, every: int) -> None:
    """Score ``calls`` random micro-batches; print one JSON line per report."""
    from monitor.ground.settings import Settings
    from monitor.stages.model.data import DEFAULT_SENTIMENT, load_split
    from monitor.stages.model.engine import Engine

    texts = load_split(DEFAULT_SENTIMENT, "sentiment", "valid").texts
    settings = Settings(cpu_threads=1)
    engine = Engine(settings.model_path, batch_size=settings.model_batch, max_tokens=settings.max_tokens,
                    cpu_threads=1, int8=settings.int8, trim_interval_s=trim_interval_s)
    rng = random.Random(1)
    began = time.monotonic()
    for call in range(calls + 1):
        if call % every == 0:
            print(json.dumps({"call": call, "s": round(time.monotonic() - began, 1), "rss_mb": round(_rss_mb())}),
                  flush=True)
        if call < calls:
            engine.score(rng.sample(texts, rng.randint(1, 32)))


def run(label: str, trim_interval_s: float, calls: int, every: int) -> list[dict]:
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, __file__, "--child", str(trim_interval_s), "--calls", str(calls), "--every", str(every)]
    rows = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            row = json.loads(line)
            rows.append(row)
            print(f"{label:>12}  call {row['call']:>6}  {row['s']:>7.1f} s  RSS {row['rss_mb']:>5} MB", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engine_memory.json")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.calls, args.every)
        return 0
    results = {"no trim": run("no trim", 0.0, args.calls, args.every),
               "trim 1/s": run("trim 1/s", 1.0, args.calls, args.every)}
    print()
    for label, rows in results.items():
        warm, last = rows[1] if len(rows) > 2 else rows[0], rows[-1]
        growth = (last["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"]
        print(f"{label:>12}: RSS {warm['rss_mb']} MB after {warm['call']} calls → {last['rss_mb']} MB after "
              f"{last['call']} ({growth:+.1%}); {last['s'] / max(1, last['call']) * 1000:.1f} ms per call")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
