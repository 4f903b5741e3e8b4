"""Run every benchmark in `bench/` one after the other (`make bench`); each prints its own table.

Long: several minutes on a 2-core machine. Results land in bench/results/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    ["model_throughput.py"],
    ["pipeline_throughput.py"],
    ["feeds_poll.py"],
    ["engine_memory.py", "--calls", "2000"],
]


def main() -> int:
    failed = []
    for argv in BENCHES:
        print(f"\n=== {' '.join(argv)} ===", flush=True)
        if subprocess.call([sys.executable, str(HERE / argv[0]), *argv[1:]]) != 0:
            failed.append(argv[0])
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
