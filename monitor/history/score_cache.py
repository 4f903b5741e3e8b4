"""Model scores on disk, keyed by (model key, story id), so a second backtest of a file takes seconds.

Scoring is the slow part of a backtest (~100 texts/s on a laptop CPU); rules are what people iterate on. The
cache is one SQLite file (default ``var/cache/scores.sqlite``). A row is used only if the story's text is still
the one that was scored (its SHA-256 is stored with it), so a changed normaliser never serves a stale score.
The model key is the model's weights version plus everything else that changes a score (``max_tokens``, int8,
device class): ``93e1953155a7|t64|fp32|cpu``.

:class:`CachingScore` is a drop-in ``score(texts)`` for :class:`monitor.stages.worker.scoring.StoryScorer`: the worker's
own scorer builds the ScoredStory from cached or fresh :class:`ScoredText` alike, and the engine is loaded only
on the first miss. SQLite calls run in a worker thread, inference on the engine's own thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from monitor.ground.contracts import Story
from monitor.stages.model.engine import AsyncEngine, Engine, ScoredText

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    model TEXT NOT NULL, story_id TEXT NOT NULL, text_sha TEXT NOT NULL,
    topic TEXT NOT NULL, topic_p REAL NOT NULL, sentiment TEXT NOT NULL, score REAL NOT NULL,
    p_pos REAL NOT NULL, p_neu REAL NOT NULL, p_neg REAL NOT NULL, truncated INTEGER NOT NULL,
    PRIMARY KEY (model, story_id)
) WITHOUT ROWID
"""
_FIELDS = ("topic", "topic_p", "sentiment", "score", "p_pos", "p_neu", "p_neg", "truncated")


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class ScoreCache:
    """Example::

        cache = ScoreCache(Path("var/cache/scores.sqlite"))
        found = cache.get("93e1953155a7|t64|fp32|cpu", [(story.id, text_sha(story.text))])
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get(self, model: str, keys: Sequence[tuple[str, str]]) -> dict[str, ScoredText]:
        """Cached results by story id, for ``(story id, text sha)`` pairs whose text is unchanged."""
        wanted = dict(keys)
        found: dict[str, ScoredText] = {}
        ids = list(wanted)
        with self._lock:
            for offset in range(0, len(ids), 500):
                chunk = ids[offset:offset + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT story_id, text_sha, {', '.join(_FIELDS)} FROM scores "
                    f"WHERE model = ? AND story_id IN ({marks})", [model, *chunk]).fetchall()
                for story_id, sha, *values in rows:
                    if wanted.get(story_id) == sha:
                        values[-1] = bool(values[-1])
                        found[story_id] = ScoredText(*values)
        return found

    def put(self, model: str, rows: Sequence[tuple[str, str, ScoredText]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(model, story_id, sha, r.topic, r.topic_p, r.sentiment, r.score, r.p_pos, r.p_neu, r.p_neg,
                  int(r.truncated)) for story_id, sha, r in rows])
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachingScore:
    """``score(texts)`` over the cache and a lazily loaded engine. Call :meth:`expect` with a batch's stories
    first: the cache is keyed by story id, and ``StoryScorer`` hands over texts only."""

    def __init__(self, cache: ScoreCache, model_key: str, load_engine: Callable[[], Engine]) -> None:
        self.cache = cache
        self.model_key = model_key
        self._load_engine = load_engine
        self._engine: AsyncEngine | None = None
        self._ids: dict[str, list[str]] = {}
        self.hits = 0
        self.misses = 0

    def expect(self, stories: Sequence[Story]) -> None:
        self._ids = {}
        for story in stories:
            self._ids.setdefault(story.text, []).append(story.id)

    async def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = AsyncEngine(await asyncio.to_thread(self._load_engine))
        return self._engine

    async def score(self, texts: Sequence[str]) -> list[ScoredText]:
        shas = {text: text_sha(text) for text in texts}
        keys = [(story_id, shas[text]) for text in dict.fromkeys(texts) for story_id in self._ids.get(text, [])]
        cached = await asyncio.to_thread(self.cache.get, self.model_key, keys)
        by_text: dict[str, ScoredText] = {}
        for text in texts:
            hit = next((cached[i] for i in self._ids.get(text, []) if i in cached), None)
            if hit is not None:
                by_text[text] = hit
        missing = [text for text in dict.fromkeys(texts) if text not in by_text]
        if missing:
            fresh = await (await self.engine()).score(missing)
            by_text.update(zip(missing, fresh, strict=True))
            rows = [(story_id, shas[text], result) for text, result in zip(missing, fresh, strict=True)
                    for story_id in self._ids.get(text, [])]
            await asyncio.to_thread(self.cache.put, self.model_key, rows)
        scored_now = set(missing)
        misses = sum(1 for text in texts if text in scored_now)
        self.hits += len(texts) - misses
        self.misses += misses
        return [by_text[text] for text in texts]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
