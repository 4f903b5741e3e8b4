"""Bearwatch's own long-running services as child processes of ``bearwatch up``, restarted if they crash.

Each service is a ``bearwatch <command>`` run with the resolved Kafka/Redis URLs in its environment, so the same
command works alone (against configured URLs) and under ``up`` (against the embedded stack).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.ground.retry import Backoff
from monitor.ground.stack.process import die_with_parent

log = logging.getLogger(__name__)

# (command, module that provides it): a service runs only once its stage exists.
KNOWN_SERVICES: tuple[tuple[str, str], ...] = (("ingest", "consumers.cli"), ("worker", "monitor.stages.worker.cli"))


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available_services() -> list[str]:
    return [command for command, module in KNOWN_SERVICES if _exists(module)]


@dataclass
class Service:
    """One supervised child: started, watched, restarted with backoff, stopped with SIGTERM then SIGKILL."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    _stopping: bool = field(default=False, repr=False)

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:  # noqa: ASYNC230 - opening an append handle does not block
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                env=self.env, preexec_fn=die_with_parent,
            )
        self.started_at = time.monotonic()

    async def supervise(self, max_backoff_s: float = 30.0) -> None:
        """Restart the child whenever it exits unexpectedly; returns when :meth:`stop` is called.

        The wait doubles from 1 s (first quick crash: 2 s) up to ``max_backoff_s`` while the child keeps dying
        young, and drops back to 1 s after a run of more than a minute. No jitter: one child, no crowd to spread.
        """
        policy = Backoff(base_s=1.0, cap_s=max_backoff_s, jitter=False)
        crashes = 1
        while not self._stopping:
            assert self.proc is not None
            self.last_exit = await self.proc.wait()
            if self._stopping:
                return
            ran_for = time.monotonic() - self.started_at
            crashes = 1 if ran_for > 60 else crashes + 1
            backoff = policy.delay(crashes)
            log.error("service %s exited with %s after %.0f s; restarting in %.0f s (log: %s)",
                      self.name, self.last_exit, ran_for, backoff, self.log_path)
            await asyncio.sleep(backoff)
            if self._stopping:
                return
            self.restarts += 1
            await self.start()

    def state(self) -> dict[str, Any]:
        running = self.proc is not None and self.proc.returncode is None
        return {
            "ok": running,
            "state": "running" if running else "exited",
            "pid": self.proc.pid if self.proc else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(self.log_path),
        }

    async def stop(self, grace_s: float = 10.0) -> None:
        self._stopping = True
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), grace_s)
        except TimeoutError:
            log.warning("service %s ignored SIGTERM for %.0f s; killing it", self.name, grace_s)
            self.proc.kill()
            await self.proc.wait()


def service_command(command: str, config: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "monitor.shell.cli", command]
    if config is not None:
        argv += ["--config", str(config)]
    return argv


def service_env(kafka_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(BEARWATCH_KAFKA_URL=kafka_url, BEARWATCH_REDIS_URL=redis_url, HF_HUB_OFFLINE="1",
               PYTHONUNBUFFERED="1")
    # glibc's per-thread malloc arenas (the model runs in an executor thread) made the worker's RSS creep in the
    # soak scenario; two arenas cut the growth from +14% to +9% over 5 minutes (docs/resilience.md).
    env.setdefault("MALLOC_ARENA_MAX", "2")
    return env
