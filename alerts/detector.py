"""``Detector``: the live detector. Evaluate the rules up to each new watermark, in event time, and emit alerts.

Determinism is the point (a Kafka replay, the in-memory backtest and the live worker must produce the same alerts,
with the same fingerprints and ``starts_at``): every alert time is a bucket boundary, and the condition at a
boundary is a pure function of the windows (:func:`alerts.evaluate.evaluate`). Per call and rule:

1. the keys to look at: those the batch touched, those with data inside the rule's longest window, and those
   pending or firing (so they resolve without new stories) -- never a scan of every key;
2. their bucket arrays are read from Redis (:class:`alerts.reader.SeriesReader`: history hours, then minutes only
   in hours that hold stories; final buckets cached);
3. the condition is evaluated at the boundaries where it can change (:func:`alerts.evaluate.change_points`), and
   the lifecycle (:func:`alerts.lifecycle.walk`) runs over those runs from each key's last evaluated boundary to
   the new one -- the same code the backtest runs on its in-memory arrays;
4. each key's new state is committed with a compare-and-set (``commit.lua``), so two detectors evaluating the
   same data fire once; the loser's notifications are dropped ("stale").

So the cost of a call grows with the keys and the stories involved (and the hours a watermark jumped over), not
with the minutes since the last call. Stories later than the allowed lateness update the windows but do not
re-open boundaries already evaluated.

Hand-off (``hand_off=True``, the worker): a decision is committed in Redis before its alert reaches Kafka, so
``commit.lua`` also records it in a hand-off hash, and the caller calls :meth:`Detector.handed_on` once the alert is
sent. Decisions left there by a worker that died in between are rebuilt from the windows (same fingerprint,
``starts_at`` and evaluation time, so the same notification id) and emitted again by the next evaluation: at the
first one in a process, and by any detector once they are ``recover_after_s`` old.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

import numpy as np
import redis.asyncio as aioredis

from alerts import metrics
from alerts.alert_builder import build_alert
from alerts.evaluate import Measures, change_points, evaluate, history_needed, window_seconds
from alerts.lifecycle import Timing, after, walk
from alerts.reader import SeriesReader
from alerts.rules import Rule
from alerts.series import KeySeries
from alerts.state import AlertState, Decision, Transition
from monitor.ground.contracts import Alert, Sample, alert_fingerprint
from monitor.stages.windows import WindowStore
from monitor.stages.windows.spans import floor_to, from_ms, to_ms

log = logging.getLogger(__name__)
MAX_BOUNDARIES = 0  # 0 = evaluate every boundary of a jump (cheap: change points only); N = only the last N
MARKET = ("market", "all")


def timing_of(rule: Rule) -> Timing:
    return Timing(int(rule.for_.total_seconds()), int(rule.repeat_interval.total_seconds()),
                  int(rule.cooldown.total_seconds()))


def needs_reference(rule: Rule) -> bool:
    """Surprise rules on other scopes take their prior share from the market's history."""
    return rule.surprise_above is not None and rule.scope != "market"


def measures_at(measures: Measures, boundary: int) -> dict[str, float | int | None]:
    """The numbers in force at ``boundary`` (the last evaluated point at or before it)."""
    index = int(np.searchsorted(measures.at, boundary, side="right")) - 1
    return measures.row(max(index, 0))


