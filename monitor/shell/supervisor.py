"""``bearwatch up``: bring up the stack and every service, serve ``/health``, and stop it all on one signal.

Order of start: embedded servers (only those without a configured URL) → topics → services → ``/health``.
Order of stop is the reverse. Children are bound to this process with PDEATHSIG, so even a SIGKILL of ``up``
leaves no orphan behind.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from monitor.ground.cli_support import console, err_console
from monitor.ground.kafka import KafkaUnavailable, check_kafka, ensure_topics
from monitor.ground.redis import PROBE, redis_client
from monitor.ground.running import clear_state, preflight, write_state
from monitor.ground.settings import Settings
from monitor.ground.stack import EmbeddedStack, StackError
from monitor.ground.stack.binaries import MissingBinaryError
from monitor.ground.stack.durability import embedded_broker_durability, embedded_redis_durability
from monitor.shell.health import health_app, serve
from monitor.shell.services import Service, available_services, service_command, service_env

log = logging.getLogger(__name__)


def run_up(settings: Settings, config: Path | None) -> int:
    """Run until SIGINT/SIGTERM; return the process exit code."""
    began = time.monotonic()
    problem = preflight(settings)  # a live `up` here, or a port taken: one line, before anything starts
    if problem:
        err_console.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
        return 2
    stack = EmbeddedStack(settings.var_dir, kafka=settings.kafka_url is None, redis=settings.redis_url is None,
                          persist_redis=settings.embedded_redis_persist, kafka_storage=settings.embedded_kafka_storage)
    try:
        stack.start()
    except (StackError, MissingBinaryError, TimeoutError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2
    try:
        kafka_url = settings.kafka_url or stack.kafka_url
        redis_url = settings.redis_url or stack.redis_url
        return asyncio.run(_up(settings, config, kafka_url, redis_url, stack, began))
    finally:
        clear_state(settings)
        stack.stop()
        console.print("[green]stopped[/]: every service and embedded server is down")


async def _up(settings: Settings, config: Path | None, kafka_url: str, redis_url: str,
              stack: EmbeddedStack, began: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    try:
        await ensure_topics(kafka_url, settings)
        await _check_redis(redis_url, settings)
    except (KafkaUnavailable, ConnectionError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 2

    env = service_env(kafka_url, redis_url)
    services = [
        Service(name, service_command(name, config), env, settings.var_dir / "logs" / f"{name}.log")
        for name in available_services()
    ]
    health_urls = {
        "worker": f"http://{settings.http_host}:{settings.worker_port}/health",
        "ingest": f"http://{settings.http_host}:{settings.ingest_port}/health",
    }
    for service in services:
        await service.start()
    supervisors = [asyncio.create_task(service.supervise()) for service in services]

    checks = {
        "kafka": lambda: _kafka_state(kafka_url),
        "redis": lambda: _redis_state(redis_url),
        **{service.name: _service_check(service, health_urls.get(service.name)) for service in services},
    }
    try:
        runner = await serve(health_app(checks), settings.http_host, settings.http_port)
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] cannot serve /health on {settings.http_host}:{settings.http_port} "
                          f"({exc.strerror or exc}): set BEARWATCH_HTTP_PORT to a free port", highlight=False)
        await asyncio.gather(*(service.stop() for service in services))
        for task in supervisors:
            task.cancel()
        return 2
    write_state(settings, kafka_url, redis_url)  # other terminals' commands find the stack through this
    _print_banner(settings, stack, kafka_url, redis_url, services, time.monotonic() - began)

    await stop.wait()
    console.print("stopping…")
    await runner.cleanup()
    await asyncio.gather(*(service.stop() for service in services))
    for task in supervisors:
        task.cancel()
    return 0


def _service_check(service: Service, health_url: str | None):  # noqa: ANN202 - closure factory
    """The child's process state, plus its own /health answer when it serves one."""

    async def check() -> dict[str, Any]:
        state = service.state()
        if not state["ok"] or health_url is None:
            return state
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(health_url)
            state["health"] = response.json()
            state["ok"] = response.status_code == 200
        except (httpx.HTTPError, ValueError) as exc:
            state.update(ok=False, health=f"{health_url} did not answer ({type(exc).__name__}); still starting?")
        return state

    return check


async def _check_redis(redis_url: str, settings: Settings) -> None:
    client = redis_client(redis_url, PROBE)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001
        fix = ("start that server or unset BEARWATCH_REDIS_URL to use the embedded one" if settings.redis_url
               else "the embedded Valkey did not answer; see var/logs/valkey.log")
        raise ConnectionError(f"Redis at {redis_url} is unreachable ({type(exc).__name__}): {fix}") from exc
    finally:
        await client.aclose()


async def _kafka_state(kafka_url: str) -> dict[str, Any]:
    topics = await check_kafka(kafka_url, timeout_s=2.5)
    return {"ok": True, "url": kafka_url, "topics": len(topics)}


async def _redis_state(redis_url: str) -> dict[str, Any]:
    client = redis_client(redis_url, PROBE)
    try:
        await client.ping()
        return {"ok": True, "url": redis_url}
    finally:
        await client.aclose()


def _print_banner(settings: Settings, stack: EmbeddedStack, kafka_url: str, redis_url: str,
                  services: list[Service], elapsed: float) -> None:
    table = Table(title=f"Bearwatch is up ({elapsed:.1f} s)", show_header=True)
    table.add_column("part")
    table.add_column("where")
    embedded = set(stack.servers)
    in_memory = "kafka" in embedded and stack.kafka_storage == "memory"
    table.add_row("Kafka" + ((" (embedded Tansu, in memory)" if in_memory else " (embedded Tansu on SeaweedFS)")
                             if "kafka" in embedded else ""), kafka_url)
    table.add_row("Redis" + (" (embedded Valkey)" if "redis" in embedded else ""), redis_url)
    if "redis" in embedded:
        table.add_row("Redis data", embedded_redis_durability(stack))
    for service in services:
        table.add_row(f"service {service.name}", f"pid {service.state()['pid']}, log {service.log_path}")
    table.add_row("health", f"http://{settings.http_host}:{settings.http_port}/health")
    if any(service.name == "worker" for service in services):
        table.add_row("status page", f"http://{settings.http_host}:{settings.worker_port}/")
    console.print(table)
    if "kafka" in embedded:
        console.print(f"[yellow]note:[/] {embedded_broker_durability(stack)}" if in_memory
                      else f"Kafka data: {embedded_broker_durability(stack)}")
    console.print("Press Ctrl-C to stop everything.")
