"""The books of a run: what crossed each boundary, and whether it balances.

Stories: written by the newsroom → served by a publisher (first 200 answer that carried it) → in news.raw → in
news.scored (topic taps) → counted in Redis (the window idempotency marker exists) → in the windows exactly once
(the market window over the whole run holds as many stories as there are markers, and every scope key holds
exactly the counts the scored stories imply).

Alerts: *decided* = distinct notifications that reached bearwatch.alerts; *oracle* = what the same detector
code decides when the final scored stories are replayed offline in event-time order into a fresh namespace
(valid only when the live run had no late story: lateness is the one thing that lets batching change results);
*delivered* = distinct notifications the receiver answered 2xx. Duplicates are counted two ways: a request that
repeats an Idempotency-Key already answered 2xx (a receiver that honours the key drops it) and a notification
delivered under more than one key (no receiver can tell). Order: per fingerprint, notifications must arrive in
evaluation order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.detector import Detector
from alerts.rules import load_rules
from monitor.ground.contracts import ScoredStory
from monitor.stages.windows import WindowStore
from tests.support.resilience.harness import Harness
from tests.support.resilience.probes import get_json
from tests.support.resilience.taps import notification_identity


@dataclass
class Books:
    written: int = 0
    served: int = 0
    raw: int = 0
    scored: int = 0
    counted: int = 0
    lost: list[str] = field(default_factory=list)  # served, never counted
    not_scored: list[str] = field(default_factory=list)  # served, never seen in news.scored
    window_total: int = 0
    double_counted: int = 0
    key_mismatches: list[str] = field(default_factory=list)
    ambiguous: int = 0  # stories scored more than once with different labels (topic or sentiment)
    late: int = 0
    decided: int = 0
    oracle: int | None = None
    missing_from_decided: list[str] = field(default_factory=list)  # the oracle decided it, the live run did not
    not_in_oracle: list[str] = field(default_factory=list)
    delivered: int = 0
    undelivered: list[str] = field(default_factory=list)
    duplicate_keys: int = 0
    duplicate_notifications: int = 0
    out_of_order: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    outbox_left: int = 0
    dead_letters: int = 0
    produce_queue: int | None = None

    @property
    def duplicates(self) -> int:
        return self.duplicate_keys + self.duplicate_notifications

    def problems(self, *, alerts: bool = True, oracle: bool = True) -> list[str]:
        """Every way these books fail to balance, one line each (empty = balanced)."""
        found = []
        if self.lost:
            found.append(f"{len(self.lost)} served stories never counted (e.g. {self.lost[:3]})")
        if self.not_scored:
            found.append(f"{len(self.not_scored)} served stories never reached news.scored")
        if self.double_counted:
            found.append(f"windows hold {self.window_total} stories for {self.counted} markers")
        if self.key_mismatches:
            found.append(f"{len(self.key_mismatches)} window counts differ from the scored stories: "
                         f"{self.key_mismatches[:3]}")
        if self.produce_queue:
            found.append(f"{self.produce_queue} stories still in the consumers' produce queue")
        if not alerts:
            return found
        if self.undelivered:
            found.append(f"{len(self.undelivered)} decided notifications never delivered: {self.undelivered[:2]}")
        if self.duplicates:
            found.append(f"duplicates: {self.duplicate_keys} repeated Idempotency-Keys, "
                         f"{self.duplicate_notifications} notifications under several keys")
        if self.out_of_order:
            found.append(f"out of order per fingerprint: {self.out_of_order[:2]}")
        if self.bad_signatures:
            found.append(f"{self.bad_signatures} requests with a bad signature")
        if self.outbox_left or self.dead_letters:
            found.append(f"outbox not drained: {self.outbox_left} queued, {self.dead_letters} dead letters")
        if oracle and self.oracle is not None and (self.missing_from_decided or self.not_in_oracle):
            found.append(f"live alerts differ from the offline detector: {len(self.missing_from_decided)} "
                         f"never decided live (lost), {len(self.not_in_oracle)} only live "
                         f"(e.g. {(self.missing_from_decided or self.not_in_oracle)[:2]})")
        return found


def expected_counts(stories: Iterable[ScoredStory]) -> Counter:
    counts: Counter = Counter()
    for story in stories:
        keys = [("market", "all"), ("topic", story.topic.label), ("source", story.source)]
        keys += [("ticker", ticker) for ticker in dict.fromkeys(t for t in story.tickers if t.strip())]
        for scope, key in keys:
            counts[(scope, key, "count")] += 1
            counts[(scope, key, story.sentiment.label)] += 1
    return counts


async def close_books(h: Harness, *, oracle: bool = True) -> Books:
    """Balance the books of a settled run."""
    assert h.redis is not None
    books = Books()
    written, served = await h.world.call(lambda: (h.world.written(), h.world.served()))
    requests = await h.world.call(lambda: list(h.world.receiver.requests))
    books.written, books.served = len(written), len(served)
    raw, scored_tap = h.taps["raw"], h.taps["scored"]
    books.raw = len(raw.ids() & set(served))
    scored = {sid: seen.value for sid, seen in scored_tap.seen.items()}
    books.scored = len(set(scored) & set(served))
    counted = await h.counted(set(served))
    books.counted = len(counted)
    books.lost = sorted(set(served) - counted)
    books.not_scored = sorted(set(served) - set(scored))
    books.ambiguous = sum(1 for seen in scored_tap.seen.values() if len(seen.variants) > 1)
    # Alerts depend on the sentiment label only (the harness's rule is on the negative share of tickers).
    sentiment_ambiguous = sum(
        1 for seen in scored_tap.seen.values() if len({v.sentiment.label for v in seen.variants.values()}) > 1)

    settings = h.settings()
    store = WindowStore(h.redis, settings.redis_namespace, settings.bucket_seconds, settings.allowed_lateness_s)
    counted_stories = [scored[sid] for sid in counted if sid in scored]
    variants = {sid: list(scored_tap.seen[sid].variants.values()) for sid in counted if sid in scored}
    if counted_stories:
        await _check_windows(store, counted_stories, variants, books)
    health = await _ingest_health(h)
    books.produce_queue = health

    decided = {key: seen.value for key, seen in h.taps["alerts"].seen.items()}
    books.decided = len(decided)
    _check_deliveries(requests, decided, books)
    books.outbox_left = await h.outbox_left()
    books.dead_letters = int(await h.redis.llen(f"{settings.redis_namespace}:a:dead"))
    if oracle and counted_stories and books.late == 0 and sentiment_ambiguous == 0:
        found = await replay_detector(h, counted_stories)
        books.oracle = len(found)
        books.missing_from_decided = sorted(set(found) - set(decided))
        books.not_in_oracle = sorted(set(decided) - set(found))
    return books


async def _check_windows(store: WindowStore, stories: list[ScoredStory], variants: dict[str, list[ScoredStory]],
                         books: Books) -> None:
    """Window counts against the scored stories. A story scored twice with different labels (a near-tie read
    differently in another micro-batch) may have been counted as either copy: the books balance if one choice
    per such story explains the counts exactly. Stories whose copies differ in the same way are interchangeable,
    so only *how many* of them were counted as their second copy matters (see :func:`_choice_groups`)."""
    first = min(s.published_at for s in stories)
    last = max(s.published_at for s in stories)
    at = store.align(last) + timedelta(days=1)
    span = at - store.align(first) + timedelta(days=1)
    ambiguous = [options for options in variants.values() if len(options) > 1]
    base = expected_counts([options[0] for options in variants.values()])
    keys = sorted({(scope, key) for options in variants.values() for scope, key, _ in expected_counts(options)})
    total = await store.window("market", "all", span, at=at, samples=False)
    books.window_total, books.late = total.count, total.late
    books.double_counted = total.count - books.counted
    stats = await store.windows([(scope, key, span, at) for scope, key in keys])  # type: ignore[misc]
    have: Counter = Counter()
    for (scope, key), got in zip(keys, stats, strict=True):
        for name in ("count", "negative", "neutral", "positive"):
            have[(scope, key, name)] = getattr(got, name)
    if _explainable(have, base, _choice_groups(ambiguous)):
        return
    books.key_mismatches = [f"{scope}:{key}:{name} {value} != {base.get((scope, key, name), 0)}"
                            for (scope, key, name), value in sorted(have.items())
                            if value != base.get((scope, key, name), 0)]


Delta = tuple[tuple[tuple[str, str, str], int], ...]


def _delta(option: ScoredStory, first: ScoredStory) -> Delta:
    """How the counts change if ``option`` was counted instead of ``first``."""
    diff = Counter(expected_counts([option]))
    diff.subtract(expected_counts([first]))
    return tuple(sorted((k, v) for k, v in diff.items() if v))


def _explainable(have: Counter, base: Counter, groups: list[list[Delta]]) -> bool:
    """Whether one alternative per group turns ``base`` into exactly ``have`` (every key of either).

    A depth-first search that prunes a branch as soon as some key can no longer reach its target with what the
    remaining groups can add or take away, so dozens of near-ties are decided in milliseconds."""
    keys = {k for group in groups for delta in group for k, _ in delta}
    if any(have.get(k, 0) != base.get(k, 0) for k in (set(have) | set(base)) - keys):
        return False
    target = {k: have.get(k, 0) - base.get(k, 0) for k in keys}
    options = [[dict(delta) for delta in group] for group in groups]
    low = [dict.fromkeys(keys, 0) for _ in range(len(options) + 1)]
    high = [dict.fromkeys(keys, 0) for _ in range(len(options) + 1)]
    for i in range(len(options) - 1, -1, -1):
        for k in keys:
            values = [option.get(k, 0) for option in options[i]]
            low[i][k] = low[i + 1][k] + min(values)
            high[i][k] = high[i + 1][k] + max(values)

    def search(i: int, current: dict) -> bool:
        if any(not (low[i][k] <= target[k] - current[k] <= high[i][k]) for k in keys):
            return False
        if i == len(options):
            return True
        for option in options[i]:
            following = dict(current)
            for k, v in option.items():
                following[k] += v
            if search(i + 1, following):
                return True
        return False

    return search(0, dict.fromkeys(keys, 0))


def _choice_groups(ambiguous: list[list[ScoredStory]]) -> list[list[Delta]]:
    """The choices to search, as lists of alternative count changes. Two-copy stories with the same change are
    pooled: n of them give n + 1 alternatives (0..n counted as the second copy) instead of 2**n."""
    pooled: Counter = Counter()
    groups: list[list[Delta]] = []
    for options in ambiguous:
        deltas = [_delta(option, options[0]) for option in options[1:]]
        if len(deltas) == 1:
            pooled[deltas[0]] += 1
        else:
            groups.append([(), *deltas])
    for delta, n in pooled.items():
        groups.append([tuple((k, v * j) for k, v in delta) for j in range(n + 1)])
    return groups


def _check_deliveries(requests: list, decided: dict[str, object], books: Books) -> None:
    keys_seen: set[str] = set()
    keys_of: dict[str, set[str]] = {}
    order: dict[str, list[str]] = {}
    for request in requests:
        if not request.signed:
            books.bad_signatures += 1
        if request.status != 200:
            continue
        if request.key in keys_seen:
            books.duplicate_keys += 1
            continue
        keys_seen.add(request.key)
        for note in request.notifications:
            ident = "|".join(note)
            keys_of.setdefault(ident, set()).add(request.key)
            order.setdefault(note[0], []).append(note[3])
    books.delivered = len(keys_of)
    books.duplicate_notifications = sum(len(keys) - 1 for keys in keys_of.values())
    books.undelivered = sorted(set(decided) - set(keys_of))
    for fingerprint, evaluations in order.items():
        if evaluations != sorted(evaluations):
            books.out_of_order.append(f"{fingerprint[:12]}: {evaluations}")


async def _ingest_health(h: Harness) -> int | None:
    health = await get_json(f"{h.ingest_url}/health")
    return None if health is None else int(health.get("produce_queue", 0))


async def replay_detector(h: Harness, stories: list[ScoredStory], batch: int = 64) -> dict[str, object]:
    """The notifications the detector decides over ``stories`` replayed in event-time order, offline."""
    assert h.redis is not None
    settings = h.settings()
    namespace = f"{settings.redis_namespace}-oracle{len(h.timeline)}"
    store = WindowStore(h.redis, namespace, settings.bucket_seconds, settings.allowed_lateness_s)
    detector = Detector(h.redis, store, load_rules(h.workdir / "rules.toml"), namespace)
    ordered = sorted(stories, key=lambda s: (s.published_at, s.id))
    found: dict[str, object] = {}
    for start in range(0, len(ordered), batch):
        result = await store.apply(ordered[start:start + batch])
        for alert in await detector.evaluate(result.touched, result.watermark):
            found.setdefault(notification_identity(alert), alert)
    return found