class Detector:
    """Evaluate ``rules`` over ``store`` windows; keep alert state under ``<namespace>:a:``.

    Example::

        result = await store.apply(batch)
        for alert in await detector.evaluate(result.touched, result.watermark):
            await producer.send(topics.alerts, key=alert.fingerprint, value=encode(alert))
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        store: WindowStore,
        rules: Sequence[Rule],
        namespace: str,
        *,
        max_boundaries: int = MAX_BOUNDARIES,
        hand_off: bool = False,
        recover_after_s: float = 30.0,
    ) -> None:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique: {names}")
        self.store = store
        self.redis = redis
        self.namespace = namespace
        self.rules = [rule for rule in rules if rule.enabled]
        self.state = AlertState(redis, namespace)
        self.step = store.bucket_seconds
        self.max_boundaries = max_boundaries
        self.reader = SeriesReader(redis, namespace, self.step)
        self.hand_off = hand_off
        self.recover_after_ms = int(recover_after_s * 1000)
        self._recovered_once = False

    async def evaluate(self, touched: Iterable[tuple[str, str]], watermark: datetime | None) -> list[Alert]:
        """Alerts that changed state (fire, repeat, resolve) at boundaries up to ``watermark``, by time."""
        if watermark is None:
            return []
        end = floor_to(to_ms(watermark) // 1000, self.step)
        touched = set(touched)
        # Decided once per call: whether this namespace is fresh must not depend on which rule ran first.
        fresh = not await self.state.any_position()
        alerts: list[tuple[int, int, str, Alert]] = await self._recover() if self.hand_off else []
        for order, rule in enumerate(self.rules):
            for boundary, alert in await self._evaluate_rule(rule, touched, end, fresh):
                alerts.append((boundary, order, alert.key, alert))
        alerts.sort(key=lambda item: item[:3])
        return [alert for *_, alert in alerts]

    def forget(self, touched: Iterable[tuple[str, str]]) -> None:
        """A batch counted late stories for ``touched``: re-read their buckets (and the market's) next time, so
        later windows include them (boundaries already evaluated are not re-opened)."""
        self.reader.forget({*touched, MARKET})

    async def handed_on(self, alerts: Iterable[Alert]) -> None:
        """Forget the hand-off records of ``alerts``: call once they are durably sent (``hand_off=True`` only)."""
        if self.hand_off:
            await self.state.handed_on([handoff_field(alert) for alert in alerts])

    # ------------------------------------------------------------------ one rule
    async def _start(self, rule: Rule, end: int, fresh: bool) -> int | None:
        prev = await self.state.position(rule.name)
        longest = max(window_seconds(rule, self.step))
        if prev is None and not fresh:
            # A rule added to a running namespace starts with the current window, not at the first story ever.
            prev = end - longest - self.step
        elif prev is None:
            # A fresh namespace (replay, backtest, first start): from the first story, so every run agrees.
            first, _ = await self.store.event_range()
            if first is None:
                return None
            prev = floor_to(to_ms(first) // 1000, self.step)
        if end <= prev:
            return None
        start = prev + self.step
        if self.max_boundaries and (end - start) // self.step >= self.max_boundaries:
            start = end - (self.max_boundaries - 1) * self.step
            log.warning("rule %s: watermark jumped; evaluating only the last %d boundaries", rule.name,
                        self.max_boundaries)
        return start

    async def _candidates(self, rule: Rule, touched: set[tuple[str, str]], start: int) -> list[str]:
        """Keys to evaluate: touched, active inside the longest window, or live."""
        longest = max(window_seconds(rule, self.step))
        # members only (no withscores), so not the scored-tuple variants of redis's return type
        rows = cast("list[bytes | str]", await self.redis.zrangebyscore(
            self.store.keys.known(rule.scope), (start - longest - self.step) * 1000, "+inf"))
        keys = {(m.decode() if isinstance(m, bytes) else m) for m in rows}
        keys |= {key for scope, key in touched if scope == rule.scope}
        keys |= await self.state.live_keys(rule.name)
        return sorted(key for key in keys if rule.matches(key))

    async def _series(self, rule: Rule, keys: list[str], start: int, end: int) -> tuple[dict[str, KeySeries],
                                                                                        KeySeries | None]:
        longest = max(window_seconds(rule, self.step))
        hours_from = history_needed(rule, start, self.step)
        series = await self.reader.read(rule.scope, keys, hours_from=hours_from,
                                        minutes_from=start - longest - self.step, end=end)
        reference = None
        if needs_reference(rule):
            reference = (await self.reader.read(MARKET[0], [MARKET[1]], hours_from=hours_from,
                                                minutes_from=start - longest - self.step, end=end))[MARKET[1]]
        return series, reference

    async def _evaluate_rule(self, rule: Rule, touched: set[tuple[str, str]], end: int,
                             fresh: bool) -> list[tuple[int, Alert]]:
        start = await self._start(rule, end, fresh)
        if start is None:
            return []
        keys = await self._candidates(rule, touched, start)
        fingerprints = [alert_fingerprint(rule.name, rule.scope, key) for key in keys]
        states = await self.state.load(fingerprints)
        series, reference = await self._series(rule, keys, start, end) if keys else ({}, None)
        timing = timing_of(rule)
        decided_ms = int(time.time() * 1000) if self.hand_off else None
        pipe = self.redis.pipeline(transaction=False)
        queued: list[tuple[str, list, Measures]] = []
        evaluated = 0
        for key, fingerprint, (state, token) in zip(keys, fingerprints, states, strict=True):
            first = start if state.last_eval is None else max(start, state.last_eval + self.step)
            if first > end:
                continue
            points = change_points(rule, series[key], first, end)
            measures = evaluate(rule, series[key], points, reference)
            evaluated += len(points)
            if state.state == "inactive" and not measures.condition.any():
                continue  # inactive and staying inactive: nothing to write
            new, changes = walk(state, *after(points.tolist(), measures.condition.tolist(), first), end, self.step,
                                timing)
            await self.state.queue_commit(pipe, token=token, state=new, changes=changes, fingerprint=fingerprint,
                                          rule=rule.name, scope=rule.scope, key=key,
                                          value=float(measures.share[-1]), decided_ms=decided_ms)
            queued.append((key, changes, measures))
        replies = await pipe.execute() if queued else []
        metrics.EVALUATIONS.labels(rule=rule.name).inc(evaluated)
        found: list[tuple[int, str, Transition, dict]] = []
        for (key, changes, measures), reply in zip(queued, replies, strict=True):
            if (reply.decode() if isinstance(reply, bytes) else reply) != "ok":
                metrics.TRANSITIONS.labels(rule=rule.name, action="stale").inc()
                continue
            for change in changes:
                metrics.TRANSITIONS.labels(rule=rule.name, action=change.action).inc()
                found.append((change.boundary, key, Transition(change.action, change.starts_at * 1000),
                              measures_at(measures, change.boundary)))
        await self.state.advance(rule.name, end)
        alerts = []
        for boundary, key, transition, row in found:
            samples = await self._samples(rule, key, row, boundary)
            alert = build_alert(rule, key, row, samples, transition, boundary)
            log.info("alert %s %s %s at %s", alert.status, rule.name, key, alert.annotations.get("evaluated_at"))
            alerts.append((boundary, alert))
        return alerts

    async def _samples(self, rule: Rule, key: str, row: dict, boundary: int) -> list[Sample]:
        window = rule.all_windows[int(row["window"])]
        try:
            stats = await self.store.windows([(rule.scope, key, window, from_ms(boundary * 1000))],  # type: ignore[list-item]
                                             samples=True)
        except ValueError:  # a scope this window store does not know (yet): the alert goes out without headlines
            return []
        return list(stats[0].samples)

    # ------------------------------------------------------------------ hand-off recovery
    async def _recover(self) -> list[tuple[int, int, str, Alert]]:
        """Decisions another process (or this one, before a crash) made and never handed on, as alerts."""
        first, self._recovered_once = not self._recovered_once, True
        cutoff = int(time.time() * 1000) - self.recover_after_ms
        orphans = [d for d in await self.state.decisions() if first or d.decided_ms <= cutoff]
        rules = {rule.name: (order, rule) for order, rule in enumerate(self.rules)}
        found = []
        for decision in orphans:
            rebuilt = await self._rebuild(decision, rules)
            if rebuilt is None:
                await self.state.handed_on([decision.field])
                continue
            found.append(rebuilt)
            metrics.RECOVERED.labels(rule=rebuilt[3].rule).inc()
            log.warning("re-emitting alert %s %s %s decided but never handed on", rebuilt[3].status,
                        rebuilt[3].rule, rebuilt[3].key)
        return found

    async def _rebuild(self, decision: Decision,
                       rules: dict[str, tuple[int, Rule]]) -> tuple[int, int, str, Alert] | None:
        """The alert of ``decision``, from its state hash (rule, key) and the windows at its boundary."""
        state = await self.state.state_of(decision.fingerprint)
        if state.get("rule") not in rules:
            log.warning("dropping undelivered decision %s: its rule is gone or its state expired", decision.field)
            return None
        order, rule = rules[state["rule"]]
        key, boundary = state["key"], decision.boundary_ms // 1000
        reader = SeriesReader(self.redis, self.namespace, self.step)  # a fresh read: nothing cached
        longest = max(window_seconds(rule, self.step))
        hours_from = history_needed(rule, boundary, self.step)
        series = (await reader.read(rule.scope, [key], hours_from=hours_from,
                                    minutes_from=boundary - longest - self.step, end=boundary))[key]
        reference = None
        if needs_reference(rule):
            reference = (await reader.read("market", ["all"], hours_from=hours_from,
                                           minutes_from=boundary - longest - self.step, end=boundary))["all"]
        row = evaluate(rule, series, np.array([boundary], dtype=np.int64), reference).row(0)
        samples = await self._samples(rule, key, row, boundary)
        return boundary, order, key, build_alert(rule, key, row, samples, decision.transition, boundary)


def handoff_field(alert: Alert) -> str:
    """The hand-off hash field of ``alert``: its fingerprint and evaluation boundary (ms)."""
    return f"{alert.fingerprint}@{to_ms(datetime.fromisoformat(alert.annotations['evaluated_at']))}"
