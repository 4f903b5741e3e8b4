"""Headless Chromium for the tests that check what a browser shows (the status page, the backtest report).

Chromium is a system program (``apt-get install chromium``), not a Python package: tests that need it skip with
the reason when ``CHROMIUM`` is None. As root it must run with ``--no-sandbox``, which the flags pass.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
# A ceiling for one page load and dump on a loaded machine, not a speed check.
CHROMIUM_CEILING_S = 240


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium once with ``args`` (e.g. ``--dump-dom URL``) and return what it printed."""
    command = [CHROMIUM or "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=CHROMIUM_CEILING_S)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout
