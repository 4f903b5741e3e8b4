"""What a running ``bearwatch up`` tells the other commands, and the checks before a second one starts.

``bearwatch up`` starts Kafka and Redis on random free ports; a second terminal's ``windows show`` or
``feeds list`` used to fail with "no Redis configured" until the user copied the port from the banner. Now ``up``
writes its URLs to ``<var_dir>/run/up.json`` once the stack is up (and removes it on exit), and every command
that finds no ``BEARWATCH_KAFKA_URL``/``BEARWATCH_REDIS_URL`` uses the running instance's (:func:`attach`).

Before starting, :func:`preflight` refuses, in one line, what would otherwise end in a traceback or a
crash-looping child: a live ``up`` on the same ``var_dir`` (whose logs a second run would overwrite) and any of
the three ports already taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from monitor.ground.settings import Settings

STATE_NAME = "up.json"


def state_path(settings: Settings) -> Path:
    return settings.var_dir / "run" / STATE_NAME


def _alive(pid: int) -> bool:
    """True when ``pid`` runs and is a Bearwatch process (a reused pid of another program does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ")
            return b"bearwatch" in text or b"monitor.shell.cli" in text or b"monitor/shell/cli" in text
    return True


def read_state(settings: Settings) -> dict[str, Any] | None:
    """The running instance's record, or None when there is none (or its process is gone)."""
    path = state_path(settings)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int) or not _alive(state["pid"]):
        return None
    return state


def write_state(settings: Settings, kafka_url: str, redis_url: str) -> Path:
    """Record this ``up`` (pid, URLs); written atomically, readable only by the user (URLs may hold passwords)."""
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "pid": os.getpid(), "started_at": time.time(), "kafka_url": kafka_url, "redis_url": redis_url,
        "health": f"http://{settings.http_host}:{settings.http_port}/health",
        "status_page": f"http://{settings.http_host}:{settings.worker_port}/",
    }
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    temporary.replace(path)
    return path


def clear_state(settings: Settings) -> None:
    """Remove the record if it is this process's own."""
    path = state_path(settings)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


def attach(settings: Settings) -> Settings:
    """``settings`` with the running ``up``'s Kafka and Redis URLs filled in where none is configured."""
    if settings.kafka_url and settings.redis_url:
        return settings
    state = read_state(settings)
    if state is None:
        return settings
    update = {}
    if not settings.kafka_url and isinstance(state.get("kafka_url"), str):
        update["kafka_url"] = state["kafka_url"]
    if not settings.redis_url and isinstance(state.get("redis_url"), str):
        update["redis_url"] = state["redis_url"]
    return settings.model_copy(update=update)


def _port_busy(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def preflight(settings: Settings) -> str | None:
    """None when ``up`` may start, else the one line that says why not and what to do."""
    state = read_state(settings)
    if state is not None:
        return (f"Bearwatch is already running from {settings.var_dir} (pid {state['pid']}, health "
                f"{state.get('health', '?')}): use that one, stop it (Ctrl-C in its terminal or "
                f"`kill {state['pid']}`), "
                "or start another with its own BEARWATCH_VAR_DIR and BEARWATCH_HTTP_PORT, BEARWATCH_WORKER_PORT, "
                "BEARWATCH_INGEST_PORT")
    ports = (("BEARWATCH_HTTP_PORT", settings.http_port, "/health"),
             ("BEARWATCH_WORKER_PORT", settings.worker_port, "the worker's status page and /metrics"),
             ("BEARWATCH_INGEST_PORT", settings.ingest_port, "the consumers' /metrics"))
    for env, port, what in ports:
        if port and _port_busy(settings.http_host, port):
            return (f"port {port} on {settings.http_host} ({what}) is already in use (another Bearwatch or another "
                    f"program): stop it or set {env} to a free port, e.g. {env}={port + 1}")
    return None
