"""``Detector``: evaluate the rules at every closed bucket boundary, in event time, and emit alert changes.

Determinism is the point (a Kafka replay and the in-process backtest must produce the same alerts, with the
same fingerprints and ``starts_at``): a rule is evaluated at each bucket end between its last evaluated
boundary and the new watermark, never at wall-clock times, and every alert time is such a boundary. The keys
evaluated are those a batch touched, those that still have data inside the rule's window (their window can
change as it slides), and those pending or firing (so they resolve without new stories) -- never a scan of
every key.

Stories later than the watermark update the windows but do not re-open boundaries already evaluated.

Hand-off (``hand_off=True``, the worker): a decision is committed in Redis before its alert reaches Kafka, so
``lifecycle.lua`` also records it in a hand-off hash, and the caller calls :meth:`Detector.handed_on` once the
alert is sent. Decisions left there by a worker that died in between are rebuilt from the windows (same
fingerprint, ``starts_at`` and evaluation time, so the same notification id) and emitted again by the next
evaluation: at the first one in a process, and by any detector once they are ``recover_after_s`` old. A copy
sent twice is dropped by the outbox's idempotent enqueue.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime

import redis.asyncio as aioredis

from alerts import metrics
from alerts.alert_builder import build_alert
from alerts.measure import Baseline, Measurement, baseline_from_hours, holds, passes_guards, zscore
from alerts.rules import Rule
from alerts.state import AlertState, Decision
from monitor.schemas import Alert, Scope, alert_fingerprint
from monitor.windows import WindowStats, WindowStore
from monitor.windows.spans import HOUR, floor_to, from_ms, span_seconds, to_ms

log = logging.getLogger(__name__)
MAX_BOUNDARIES = 7 * 1440  # per call and rule: a watermark jump of more than this is evaluated from its tail
_CACHE_SIZE = 4096


def _ms(seconds: int) -> int:
    return seconds * 1000


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
        self.rules = [rule for rule in rules if rule.enabled]
        self.state = AlertState(redis, namespace)
        self.step = store.bucket_seconds
        self.max_boundaries = max_boundaries
        self.baseline_step = HOUR if HOUR % self.step == 0 else span_seconds_of_hour(self.step)
        self._baselines: OrderedDict[tuple[str, str, str, int, int], Baseline | None] = OrderedDict()
        self.hand_off = hand_off
        self.recover_after_ms = int(recover_after_s * 1000)
        self._recovered_once = False

    async def evaluate(self, touched: Iterable[tuple[Scope, str]], watermark: datetime | None) -> list[Alert]:
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

    async def handed_on(self, alerts: Iterable[Alert]) -> None:
        """Forget the hand-off records of ``alerts``: call once they are durably sent (``hand_off=True`` only)."""
        if self.hand_off:
            await self.state.handed_on([handoff_field(alert) for alert in alerts])

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

    async def _rebuild(
        self, decision: Decision, rules: dict[str, tuple[int, Rule]]
    ) -> tuple[int, int, str, Alert] | None:
        """The alert of ``decision``, from its state hash (rule, key) and the windows at its boundary."""
        state = await self.state.state_of(decision.fingerprint)
        if state.get("rule") not in rules:
            log.warning("dropping undelivered decision %s: its rule is gone or its state expired", decision.field)
            return None
        order, rule = rules[state["rule"]]
        key, boundary = state["key"], decision.boundary_ms // 1000
        full = (await self.store.windows([(rule.scope, key, rule.window, from_ms(decision.boundary_ms))],
                                         samples=True))[0]
        measured = (await self._measure(rule, [full]))[0]
        alert = build_alert(rule, key, Measurement(full, measured.baseline, measured.zscore), decision.transition,
                            boundary)
        return boundary, order, key, alert

    async def _start(self, rule: Rule, end: int, fresh: bool) -> int | None:
        prev = await self.state.position(rule.name)
        if prev is None and not fresh:
            # A rule added to a running namespace starts with the current window, not at the first story ever.
            prev = end - span_seconds(rule.window, self.step) - self.step
        elif prev is None:
            # A fresh namespace (replay, backtest, first start): from the first story, so every run agrees.
            first, _ = await self.store.event_range()
            if first is None:
                return None
            prev = floor_to(to_ms(first) // 1000, self.step)
        if end <= prev:
            return None
        start = prev + self.step
        if (end - start) // self.step >= self.max_boundaries:
            start = end - (self.max_boundaries - 1) * self.step
            log.warning(
                "rule %s: watermark jumped; evaluating only the last %d boundaries",
                rule.name,
                self.max_boundaries,
            )
        return start

    async def _candidates(
        self, rule: Rule, touched: set[tuple[Scope, str]], start: int
    ) -> dict[str, int | None]:
        """Keys to evaluate, with their latest event (s): touched, active in the window, or live."""
        span = span_seconds(rule.window, self.step)
        active = await self.store.keys_seen(rule.scope, since=from_ms(_ms(start - span)))
        keys: dict[str, int | None] = {k: to_ms(t) // 1000 for k, t in active.items()}
        for scope, key in touched:
            if scope == rule.scope and key not in keys:
                keys[key] = None
        for key in await self.state.live_keys(rule.name):
            keys.setdefault(key, None)
        return {k: v for k, v in sorted(keys.items()) if rule.matches(k)}

    async def _evaluate_rule(
        self, rule: Rule, touched: set[tuple[Scope, str]], end: int, fresh: bool
    ) -> list[tuple[int, Alert]]:
        start = await self._start(rule, end, fresh)
        if start is None:
            return []
        span = span_seconds(rule.window, self.step)
        plan: list[tuple[str, int]] = []
        for key, last_event in (await self._candidates(rule, touched, start)).items():
            # Past last_event + span the window is empty; one empty boundary is enough to clear or resolve.
            # No recent event (a live key gone quiet, a very late story): its window is empty all along.
            stop = (
                start if last_event is None else min(end, floor_to(last_event, self.step) + span + self.step)
            )
            plan.extend((key, boundary) for boundary in range(start, stop + 1, self.step))
        stats = await self.store.windows([(rule.scope, key, rule.window, from_ms(_ms(b))) for key, b in plan])
        measured = await self._measure(rule, stats)
        pipe = self.state.redis.pipeline(transaction=False)
        timing = {
            "for_ms": int(rule.for_.total_seconds() * 1000),
            "repeat_ms": int(rule.repeat_interval.total_seconds() * 1000),
            "cooldown_ms": int(rule.cooldown.total_seconds() * 1000),
        }
        live = await self.state.live_keys(rule.name)
        decided_ms = int(time.time() * 1000) if self.hand_off else None
        queued: list[int] = []
        for index, ((key, boundary), m) in enumerate(zip(plan, measured, strict=True)):
            condition = holds(rule, m)
            if not condition and key not in live:
                continue  # inactive and staying inactive: lifecycle.lua would answer 'none'
            if condition:
                live.add(key)  # pending/firing from here: its later false boundaries clear or resolve it
            await self.state.queue_transition(
                pipe,
                fingerprint=alert_fingerprint(rule.name, rule.scope, key),
                rule=rule.name,
                scope=rule.scope,
                key=key,
                boundary_ms=_ms(boundary),
                condition=condition,
                value=m.share,
                decided_ms=decided_ms,
                **timing,
            )
            queued.append(index)
        replies = await pipe.execute() if queued else []
        metrics.EVALUATIONS.labels(rule=rule.name).inc(len(plan))
        changes = []
        for index, reply in zip(queued, replies, strict=True):
            transition = self.state.parse(reply)
            metrics.TRANSITIONS.labels(rule=rule.name, action=transition.action).inc()
            if transition.action in ("fire", "repeat", "resolve"):
                changes.append((index, transition))
        await self.state.advance(rule.name, end)
        if not changes:
            return []
        with_samples = await self.store.windows(
            [(rule.scope, plan[i][0], rule.window, from_ms(_ms(plan[i][1]))) for i, _ in changes],
            samples=True,
        )
        alerts = []
        for (index, transition), full in zip(changes, with_samples, strict=True):
            key, boundary = plan[index]
            m = measured[index]
            alert = build_alert(rule, key, Measurement(full, m.baseline, m.zscore), transition, boundary)
            log.info(
                "alert %s %s %s at %s", alert.status, rule.name, key, alert.annotations.get("evaluated_at")
            )
            alerts.append((boundary, alert))
        return alerts

    async def _measure(self, rule: Rule, stats: list[WindowStats]) -> list[Measurement]:
        """Add baselines and z-scores where the rule needs them and the cheap guards already pass."""
        if rule.zscore_above is None:
            return [Measurement(s) for s in stats]
        span = span_seconds(rule.window, self.step)
        needs = {
            (s.key, floor_to(to_ms(s.at) // 1000 - span, self.baseline_step))
            for s in stats
            if passes_guards(rule, s)
        }
        baselines = await self._baselines_for(rule, needs)
        measured = []
        for s in stats:
            hour = floor_to(to_ms(s.at) // 1000 - span, self.baseline_step)
            # Only where the guards pass: a baseline fetched for another boundary of the same key and hour must
            # not leak into this one, or an alert's numbers would depend on how the stream was batched.
            base = baselines.get((s.key, hour)) if passes_guards(rule, s) else None
            z = None if base is None else zscore(s.weighted_negative_share, s.novelty_volume, base, rule.min_stddev)
            measured.append(Measurement(s, base, z))
        return measured

    async def _baselines_for(
        self, rule: Rule, needs: set[tuple[str, int]]
    ) -> dict[tuple[str, int], Baseline | None]:
        """Baselines per (key, hour); cached, since hours before the watermark only change by late stories."""
        length = int(rule.baseline.total_seconds()) // self.baseline_step
        cache_key = lambda key, hour: (rule.scope, key, str(rule.baseline), hour, rule.min_baseline_hours)  # noqa: E731
        found = {
            need: self._baselines[cache_key(*need)] for need in needs if cache_key(*need) in self._baselines
        }
        missing = sorted(need for need in needs if need not in found)
        requests = [
            (rule.scope, key, f"{self.baseline_step}s", from_ms(_ms(hour - self.baseline_step * i)))
            for key, hour in missing
            for i in range(length)
        ]
        hours = await self.store.windows(requests)
        for n, need in enumerate(missing):
            base = baseline_from_hours(hours[n * length : (n + 1) * length], rule.min_baseline_hours)
            found[need] = self._baselines[cache_key(*need)] = base
            if len(self._baselines) > _CACHE_SIZE:
                self._baselines.popitem(last=False)
        return found


def handoff_field(alert: Alert) -> str:
    """The hand-off hash field of ``alert``: its fingerprint and evaluation boundary (ms)."""
    return f"{alert.fingerprint}@{to_ms(datetime.fromisoformat(alert.annotations['evaluated_at']))}"


def span_seconds_of_hour(step: int) -> int:
    """An hour rounded up to whole buckets, for bucket sizes that do not divide an hour."""
    return -(-HOUR // step) * step
