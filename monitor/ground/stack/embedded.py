"""Start and stop the embedded Tansu broker and Valkey server on free loopback ports.

Used by ``bearwatch up`` when no ``BEARWATCH_KAFKA_URL`` / ``BEARWATCH_REDIS_URL`` is set, and by the test
suite's session fixture, so the tests exercise the same launcher the product uses.

What survives a restart: with ``persist_redis`` (``bearwatch up`` sets it from
``BEARWATCH_EMBEDDED_REDIS_PERSIST``, on by default) Valkey keeps an append-only file under
``var_dir/valkey/appendonlydir`` with an fsync every second, as ``docker-compose.yml`` runs Redis, so the windows,
seen ids, validators, alert lifecycle and the outbox are reloaded by the next start in the same folder. It is off
by default *in this class* because every other caller (replay, backtest, benches, the test session) wants a
throwaway server, and some of them reuse a folder between runs. Tansu has no local durable storage in this build
(it refuses ``sqlite://`` and ``file://``; ``postgres://`` needs a server): it keeps everything in memory, unless
``kafka_storage="seaweedfs"`` (``BEARWATCH_EMBEDDED_KAFKA_STORAGE``, opt-in) starts a local S3 store for it first
(``objectstore.py``; docs/resilience.md says what each choice keeps).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from monitor.ground.errors import BearwatchError
from monitor.ground.stack.binaries import tansu_binary, valkey_binary
from monitor.ground.stack.datadir import DataDirBusy, DataDirLock
from monitor.ground.stack.objectstore import BUCKET, bucket_ready, seaweed_argv, tansu_s3_env
from monitor.ground.stack.process import free_port, port_open, spawn, stop, wait_until

HOST = "127.0.0.1"


class StackError(RuntimeError, BearwatchError):
    """An embedded server could not start; the message says which and where its log is."""


@dataclass
class EmbeddedServer:
    name: str
    port: int
    log_path: Path
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None
    ready: Callable[[], bool] | None = None  # default: the port accepts connections
    grace_s: float = 5.0  # SIGTERM, then SIGKILL after this long

    def start(self) -> None:
        self.proc = spawn(self.argv, self.log_path, self.env)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, self.grace_s)


@dataclass
class EmbeddedStack:
    """Tansu + Valkey under ``var_dir``; ``kafka``/``redis`` say which to start (False = configured elsewhere);
    ``persist_redis`` gives Valkey an append-only file in ``var_dir/valkey`` (see the module docstring)."""

    var_dir: Path
    kafka: bool = True
    redis: bool = True
    persist_redis: bool = False
    kafka_storage: str = "memory"  # or "seaweedfs": Tansu on s3:// against a local SeaweedFS (objectstore.py)
    start_timeout_s: float = 20.0
    load_timeout_s: float = 600.0  # a persisted Valkey answers LOADING while it reads its file: bounded, generous
    servers: dict[str, EmbeddedServer] = field(default_factory=dict)
    startup_seconds: float = 0.0
    _locks: list[DataDirLock] = field(default_factory=list, init=False, repr=False)

    @property
    def redis_dir(self) -> Path:
        """Valkey's working folder (its ``appendonlydir`` when persisting)."""
        return (self.var_dir / "valkey").resolve()

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
                if self.kafka_storage not in ("memory", "seaweedfs"):
                    raise StackError(f"embedded kafka storage {self.kafka_storage!r} is unknown: use memory or "
                                     "seaweedfs (BEARWATCH_EMBEDDED_KAFKA_STORAGE)")
                s3_port = self._start_objectstore(logs) if self.kafka_storage == "seaweedfs" else None
                self._start_kafka(logs, s3_port=s3_port)
            if self.redis:
                self._start_redis(logs)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _lock_dir(self, folder: Path, name: str) -> None:
        try:
            self._locks.append(DataDirLock(folder).acquire())
        except DataDirBusy as exc:
            raise StackError(f"embedded {name}: {exc}") from None

    def _start_objectstore(self, logs: Path) -> int:
        """SeaweedFS for Tansu's s3:// storage, data under ``var_dir/seaweedfs``; returns its S3 port."""
        data = (self.var_dir / "seaweedfs").resolve()
        self._lock_dir(data, "seaweedfs")
        argv, s3_port = seaweed_argv(data, HOST)
        self._launch(EmbeddedServer("objectstore", s3_port, logs / "seaweedfs.log", argv,
                                    ready=lambda: bucket_ready(HOST, s3_port), grace_s=30.0))
        return s3_port

    def _start_kafka(self, logs: Path, port: int | None = None, s3_port: int | None = None) -> None:
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
                "memory://tansu/" if s3_port is None else f"s3://{BUCKET}/",
            ],
            env=None if s3_port is None else tansu_s3_env(HOST, s3_port),
        )
        self._launch(server)

    def _start_redis(self, logs: Path, port: int | None = None) -> None:
        port = port or free_port(HOST)
        data = self.redis_dir
        data.mkdir(parents=True, exist_ok=True)
        if self.persist_redis:
            self._lock_dir(data, "redis")
            durability = ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            durability = ["--appendonly", "no"]
        server = EmbeddedServer(
            "redis",
            port,
            logs / "valkey.log",
            [
                str(valkey_binary()),
                "--port", str(port),
                "--bind", HOST,
                "--dir", str(data),
                "--save", "",  # no RDB snapshots: the AOF (when on) is the one copy, compacted by AOF rewrites
                *durability,
                "--daemonize", "no",
                "--protected-mode", "yes",
            ],
        )
        self._launch(server)

    def _launch(self, server: EmbeddedServer) -> None:
        self.servers[server.name] = server
        server.start()
        try:
            self.wait_ready(server.name, stop_if_exited=True)
        except TimeoutError as exc:
            where = f"{HOST}:{server.port}"
            raise StackError(f"embedded {server.name} did not answer on {where}; see {server.log_path}") from exc
        if not server.running():
            raise StackError(f"embedded {server.name} exited at start; see {server.log_path}")

    def wait_ready(self, name: str, *, stop_if_exited: bool = False) -> None:
        """Until the server answers (Valkey: PING). While a persisted Valkey reports LOADING, its file is being
        read, so the wait goes on up to ``load_timeout_s`` instead of ``start_timeout_s``. TimeoutError if not."""
        server = self.servers[name]
        loading = [False]

        def ready() -> bool:
            if stop_if_exited and not server.running():
                return True
            if server.ready is not None:
                return server.ready()
            if name != "redis":
                return port_open(HOST, server.port)
            try:
                with redis.Redis(host=HOST, port=server.port, socket_timeout=0.5) as client:
                    return bool(client.ping())
            except redis.BusyLoadingError:
                loading[0] = True
                return False
            except redis.RedisError:
                return False

        try:
            wait_until(ready, self.start_timeout_s, name)
        except TimeoutError:
            if not loading[0]:
                raise
            wait_until(ready, self.load_timeout_s, f"{name} (loading {self.redis_dir / 'appendonlydir'})")

    def _redis_ready(self) -> bool:
        try:
            return bool(redis.Redis(host=HOST, port=self.servers["redis"].port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def restart(self, name: str) -> None:
        """Stop one server and start it again on the same port (fault-injection tests use this). A persisted
        Valkey reloads its append-only file; the data-folder lock stays held throughout."""
        server = self.servers[name]
        server.stop()
        wait_until(lambda: not port_open(HOST, server.port), 10, f"{name} port release")
        server.start()
        self.wait_ready(name)

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()
        for lock in self._locks:
            lock.release()
        self._locks.clear()

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
