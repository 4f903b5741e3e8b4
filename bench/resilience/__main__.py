"""``python -m bench.resilience`` (``make resilience``): every scenario at bench size, one line each.

The overload scenario runs before the soak so the soak can run at half the capacity it measured. Options:
``--only broker_restart,soak``, ``--preset ci`` (the short sizes of the CI suite), ``--soak-s 300`` (shorter
soak), ``--workdir DIR`` (logs and data of each run stay there for a post-mortem), ``--out FILE`` (where the
table is also written; default bench/results/resilience.txt). Exit status 1 if any FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tests.support.resilience.report import ScenarioResult, table
from tests.support.resilience.scenarios import BENCH, CI, SCENARIOS


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.resilience", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--preset", choices=("bench", "ci"), default="bench")
    parser.add_argument("--soak-s", type=float, default=None, help="soak duration in seconds (bench: 1800)")
    parser.add_argument("--workdir", type=Path, default=None, help="where each run keeps its logs and data")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "resilience.txt",
                        help="also write the table here")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[ScenarioResult]:
    sizes = dict(BENCH if args.preset == "bench" else CI)
    names = [name.strip() for name in args.only.split(",") if name.strip()] or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}: choose from {list(SCENARIOS)}")
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bearwatch-resilience-"))
    print(f"runs keep their logs under {root}", flush=True)
    results: list[ScenarioResult] = []
    capacity: float | None = None
    for name in names:
        size = sizes.get(name) or BENCH[name]
        if name == "soak":
            if capacity:
                size = replace(size, rate=max(1.0, capacity / 2))
            if args.soak_s:
                size = replace(size, outage_s=args.soak_s)
        began = time.monotonic()
        try:
            result = await SCENARIOS[name](root / name, size)
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others' results
            from tests.support.resilience.books import Books

            result = ScenarioResult(name, Books(), failures=[f"crashed: {type(exc).__name__}: {exc}"],
                                    seconds=time.monotonic() - began)
        capacity = result.measured.get("capacity", capacity)
        results.append(result)
        print(result.line(), flush=True)
        for failure in result.failures:
            print(f"  FAIL {failure}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bench.resilience").setLevel(logging.INFO)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a broker outage is the point of scenario 1
    results = asyncio.run(run(args))
    report = table(results)
    print("\n" + report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# python -m bench.resilience {' '.join(sys.argv[1:] if argv is None else argv)}\n"
                        f"# finished {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n{report}\n", encoding="utf-8")
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
