"""How the harness deploys Bearwatch: the run's sizes and knobs, the feed registry, the rules and the services'
environment, written exactly as an operator would (a feeds TOML, a rules TOML, ``BEARWATCH_*`` variables).

The one rule fires on ticker bursts of negative news; the shipped rules are switched off so the offline oracle in
``books.py`` replays a single-rule detector. The feed engine's timeouts are short so a hostile feed is cut within
seconds, and every publisher has its own port, i.e. its own host for the consumers' politeness gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from monitor.ground.settings import DEFAULT_MODEL_PATH
from monitor.ground.stack.process import free_port
from monitor.shell.services import service_env

SECRET = "resilience-secret"
CHANNEL = "receiver"
RULE_WINDOW_S = 300
SHIPPED_RULES_OFF = ("ticker_negative_burst", "ticker_very_negative", "topic_negative_surge")
RULES = """# The harness's one rule (shipped rules are switched off, so the offline oracle is a single-rule detector).
[[rule]]
name = "resilience_burst"
scope = "ticker"
window = "5m"
min_volume = 3
negative_share_above = 0.5
for = "1m"
cooldown = "2m"
repeat_interval = "0"
severity = "warning"
annotations = { summary = "{key}: {negative_share:.0%} negative over {window}" }

[[rule]]
name = "market_negative_shift"
scope = "market"
enabled = false
negative_share_above = 0.5
""" + "".join(f'\n[[rule]]\nname = "{name}"\nscope = "ticker"\nenabled = false\nnegative_share_above = 0.5\n'
              for name in SHIPPED_RULES_OFF)


@dataclass
class HarnessConfig:
    """Sizes and knobs of one run. Defaults suit a short CI scenario on a 2-core machine."""

    workdir: Path
    model_path: Path = DEFAULT_MODEL_PATH
    partitions: int = 4
    publishers: int = 3
    feeds_per_publisher: int = 2
    feed_window: int = 400  # items a feed carries; older ones fall off (as on real feeds)
    feed_interval_s: float = 1.0
    hostile: tuple[str, ...] = ()
    speed: float = 60.0  # event seconds per wall second
    bucket_seconds: int = 60
    allowed_lateness_s: int = 900
    batch_size: int = 32
    batch_max_wait_s: float = 0.25
    cpu_threads: int = 1
    alert_backoff_base_s: float = 0.5
    alert_backoff_max_s: float = 4.0
    alert_max_attempts: int = 200
    alert_group_wait_s: float = 1.0
    namespace: str = "rs"
    persist_redis: bool = True  # the embedded Valkey's append-only file, as `bearwatch up` runs it by default
    kafka_storage: str = "memory"  # the embedded Tansu's storage, as `bearwatch up` runs it by default
    seed: int = 1
    engine: dict[str, float] = field(default_factory=lambda: {
        "connect_timeout_s": 2.0, "read_timeout_s": 5.0, "total_timeout_s": 10.0, "backoff_base_s": 1.0,
        "backoff_max_s": 8.0, "unhealthy_after": 3, "unhealthy_probe_s": 10.0, "delivery_timeout_s": 10.0,
    })


def service_environment(c: HarnessConfig, kafka_url: str, redis_url: str, *, feeds_file: Path, rules_file: Path,
                        receiver_url: str, worker_port: int, ingest_port: int) -> dict[str, str]:
    """The environment of ``bearwatch ingest`` and ``bearwatch worker`` (as ``bearwatch up`` builds it, plus the
    run's settings); any ``BEARWATCH_*`` of the caller's own environment is dropped so it cannot leak in."""
    env = {k: v for k, v in service_env(kafka_url, redis_url).items()
           if not k.startswith("BEARWATCH_") or k in ("BEARWATCH_KAFKA_URL", "BEARWATCH_REDIS_URL")}
    hook = {"name": CHANNEL, "kind": "alertmanager", "url": receiver_url, "secret": SECRET, "timeout_s": 5}
    env.update({
        "BEARWATCH_REDIS_NAMESPACE": c.namespace, "BEARWATCH_TOPIC_PARTITIONS": str(c.partitions),
        "BEARWATCH_MODEL_PATH": str(c.model_path), "BEARWATCH_VAR_DIR": str(feeds_file.parent / "var"),
        "BEARWATCH_MODEL_BATCH": str(c.batch_size), "BEARWATCH_BATCH_MAX_WAIT_S": str(c.batch_max_wait_s),
        "BEARWATCH_BUCKET_SECONDS": str(c.bucket_seconds),
        "BEARWATCH_ALLOWED_LATENESS_S": str(c.allowed_lateness_s), "BEARWATCH_CPU_THREADS": str(c.cpu_threads),
        "BEARWATCH_FEEDS_FILE": str(feeds_file), "BEARWATCH_RULES_FILE": str(rules_file),
        "BEARWATCH_WEBHOOKS": json.dumps([hook]), "BEARWATCH_ALERT_MAX_ATTEMPTS": str(c.alert_max_attempts),
        "BEARWATCH_ALERT_BACKOFF_BASE_S": str(c.alert_backoff_base_s),
        "BEARWATCH_ALERT_BACKOFF_MAX_S": str(c.alert_backoff_max_s),
        "BEARWATCH_ALERT_GROUP_WAIT_S": str(c.alert_group_wait_s),
        "BEARWATCH_WORKER_PORT": str(worker_port), "BEARWATCH_INGEST_PORT": str(ingest_port),
        "BEARWATCH_HTTP_PORT": str(free_port()), "BEARWATCH_LOG_LEVEL": "INFO",
    })
    return env


def write_feeds(path: Path, config: HarnessConfig, feeds: list[tuple[str, str, str]]) -> Path:
    """The feed registry: the engine knobs, a 0.2 s politeness gap per host, and (name, source, url) feeds."""
    lines = ["[engine]"] + [f"{key} = {value}" for key, value in config.engine.items()]
    lines += ["", "[host_default]", "min_gap_s = 0.2", "max_in_flight = 1", ""]
    for name, source, url in feeds:
        lines += ["[[feed]]", f'name = "{name}"', f'source = "{source}"', f'url = "{url}"', 'kind = "rss"',
                  f"interval_s = {config.feed_interval_s}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_rules(path: Path) -> Path:
    path.write_text(RULES, encoding="utf-8")
    return path
