"""Turn a micro-batch of raw Kafka records into ScoredStory messages and dead letters.

Kept apart from Faust so it can be tested alone: it decodes (a record that does not decode becomes a dead
letter with the reason), scores in one model call (retried once on error, then bisected so one poisoned story
cannot stop the stream), and builds the scored contract messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from monitor.ground.contracts import ModelInfo, SchemaError, ScoredStory, SentimentScore, Story, TopicScore, decode
from monitor.stages.worker import metrics

log = logging.getLogger(__name__)

ScoreFn = Callable[[Sequence[str]], Awaitable[Sequence]]  # AsyncEngine.score


@dataclass(frozen=True)
class RawRecord:
    """What the scorer needs of a Kafka record: where it came from (for the dead letter) and its bytes."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None  # Kafka record timestamp, Unix seconds: when the producer sent it


@dataclass(frozen=True)
class DeadLetter:
    record: RawRecord
    reason: str

    def to_json(self, max_payload_chars: int = 2000) -> dict:
        payload = (self.record.value or b"")[:max_payload_chars].decode("utf-8", "replace")
        return {"v": 1, "topic": self.record.topic, "partition": self.record.partition,
                "offset": self.record.offset, "key": (self.record.key or b"").decode("utf-8", "replace"),
                "reason": self.reason, "payload_head": payload, "payload_bytes": len(self.record.value or b"")}


@dataclass
class ScoreOutcome:
    scored: list[ScoredStory] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    produced: list[float | None] = field(default_factory=list)  # aligned with ``scored``: its record's timestamp


class StoryScorer:
    """Decode → score → ScoredStory, for one micro-batch at a time."""

    def __init__(self, score: ScoreFn, model: ModelInfo, max_payload_bytes: int = 256 * 1024) -> None:
        self._score = score
        self._model = model
        self._max_payload_bytes = max_payload_bytes

    async def score_records(self, records: Sequence[RawRecord]) -> ScoreOutcome:
        outcome = ScoreOutcome()
        stories: list[tuple[RawRecord, Story]] = []
        for record in records:
            story = self._decode(record, outcome)
            if story is not None:
                stories.append((record, story))
        if stories:
            await self._score_into(stories, outcome)
        return outcome

    async def score_chunks(self, records: Sequence[RawRecord], chunk_size: int) -> AsyncIterator[ScoreOutcome]:
        """:meth:`score_records` over consecutive chunks of ``records``, one outcome per chunk, in input order.

        Every chunk's model call is submitted before the first outcome is handed out: the calls queue on the engine
        (one thread or one child process, first in first out), so the model works on chunk k+1 while the caller
        publishes chunk k, instead of idling through every publish. Chunks keep input order, and so does what
        the caller produces from them (one partition of a replay stays in event order).
        """
        chunks = [records[start:start + chunk_size] for start in range(0, len(records), max(1, chunk_size))]
        calls = [asyncio.ensure_future(self.score_records(chunk)) for chunk in chunks]
        try:
            for call in calls:
                yield await call
        finally:
            for call in calls:  # the caller stopped early (cancelled, failed): do not leave calls behind
                call.cancel()

    def _decode(self, record: RawRecord, outcome: ScoreOutcome) -> Story | None:
        size = len(record.value or b"")
        if size > self._max_payload_bytes:
            reason = f"payload too large: {size} bytes > {self._max_payload_bytes}"
        else:
            try:
                story = decode(Story, record.value or b"")
            except SchemaError as exc:
                reason = str(exc)
            else:
                if not story.text.strip():
                    metrics.EMPTY_TEXTS.inc()
                return story
        log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        outcome.dead.append(DeadLetter(record, reason))
        return None

    async def _score_into(self, stories: list[tuple[RawRecord, Story]], outcome: ScoreOutcome) -> None:
        texts = [story.text for _, story in stories]
        results = await self._score_with_retry(texts)
        if results is None:
            if len(stories) == 1:
                outcome.dead.append(DeadLetter(stories[0][0], "model error on this story (retried, isolated)"))
                return
            middle = len(stories) // 2
            await self._score_into(stories[:middle], outcome)
            await self._score_into(stories[middle:], outcome)
            return
        for (record, story), result in zip(stories, results, strict=True):
            if result.truncated:
                metrics.TRUNCATED.inc()
            metrics.STORIES_SCORED.labels(result.topic, result.sentiment).inc()
            outcome.scored.append(ScoredStory(
                **story.model_dump(), topic=TopicScore(**result.topic_fields()),
                sentiment=SentimentScore(**result.sentiment_fields()), model=self._model,
            ))
            outcome.produced.append(record.timestamp)

    async def _score_with_retry(self, texts: list[str]) -> Sequence | None:
        for attempt in (1, 2):
            began = time.perf_counter()
            try:
                results = await self._score(texts)
            except Exception:  # noqa: BLE001 - any model failure is retried, then isolated by bisection
                metrics.MODEL_ERRORS.inc()
                log.exception("model failed on a batch of %d (attempt %d)", len(texts), attempt)
                continue
            metrics.MODEL_LATENCY.observe(time.perf_counter() - began)
            return results
        return None
