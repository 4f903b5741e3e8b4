"""Exact and near-duplicate de-duplication of stories, with its state in Redis.

Exact: a story whose id was already produced is dropped. The id is marked "seen" (with a TTL) only after the
broker acknowledged the story (:meth:`Deduplicator.mark_seen`), so a crash or a broker outage between poll and
acknowledgement re-sends the story instead of losing it. Until then the id is *pending* in this process, so a
second poll cannot queue it twice. An updated entry keeps its id and is therefore not a new story.

Near-duplicate: the same story syndicated or retitled is not dropped but joins a *cluster* (MinHash/LSH over title
shingles, :mod:`consumers.minhash`); ``novelty`` = 1 / (1 + earlier members), so downstream novelty-weighted
counts see one event, not ten. The assignment runs as one Lua script: atomic across ingest processes and
idempotent by story id (a re-sent story gets the cluster and novelty it had the first time).

Nothing here talks HTTP or Kafka: the replay of historical files uses the same class on its own namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from redis.typing import EncodableT

from consumers import minhash
from monitor.ground.contracts import Story

_LUA = Path(__file__).with_name("neardup.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Admitted:
    """Outcome of :meth:`Deduplicator.admit`: stories to produce (with cluster and novelty) and what was dropped."""

    stories: list[Story]
    duplicates: list[Story]

    @property
    def near_duplicates(self) -> list[Story]:
        return [story for story in self.stories if story.novelty < 1.0]


class Deduplicator:
    def __init__(
        self,
        redis: aioredis.Redis,
        namespace: str,
        *,
        seen_ttl_s: int = 30 * 86400,
        window_s: int = 2 * 86400,
        threshold: float = 0.5,
    ) -> None:
        self.redis = redis
        self.prefix = f"{namespace}:ingest:"
        self.seen_ttl_s = seen_ttl_s
        self.window_s = window_s
        self.threshold = threshold
        self._pending: set[str] = set()
        self._script = redis.register_script(_LUA)

    def _seen_key(self, story_id: str) -> str:
        return f"{self.prefix}seen:{story_id}"

    async def seen(self, ids: list[str]) -> set[str]:
        """Ids already produced (in Redis) or queued in this process and not yet acknowledged."""
        if not ids:
            return set()
        stored = await self.redis.mget([self._seen_key(story_id) for story_id in ids])
        return {story_id for story_id, value in zip(ids, stored, strict=True) if value is not None} | (
            self._pending & set(ids)
        )

    async def admit(self, stories: list[Story], near_dup: bool = True) -> Admitted:
        """Drop exact duplicates, assign clusters to the rest and reserve their ids as pending."""
        already = await self.seen([story.id for story in stories])
        fresh: list[Story] = []
        duplicates: list[Story] = []
        batch_ids: set[str] = set()
        for story in stories:
            if story.id in already or story.id in batch_ids:
                duplicates.append(story)
            else:
                batch_ids.add(story.id)
                fresh.append(story)
        clustered = await self._assign_clusters(fresh, near_dup)
        self._pending.update(batch_ids)
        return Admitted(clustered, duplicates)

    async def mark_seen(self, ids: list[str]) -> None:
        """Record acknowledged ids in Redis; only then are they dropped on the next poll or after a restart."""
        if not ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for story_id in ids:
                pipe.set(self._seen_key(story_id), 1, ex=self.seen_ttl_s)
            await pipe.execute()
        self._pending.difference_update(ids)

    def release(self, ids: list[str]) -> None:
        """Forget pending ids that will not be produced (shutdown), so a later poll may queue them again."""
        self._pending.difference_update(ids)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def _assign_clusters(self, stories: list[Story], near_dup: bool) -> list[Story]:
        comparable = [story for story in stories if near_dup and minhash.comparable(story.title)]
        if not comparable:
            return [story.model_copy(update={"cluster": story.id, "novelty": 1.0}) for story in stories]
        nd = f"{self.prefix}nd:"
        async with self.redis.pipeline(transaction=False) as pipe:
            for story in comparable:
                values = minhash.signature(story.title)
                keys = [f"{nd}of:{story.id}"] + [
                    f"{nd}b:{band}:{digest}" for band, digest in enumerate(minhash.band_hashes(values))
                ]
                args: list[EncodableT] = [story.id, minhash.signature_hex(values), self.threshold, self.window_s, nd]
                await self._script(keys=keys, args=args, client=pipe)
            results = await pipe.execute()
        assigned = {
            story.id: (_text(result[0]), int(result[1])) for story, result in zip(comparable, results, strict=True)
        }
        out = []
        for story in stories:
            cluster, repeats = assigned.get(story.id, (story.id, 0))
            out.append(story.model_copy(update={"cluster": cluster, "novelty": 1.0 / (1 + repeats)}))
        return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
