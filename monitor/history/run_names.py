"""Run ids and what they namespace: the Redis namespace and the replay's own Kafka topics.

Every replay or backtest run gets ``<redis_namespace>:run:<run id>`` in Redis and, for a Kafka replay, the topics
``bearwatch.replay.<run id>.raw/.scored/.alerts/.deadletter`` with ONE partition each. One partition keeps event
order from the producer through the score and aggregate agents, which is what makes the Kafka replay deterministic
and equal to the in-process backtest; separate names keep runs away from live data and from each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alerts.rules import Rule, load_rules
from monitor.ground.errors import BearwatchError
from monitor.ground.settings import Settings, TopicNames

#: The folders under ``var_dir`` that hold each kind of run's output, one sub-folder per run id.
REPLAYS, BACKTESTS = "replays", "backtests"

RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


class RunIdError(ValueError, BearwatchError):
    """A run id that cannot name a Redis namespace and Kafka topics."""


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise RunIdError(f"run id {run_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    return run_id


def _slug(path: Path) -> str:
    return (_SLUG.sub("-", path.stem).strip("-.") or "run")[:36]


def content_run_id(path: Path) -> str:
    """Default replay run id: file name + content hash, so replaying the same file again is the same run."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"{_slug(path)}-{digest.hexdigest()[:8]}"


def timestamp_run_id(path: Path) -> str:
    """Default backtest run id: file name + UTC time, so every backtest starts fresh."""
    return f"{_slug(path)}-{datetime.now(UTC):%Y%m%dT%H%M%S}"


@dataclass(frozen=True)
class RunNames:
    """Names owned by one run."""

    run_id: str
    base_namespace: str

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @property
    def namespace(self) -> str:
        return f"{self.base_namespace}:run:{self.run_id}"

    @property
    def topics(self) -> TopicNames:
        prefix = f"bearwatch.replay.{self.run_id}"
        return TopicNames(raw=f"{prefix}.raw", scored=f"{prefix}.scored", alerts=f"{prefix}.alerts",
                          deadletter=f"{prefix}.deadletter")

    def settings(self, settings: Settings, rules_file: Path | None = None) -> Settings:
        """``settings`` for this run: its namespace and topics, one partition, no webhooks, the run's rules."""
        return settings.model_copy(update={
            "redis_namespace": self.namespace,
            "topics": self.topics,
            "topic_partitions": 1,
            "webhooks": [],
            "grafana_url": None,
            "grafana_token": None,
            "rules_file": rules_file if rules_file is not None else settings.rules_file,
        })


def default_out_dir(settings: Settings, kind: str, run_id: str) -> Path:
    """Where a run writes when ``--out`` is not given: ``<var_dir>/<kind>/<run id>``."""
    return settings.var_dir / kind / run_id


@dataclass(frozen=True)
class RunSetup:
    """What a replay and a backtest both start from: the run's names, its own settings, its rules, its folder."""

    names: RunNames
    settings: Settings
    rules: list[Rule]
    out_dir: Path


def set_up_run(settings: Settings, run_id: str, rules_file: Path | None, out_dir: Path | None,
               kind: str) -> RunSetup:
    """Names, settings and rules of run ``run_id``; its output folder (``out_dir`` or the default of ``kind``)
    is created."""
    names = RunNames(run_id, settings.redis_namespace)
    run_settings = names.settings(settings, rules_file)
    folder = out_dir or default_out_dir(settings, kind, names.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return RunSetup(names, run_settings, load_rules(run_settings.rules_file), folder)
