"""`bearwatch up` as a user runs it: it becomes healthy (awaited with a ceiling of minutes), other commands find
it without URLs, a second one refuses in one line, and nothing is left behind after SIGINT or SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from monitor.ground.stack.process import free_port, port_open
from tests.support.ceilings import READY_CEILING_S

pytestmark = pytest.mark.slow


def _up_env(tmp_path: Path, port: int) -> dict[str, str]:
    env = dict(os.environ, BEARWATCH_HTTP_PORT=str(port), BEARWATCH_VAR_DIR=str(tmp_path / "var"),
               BEARWATCH_WORKER_PORT=str(free_port()), BEARWATCH_INGEST_PORT=str(free_port()))
    env.pop("BEARWATCH_KAFKA_URL", None)
    env.pop("BEARWATCH_REDIS_URL", None)
    return env


def _start_up(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "monitor.shell.cli", "up"], env=_up_env(tmp_path, port),
                            stdout=open(tmp_path / "up.log", "wb"), stderr=subprocess.STDOUT)
    return proc, port


def _wait_health(port: int, timeout_s: float = 300.0) -> dict:
    """Wait until /health answers with Kafka and Redis ok (services may still be loading: 503 is an answer).

    The ceiling is minutes, not seconds: the model loads in 20-60 s on a busy machine, and readiness is what is
    awaited here, never a race against a clock.
    """
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 503 while a service is still starting
            body = json.loads(exc.read() or b"{}")
        except OSError as exc:
            last = exc
            time.sleep(0.5)
            continue
        components = body.get("components", {})
        if components.get("kafka", {}).get("ok") and components.get("redis", {}).get("ok"):
            return body
        last = body
        time.sleep(0.5)
    raise AssertionError(f"awaited /health on port {port} reporting Kafka and Redis ok for {timeout_s:g} s; "
                         f"last answer: {last}")


def _ports(health: dict) -> list[int]:
    kafka = int(health["components"]["kafka"]["url"].rsplit(":", 1)[1])
    redis = int(health["components"]["redis"]["url"].rsplit(":", 1)[1].split("/")[0])
    return [kafka, redis]


def _wait_gone(pids: list[int], ports: list[int], timeout_s: float = READY_CEILING_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        busy = [port for port in ports if port_open("127.0.0.1", port)]
        if not alive and not busy:
            return
        time.sleep(0.2)
    raise AssertionError(f"awaited the children's exit and free ports for {timeout_s:g} s; "
                         f"left behind: processes {alive}, ports {busy}")


def test_up_is_healthy_and_sigint_stops_everything(tmp_path: Path) -> None:
    proc, port = _start_up(tmp_path)
    try:
        health = _wait_health(port)
        assert health["components"]["kafka"]["ok"] and health["components"]["redis"]["ok"], health
        children = [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        assert len(children) >= 2, "expected the embedded broker and Redis as children"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=READY_CEILING_S) == 0, (tmp_path / "up.log").read_text()
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
        proc.wait(timeout=READY_CEILING_S)
        _wait_gone(children, _ports(health) + [port])
    finally:
        if proc.poll() is None:
            proc.kill()


def test_other_commands_find_the_running_stack_and_a_second_up_refuses_in_one_line(tmp_path: Path) -> None:
    proc, port = _start_up(tmp_path)
    try:
        _wait_health(port)
        env = _up_env(tmp_path, free_port())
        env["BEARWATCH_HTTP_PORT"] = str(port)
        logs_before = sorted(p.name for p in (tmp_path / "var" / "logs").iterdir())
        second = subprocess.run([sys.executable, "-m", "monitor.shell.cli", "up"], env=env, capture_output=True,
                                timeout=240)
        err = second.stderr.decode()
        assert second.returncode == 2, err
        assert "already running" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3, err
        assert sorted(p.name for p in (tmp_path / "var" / "logs").iterdir()) == logs_before
        shown = subprocess.run([sys.executable, "-m", "monitor.shell.cli", "windows", "show", "-k", "AAPL", "--json"],
                               env=env, capture_output=True, timeout=240)
        assert shown.returncode == 0, shown.stderr.decode()
        assert b"no Redis configured" not in shown.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=READY_CEILING_S)
    assert not (tmp_path / "var" / "run" / "up.json").exists(), "up must remove its state file on exit"
