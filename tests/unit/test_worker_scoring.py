"""The scorer on its own: dead letters with reasons, order kept, and a poisoned story isolated by bisection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ground.contracts import ModelInfo, Story, encode
from monitor.stages.model.engine import AsyncEngine, Engine
from monitor.stages.worker.scoring import RawRecord, StoryScorer
from tests.support.worker_fixtures import tiny_model_dir  # noqa: F401 - fixture

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _record(offset: int, value: bytes) -> RawRecord:
    return RawRecord("raw", 0, offset, f"k{offset}".encode(), value)


def _story(i: int, title: str) -> bytes:
    return encode(Story(id=f"s{i}", source="test", title=title, published_at=NOW, fetched_at=NOW))


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> AsyncEngine:  # noqa: F811
    return AsyncEngine(Engine(tiny_model_dir, batch_size=8, max_tokens=32))


async def test_bad_records_become_dead_letters_and_good_ones_are_scored_in_order(engine: AsyncEngine) -> None:
    scorer = StoryScorer(engine.score, ModelInfo(name="tiny", version="1"), max_payload_bytes=10_000)
    records = [
        _record(0, _story(0, "Shares of Acme slump after profit warning")),
        _record(1, b"{not json"),
        _record(2, b'{"v":1,"id":"x","title":"no source"}'),
        _record(3, _story(3, "x" * 20_000)),
        _record(4, _story(4, "")),
        _record(5, _story(5, "Fed holds rates steady")),
    ]
    outcome = await scorer.score_records(records)
    assert [story.id for story in outcome.scored] == ["s0", "s4", "s5"]
    reasons = {letter.record.offset: letter.reason for letter in outcome.dead}
    assert set(reasons) == {1, 2, 3}
    assert "<json>" in reasons[1] and "'source'" in reasons[2] and "too large" in reasons[3]
    for story in outcome.scored:
        assert -1 <= story.sentiment.score <= 1
        assert story.sentiment.score == pytest.approx(story.sentiment.p_pos - story.sentiment.p_neg, abs=1e-6)


async def test_one_poisoned_story_is_isolated_and_the_rest_are_scored(engine: AsyncEngine) -> None:
    calls: list[int] = []

    async def flaky(texts: Sequence[str]):
        calls.append(len(texts))
        if any("POISON" in text for text in texts):
            raise RuntimeError("CUDA error: device-side assert (simulated)")
        return await engine.score(texts)

    scorer = StoryScorer(flaky, ModelInfo(name="tiny", version="1"))
    records = [_record(i, _story(i, "POISON" if i == 5 else f"Story number {i}")) for i in range(8)]
    outcome = await scorer.score_records(records)
    assert sorted(story.id for story in outcome.scored) == [f"s{i}" for i in range(8) if i != 5]
    assert [letter.record.offset for letter in outcome.dead] == [5]
    assert "model error" in outcome.dead[0].reason
    assert calls[:2] == [8, 8], "the whole batch is retried once before bisecting"
