"""Start and stop the embedded Tansu broker and Valkey server on free loopback ports.

Used by ``bearwatch up`` when no ``BEARWATCH_KAFKA_URL`` / ``BEARWATCH_REDIS_URL`` is set, and by the test
suite's session fixture, so the tests exercise the same launcher the product uses.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from monitor.stack.binaries import tansu_binary, valkey_binary
from monitor.stack.process import free_port, port_open, spawn, stop, wait_until

HOST = "127.0.0.1"


class StackError(RuntimeError):
    """An embedded server could not start; the message says which and where its log is."""


@dataclass
class EmbeddedServer:
    name: str
    port: int
    log_path: Path
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = spawn(self.argv, self.log_path)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


@dataclass
class EmbeddedStack:
    """Tansu + Valkey under ``var_dir``; ``kafka``/``redis`` say which to start (False = configured elsewhere)."""

    var_dir: Path
    kafka: bool = True
    redis: bool = True
    start_timeout_s: float = 20.0
    servers: dict[str, EmbeddedServer] = field(default_factory=dict)
    startup_seconds: float = 0.0

    @property
    def kafka_url(self) -> str:
        return f"{HOST}:{self.servers['kafka'].port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{HOST}:{self.servers['redis'].port}/0"

    def start(self) -> EmbeddedStack:
        began = time.monotonic()
        logs = self.var_dir / "logs"
        try:
            if self.kafka:
                self._start_kafka(logs)
            if self.redis:
                self._start_redis(logs)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _start_kafka(self, logs: Path, port: int | None = None) -> None:
        port = port or free_port(HOST)
        url = f"tcp://{HOST}:{port}"
        server = EmbeddedServer(
            "kafka",
            port,
            logs / "tansu.log",
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
        )
        self._launch(server)

    def _start_redis(self, logs: Path, port: int | None = None) -> None:
        port = port or free_port(HOST)
        data = self.var_dir / "valkey"
        data.mkdir(parents=True, exist_ok=True)
        server = EmbeddedServer(
            "redis",
            port,
            logs / "valkey.log",
            [
                str(valkey_binary()),
                "--port", str(port),
                "--bind", HOST,
                "--dir", str(data.resolve()),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "yes",
            ],
        )
        self._launch(server)

    def _launch(self, server: EmbeddedServer) -> None:
        self.servers[server.name] = server
        server.start()
        ready = self._redis_ready if server.name == "redis" else (lambda: port_open(HOST, server.port))
        try:
            wait_until(lambda: not server.running() or ready(), self.start_timeout_s, server.name)
        except TimeoutError as exc:
            where = f"{HOST}:{server.port}"
            raise StackError(f"embedded {server.name} did not answer on {where}; see {server.log_path}") from exc
        if not server.running():
            raise StackError(f"embedded {server.name} exited at start; see {server.log_path}")

    def _redis_ready(self) -> bool:
        try:
            return bool(redis.Redis(host=HOST, port=self.servers["redis"].port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def restart(self, name: str) -> None:
        """Stop one server and start it again on the same port (fault-injection tests use this)."""
        server = self.servers[name]
        server.stop()
        wait_until(lambda: not port_open(HOST, server.port), 10, f"{name} port release")
        server.start()
        ready = self._redis_ready if name == "redis" else (lambda: port_open(HOST, server.port))
        wait_until(ready, self.start_timeout_s, name)

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
