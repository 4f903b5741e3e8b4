"""``bearwatch doctor``: one table that says, for each part, OK or the exact problem and how to fix it.

It only reads and connects; it never starts servers or sends alerts (webhook targets get a TCP probe, not a
request), so it is safe to run against production.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.table import Table

from monitor.ground.cli_support import console
from monitor.ground.kafka import KafkaUnavailable, check_kafka
from monitor.ground.redact import redact_text
from monitor.ground.redis import PROBE, redis_client
from monitor.ground.running import attach
from monitor.ground.settings import Settings, SettingsError, load_settings, unknown_env_vars
from monitor.ground.stack.binaries import MissingBinaryError, tansu_binary, valkey_binary
from monitor.ground.stack.durability import broker_durability, redis_durability
from monitor.ground.stack.objectstore import seaweed_binary


@dataclass
class Finding:
    part: str
    ok: bool
    detail: str


def run_doctor(config: Path | None) -> int:
    findings: list[Finding] = []
    try:
        settings = attach(load_settings(config))  # a running `bearwatch up` here is what gets checked
        findings.append(Finding("settings", True, str(config) if config else "defaults + BEARWATCH_* env"))
        findings += [Finding("settings", False, line + ": remove or rename it") for line in unknown_env_vars()]
    except SettingsError as exc:
        findings.append(Finding("settings", False, str(exc)))
        return _report(findings)
    findings += asyncio.run(_check_all(settings))
    return _report(findings)


async def _check_all(settings: Settings) -> list[Finding]:
    results = await asyncio.gather(
        _kafka(settings), _redis(settings), _http("prometheus", settings.prometheus_url, "/-/ready",
                                                   "BEARWATCH_PROMETHEUS_URL"),
        _http("grafana", settings.grafana_url, "/api/health", "BEARWATCH_GRAFANA_URL"),
    )
    return [results[0], results[1], _model(settings), results[2], results[3], *_webhooks(settings)]


async def _kafka(settings: Settings) -> Finding:
    if settings.kafka_url is None:
        try:
            where = f"embedded Tansu will start ({tansu_binary()})"
            if settings.embedded_kafka_storage == "seaweedfs":
                where += f" on SeaweedFS ({seaweed_binary()})"
            data = broker_durability(settings.embedded_kafka_storage, (settings.var_dir / "seaweedfs").resolve())
            return Finding("kafka", True, f"{where}; {data}")
        except MissingBinaryError as exc:
            return Finding("kafka", False, str(exc))
    try:
        topics = await check_kafka(settings.kafka_url)
    except KafkaUnavailable as exc:
        return Finding("kafka", False, f"{exc}: start the broker or fix BEARWATCH_KAFKA_URL")
    missing = [name for name in settings.topics.all() if name not in topics]
    detail = f"{settings.kafka_url}: reachable"
    if missing:
        detail += f"; topics {', '.join(missing)} will be created by `bearwatch up`"
    return Finding("kafka", True, detail)


async def _redis(settings: Settings) -> Finding:
    if settings.redis_url is None:
        try:
            data = redis_durability(settings.embedded_redis_persist, (settings.var_dir / "valkey").resolve())
            return Finding("redis", True, f"embedded Valkey will start ({valkey_binary()}); data: {data}")
        except MissingBinaryError as exc:
            return Finding("redis", False, str(exc))
    client = redis_client(settings.redis_url, PROBE)
    try:
        info = await client.info("server")
        persistence = await client.info("persistence")
        kept = ("AOF on" if persistence.get("aof_enabled") else "AOF off: windows and queued alerts live in memory "
                "until the next RDB snapshot; run it with --appendonly yes (docker-compose.yml does)")
        return Finding("redis", True, f"{settings.redis_url}: version {info.get('redis_version', '?')}; {kept}")
    except Exception as exc:  # noqa: BLE001
        return Finding("redis", False, f"{settings.redis_url} unreachable ({type(exc).__name__}): start Redis or "
                                       "fix BEARWATCH_REDIS_URL")
    finally:
        await client.aclose()


def _model(settings: Settings) -> Finding:
    path = settings.model_path
    if not path.is_dir():
        return Finding("model", False, f"{path} does not exist: run `bearwatch train` or set BEARWATCH_MODEL_PATH")
    labels = path / "label_maps.json"
    weights = list(path.glob("*.safetensors"))
    if not weights:
        return Finding("model", False, f"{path} has no *.safetensors weights: retrain or point BEARWATCH_MODEL_PATH "
                                       "at a model directory")
    detail = f"{path} ({sum(w.stat().st_size for w in weights) / 1e6:.0f} MB)"
    if labels.is_file():
        heads = json.loads(labels.read_text())
        detail += "; heads: " + ", ".join(f"{k} ({len(v)})" for k, v in heads.items() if isinstance(v, list))
    return Finding("model", True, detail)


async def _http(part: str, url: str | None, path: str, env: str) -> Finding:
    if not url:
        return Finding(part, True, f"not configured (optional; set {env})")
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(url.rstrip("/") + path)
        if response.status_code < 400:
            return Finding(part, True, f"{url}: {response.status_code}")
        return Finding(part, False, f"{url}{path} answered {response.status_code}: check {env} and credentials")
    except httpx.HTTPError as exc:
        return Finding(part, False, f"{url} unreachable ({type(exc).__name__}): start it or fix {env}")


def _webhooks(settings: Settings) -> list[Finding]:
    if not settings.webhooks:
        return [Finding("webhooks", True, "none configured (alerts are stored but not delivered; "
                                          "set BEARWATCH_WEBHOOKS)")]
    findings = []
    for target in settings.webhooks:
        parts = urlsplit(target.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=3):
                findings.append(Finding(f"webhook {target.name}", True, f"{target.kind} → {parts.hostname}:{port} "
                                        "accepts connections"))
        except OSError as exc:
            reason = exc.strerror or exc
            findings.append(Finding(f"webhook {target.name}", False, f"{target.url} unreachable ({reason}): "
                                    "check the URL; alerts wait in the outbox until it answers"))
    return findings


def _report(findings: list[Finding]) -> int:
    table = Table(title="bearwatch doctor")
    table.add_column("part")
    table.add_column("status")
    table.add_column("detail / fix")
    for finding in findings:
        table.add_row(finding.part, "[green]OK[/]" if finding.ok else "[red]FAIL[/]", redact_text(finding.detail))
    console.print(table)
    return 0 if all(finding.ok for finding in findings) else 1
