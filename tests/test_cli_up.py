"""`bearwatch up` as a user runs it: healthy within 30 s, and nothing left behind after SIGINT or SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from monitor.stack.process import free_port, port_open

pytestmark = pytest.mark.slow


def _start_up(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ, BEARWATCH_HTTP_PORT=str(port), BEARWATCH_VAR_DIR=str(tmp_path / "var"),
               BEARWATCH_WORKER_PORT=str(free_port()), BEARWATCH_INGEST_PORT=str(free_port()))
    env.pop("BEARWATCH_KAFKA_URL", None)
    env.pop("BEARWATCH_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "up"], env=env,
                            stdout=open(tmp_path / "up.log", "wb"), stderr=subprocess.STDOUT)
    return proc, port


def _wait_health(port: int, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
                return json.loads(response.read())
        except OSError as exc:
            last = exc
            time.sleep(0.3)
    raise AssertionError(f"/health did not answer within {timeout_s} s: {last}")


def _ports(health: dict) -> list[int]:
    kafka = int(health["components"]["kafka"]["url"].rsplit(":", 1)[1])
    redis = int(health["components"]["redis"]["url"].rsplit(":", 1)[1].split("/")[0])
    return [kafka, redis]


def _wait_gone(pids: list[int], ports: list[int], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        busy = [port for port in ports if port_open("127.0.0.1", port)]
        if not alive and not busy:
            return
        time.sleep(0.2)
    raise AssertionError(f"left behind: processes {alive}, ports {busy}")


def test_up_is_healthy_and_sigint_stops_everything(tmp_path: Path) -> None:
    proc, port = _start_up(tmp_path)
    try:
        health = _wait_health(port)
        assert health["components"]["kafka"]["ok"] and health["components"]["redis"]["ok"], health
        children = [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        assert len(children) >= 2, "expected the embedded broker and Redis as children"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, (tmp_path / "up.log").read_text()
        _wait_gone(children, _ports(health))
    finally:
        if proc.poll() is None:
            proc.kill()


def test_children_exit_on_their_own_when_up_is_killed(tmp_path: Path) -> None:
    proc, port = _start_up(tmp_path)
    try:
        health = _wait_health(port)
        children = [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        _wait_gone(children, _ports(health) + [port])
    finally:
        if proc.poll() is None:
            proc.kill()
