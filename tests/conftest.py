"""Shared fixtures: one real Tansu broker and one real Valkey server for the whole test session.

They are started by the same launcher ``bearwatch up`` uses (``monitor.ground.stack.EmbeddedStack``). Tests isolate
themselves by unique topic names and Redis namespaces (fixtures below), never by flushing shared state.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from monitor.ground.kafka import ensure_topics
from monitor.ground.settings import Settings, TopicNames, load_settings
from monitor.ground.stack import EmbeddedStack

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repo: third-party data is read from there, never copied in."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the tests read third-party data from ../shared/data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """A real Tansu broker and a real Valkey server on free loopback ports."""
    with EmbeddedStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names, Redis namespaces and consumer groups of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def make_settings(stack: EmbeddedStack, unique: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings pointing at the session stack, with this test's own topics and Redis namespace."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "kafka_url": stack.kafka_url,
            "redis_url": stack.redis_url,
            "var_dir": tmp_path / "var",
            "topics": TopicNames(
                raw=f"t{unique}.raw", scored=f"t{unique}.scored", alerts=f"t{unique}.alerts",
                deadletter=f"t{unique}.dead",
            ),
            "redis_namespace": f"test{unique}",
            "topic_partitions": 2,
        }
        values.update(overrides)
        return load_settings(None, **values)

    return build


@pytest.fixture
async def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings, with their four topics already created on the broker."""
    built = make_settings()
    await ensure_topics(built.kafka_url or "", built)
    return built


@pytest.fixture
async def redis_client(stack: EmbeddedStack) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(stack.redis_url)
    try:
        yield client
    finally:
        await client.aclose()
