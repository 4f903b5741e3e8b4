"""The scorer's chunked calls: outcomes in input order, and every chunk's model call queued before the first is used.

The second property is what keeps the model busy while the score agent publishes a chunk; a version that scored a
chunk only when asked for it would leave the model idle through every publish, and this test would see one call
submitted at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from monitor.ground.contracts import ModelInfo, Story, encode
from monitor.stages.model.results import ScoredText
from monitor.stages.worker.scoring import RawRecord, StoryScorer

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _record(i: int) -> RawRecord:
    story = Story(id=f"s{i}", source="test", title=f"headline number {i}", published_at=NOW, fetched_at=NOW)
    return RawRecord("raw", 0, i, f"k{i}".encode(), encode(story))


def _result(text: str) -> ScoredText:
    return ScoredText(topic="Markets", topic_p=0.9, sentiment="neutral", score=0.0, p_pos=0.1, p_neu=0.8,
                      p_neg=0.1, truncated=False)


async def test_all_chunk_calls_are_queued_before_the_first_outcome_is_used_and_order_is_kept() -> None:
    submitted: list[int] = []
    release = asyncio.Event()

    async def model(texts: Sequence[str]) -> list[ScoredText]:
        submitted.append(len(texts))
        await release.wait()  # a model that is still busy with the first chunk
        return [_result(text) for text in texts]

    scorer = StoryScorer(model, ModelInfo(name="fake", version="1"))
    records = [_record(i) for i in range(10)]
    chunks = scorer.score_chunks(records, chunk_size=4)
    first = asyncio.ensure_future(anext(chunks))
    await asyncio.sleep(0)  # let the chunk tasks start
    for _ in range(100):  # each task decodes, then submits: give them a few loop turns, no wall-clock wait
        if len(submitted) == 3:
            break
        await asyncio.sleep(0)
    assert submitted == [4, 4, 2], "every chunk's call should be queued before the first result is consumed"
    release.set()
    outcomes = [await first] + [outcome async for outcome in chunks]
    assert [[story.id for story in outcome.scored] for outcome in outcomes] == [
        ["s0", "s1", "s2", "s3"], ["s4", "s5", "s6", "s7"], ["s8", "s9"]]


async def test_stopping_early_cancels_the_calls_not_yet_used() -> None:
    started = 0

    async def model(texts: Sequence[str]) -> list[ScoredText]:
        nonlocal started
        started += 1
        if started > 1:
            await asyncio.Event().wait()  # never finishes unless cancelled
        return [_result(text) for text in texts]

    scorer = StoryScorer(model, ModelInfo(name="fake", version="1"))
    chunks = scorer.score_chunks([_record(i) for i in range(6)], chunk_size=2)
    first = await anext(chunks)
    assert [story.id for story in first.scored] == ["s0", "s1"]
    await chunks.aclose()  # the agent was cancelled after one chunk
    pending = [task for task in asyncio.all_tasks() if "score_records" in repr(task.get_coro())]
    for task in pending:  # cancellation is delivered on the next loop turn
        await asyncio.gather(task, return_exceptions=True)
    assert all(task.cancelled() for task in pending)
