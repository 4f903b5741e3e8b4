"""One poll of one feed, end to end: fetch, parse, normalise, de-duplicate, produce, remember validators.

Every failure is caught here, counted by kind, and reported in one log line that names the feed and the problem;
the line is a warning when the problem is new for that feed and debug while it repeats, so a feed that stays
broken for a day does not flood the log. The poller returns a :class:`PollOutcome`, from which the feed's loop
decides when to poll next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Protocol

from consumers.dedup import Deduplicator
from consumers.entries import NotAFeed
from consumers.fetch import Fetcher, FetchError
from consumers.metrics import (
    BAD_ENTRIES,
    BYTES,
    DUPLICATES,
    ERRORS,
    FEED_PROBLEMS,
    NEAR_DUPLICATES,
    NOT_MODIFIED,
    POLL_SECONDS,
    POLLS,
)
from consumers.reader import read_response
from consumers.registry import EngineConfig, FeedConfig
from consumers.tickers import TickerLinker
from consumers.validators import Validators, ValidatorStore
from monitor.ground.contracts import Story
from monitor.ground.redact import redact_text, remember_secret

log = logging.getLogger(__name__)
ADMIT_CHUNK = 500
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def remember_feed_secrets(feed: FeedConfig) -> None:
    """The values a feed's ``${VAR}`` references bring in are secrets: mask them wherever they would show."""
    for text in (feed.url, *feed.headers.values()):
        for name in _ENV_REF.findall(text):
            remember_secret(os.environ.get(name))


class StorySink(Protocol):
    async def deliver(self, stories: list[Story]) -> None: ...


@dataclass
class PollOutcome:
    feed: str
    status: str  # ok | not_modified | error
    stories: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    rejected: int = 0
    error_kind: str | None = None
    error: str | None = None
    retry_after_s: float | None = None


class FeedPoller:
    def __init__(
        self,
        *,
        engine: EngineConfig,
        fetcher: Fetcher,
        validators: ValidatorStore,
        dedup: Deduplicator,
        sink: StorySink,
        linker: TickerLinker,
    ) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.validators = validators
        self.dedup = dedup
        self.sink = sink
        self.linker = linker
        self._last_problem: dict[str, str] = {}

    async def poll(self, feed: FeedConfig) -> PollOutcome:
        remember_feed_secrets(feed)
        url = feed.resolved_url()
        known = await self.validators.load(url) if self.engine.conditional_get else Validators()
        try:
            result = await self.fetcher.fetch(url, feed.resolved_headers(), known)
        except FetchError as exc:
            BYTES.labels(feed.name).inc(exc.wire_bytes)
            return self._failed(feed, exc.kind, str(exc), exc.retry_after_s)
        began = time.monotonic() - result.elapsed_s
        BYTES.labels(feed.name).inc(result.wire_bytes)
        if result.status == 304:
            NOT_MODIFIED.labels(feed.name).inc()
            POLLS.labels(feed.name, "not_modified").inc()
            POLL_SECONDS.observe(result.elapsed_s)
            self._clear_problem(feed)
            return PollOutcome(feed.name, "not_modified")
        try:
            read = await read_response(feed, result, self.engine, self.linker)
        except NotAFeed as exc:
            return self._failed(feed, exc.kind, exc.reason)
        parsed, built = read.parsed, read.normalised
        for reason, count in built.rejected.items():
            BAD_ENTRIES.labels(feed.name, reason).inc(count)
        rejected = sum(built.rejected.values())
        if parsed.problem:
            FEED_PROBLEMS.labels(feed.name, parsed.problem_kind or "parse").inc()
        if parsed.problem or rejected:
            details = "; ".join(filter(None, [parsed.problem, built.first_rejection and (
                f"{rejected} entr{'y' if rejected == 1 else 'ies'} unusable (first: {built.first_rejection})")]))
            self._report(feed, f"read {len(built.stories)} of {len(parsed.entries)} entries: {details}")
        else:
            self._clear_problem(feed)
        produced = duplicates = near_duplicates = 0
        for start in range(0, max(len(built.stories), 1), ADMIT_CHUNK):
            # In chunks, so that a feed of tens of thousands of items never holds the event loop for long.
            admitted = await self.dedup.admit(built.stories[start:start + ADMIT_CHUNK], near_dup=not read.edgar)
            duplicates += len(admitted.duplicates)
            near_duplicates += len(admitted.near_duplicates)
            produced += len(admitted.stories)
            await self.sink.deliver(admitted.stories)
            await asyncio.sleep(0)
        DUPLICATES.labels(feed.name).inc(duplicates)
        NEAR_DUPLICATES.labels(feed.name).inc(near_duplicates)
        POLL_SECONDS.observe(time.monotonic() - began)
        if self.engine.conditional_get:
            fresh = result.validators if result.validators else Validators()
            await self.validators.save(url, fresh)
        POLLS.labels(feed.name, "ok").inc()
        return PollOutcome(
            feed.name, "ok", stories=produced, duplicates=duplicates, near_duplicates=near_duplicates,
            rejected=rejected,
        )

    def _failed(self, feed: FeedConfig, kind: str, detail: str, retry_after_s: float | None = None) -> PollOutcome:
        detail = redact_text(detail)  # it goes to the log, to Redis and to `feeds list`
        ERRORS.labels(feed.name, kind).inc()
        POLLS.labels(feed.name, "error").inc()
        self._report(feed, f"{kind}: {detail}")
        return PollOutcome(feed.name, "error", error_kind=kind, error=detail, retry_after_s=retry_after_s)

    def _report(self, feed: FeedConfig, problem: str) -> None:
        level = logging.DEBUG if self._last_problem.get(feed.name) == problem else logging.WARNING
        self._last_problem[feed.name] = problem
        log.log(level, "feed %s (%s): %s", feed.name, feed.url, problem)

    def _clear_problem(self, feed: FeedConfig) -> None:
        if self._last_problem.pop(feed.name, None) is not None:
            log.info("feed %s (%s): polling fine again", feed.name, feed.url)
