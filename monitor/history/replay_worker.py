"""The replay's own ``bearwatch worker`` process: the real Faust worker, pointed at the run's topics and namespace.

Every setting is handed over through ``BEARWATCH_*`` variables built from the run's :class:`Settings` (inherited
``BEARWATCH_*`` variables are dropped first, so nothing of a live configuration leaks in): the run's topics and
Redis namespace, one partition, ``BEARWATCH_WEBHOOKS='[]'`` and no Grafana, so a replay never pages anyone or
annotates a live dashboard, and the run's rules file. The process is bound to ours (Linux parent-death signal), so
a killed replay leaves no worker behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from monitor.ground.errors import BearwatchError
from monitor.ground.settings import Settings
from monitor.ground.stack.process import free_port, spawn, stop


class WorkerFailed(RuntimeError, BearwatchError):
    """The replay worker exited or never became ready; the message holds the tail of its log."""


def settings_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: our environment) without any ``BEARWATCH_*``, plus every setting of ``settings``."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("BEARWATCH_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        env[f"BEARWATCH_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ReplayWorker:
    """Start with :meth:`spawn`, wait with :meth:`ready`, end with :meth:`stop` (always)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port(settings.http_host)
        self.settings = settings.model_copy(update={"worker_port": self.port})
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.proc = spawn([sys.executable, "-m", "monitor.shell.cli", "worker"], self.log_path,
                          env=settings_env(self.settings))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def check(self) -> None:
        """Raise :class:`WorkerFailed` if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise WorkerFailed(f"replay worker exited with code {self.proc.returncode}; log {self.log_path}:\n"
                               f"{self.log_tail()}")

    async def ready(self, timeout_s: float = 180.0) -> None:
        """Wait until ``/health`` answers 200 (Redis reachable and the model loaded)."""
        url = f"http://{self.settings.http_host}:{self.port}/health"
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                self.check()
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        raise WorkerFailed(f"replay worker not ready within {timeout_s:.0f} s; log {self.log_path}:\n"
                           f"{self.log_tail()}")

    async def stop(self, grace_s: float = 20.0) -> None:
        if self.proc is not None:
            await asyncio.to_thread(stop, self.proc, grace_s)
