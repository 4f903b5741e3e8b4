"""The alert lifecycle as a small deterministic state machine over a condition series (pure, no I/O).

States: inactive -> pending (``for``) -> firing -> inactive (resolved), Alertmanager-like, at bucket boundaries in
event time:

* a true condition while inactive starts ``pending`` (or fires at once when ``for`` is 0), unless the key
  resolved less than ``cooldown`` ago;
* pending fires at the first boundary at least ``for`` after it started; a false condition clears it silently;
* firing re-notifies (``repeat``, same ``starts_at``) every ``repeat_interval`` while the condition holds, and
  resolves at the first boundary where it does not.

The series comes as *runs* (:func:`walk`): points ``p_0 < p_1 < ...`` with a condition each, meaning the
condition holds with that value at every boundary from ``p_i`` up to the next point (the last run ends at
``end``). The walk computes every fire, repeat and resolve inside a run arithmetically, so a week of unchanged
condition costs one step, and gives exactly what evaluating every boundary would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class KeyState:
    """One rule x key's lifecycle state; times are bucket boundaries (epoch s); ``last_eval`` the last one seen."""

    state: str = "inactive"
    since: int | None = None
    starts_at: int | None = None
    last_notify: int | None = None
    resolved_at: int | None = None
    last_eval: int | None = None


@dataclass(frozen=True)
class Timing:
    for_s: int
    repeat_s: int  # 0 = never
    cooldown_s: int


@dataclass(frozen=True)
class Change:
    """A notification: ``fire``, ``repeat`` or ``resolve`` at ``boundary`` for the episode that started at
    ``starts_at``."""

    boundary: int
    action: str
    starts_at: int


def _ceil(moment: int, step: int) -> int:
    return -(-moment // step) * step


def walk(state: KeyState, points: Sequence[int], conditions: Sequence[bool], end: int, step: int,
         timing: Timing) -> tuple[KeyState, list[Change]]:
    """Run the lifecycle over the runs ``(points[i], conditions[i])`` up to ``end``; returns the new state and the
    notifications in time order. Points at or before ``state.last_eval`` must have been dropped by the caller
    (:func:`after`)."""
    changes: list[Change] = []
    s = state
    for i, (point, condition) in enumerate(zip(points, conditions, strict=True)):
        last = points[i + 1] - step if i + 1 < len(points) else end
        if last < point:
            continue
        if not condition:
            if s.state == "pending":
                s = replace(s, state="inactive", since=None)
            elif s.state == "firing":
                assert s.starts_at is not None
                changes.append(Change(point, "resolve", s.starts_at))
                s = replace(s, state="inactive", resolved_at=point, since=None)
            continue
        b = point
        while b <= last:
            if s.state == "inactive":
                if s.resolved_at is not None and b - s.resolved_at < timing.cooldown_s:
                    b = max(b, _ceil(s.resolved_at + timing.cooldown_s, step))
                    continue
                if timing.for_s <= 0:
                    changes.append(Change(b, "fire", b))
                    s = replace(s, state="firing", starts_at=b, last_notify=b, since=None)
                    b += step
                    continue
                s = replace(s, state="pending", since=b)
                b += step
                continue
            if s.state == "pending":
                assert s.since is not None
                b = max(b, _ceil(s.since + timing.for_s, step))
                if b > last:
                    break
                changes.append(Change(b, "fire", b))
                s = replace(s, state="firing", starts_at=b, last_notify=b, since=None)
                b += step
                continue
            # firing
            if timing.repeat_s <= 0:
                break
            assert s.last_notify is not None and s.starts_at is not None
            b = max(b, _ceil(s.last_notify + timing.repeat_s, step))
            if b > last:
                break
            changes.append(Change(b, "repeat", s.starts_at))
            s = replace(s, last_notify=b)
            b += step
    if points:
        s = replace(s, last_eval=max(end, s.last_eval or end))
    return s, changes


def after(points: Sequence[int], conditions: Sequence[bool], first: int) -> tuple[list[int], list[bool]]:
    """The runs restricted to boundaries from ``first`` on (the run that covers ``first`` starts there)."""
    kept_p: list[int] = []
    kept_c: list[bool] = []
    carried: bool | None = None
    for point, condition in zip(points, conditions, strict=True):
        if point < first:
            carried = condition
            continue
        if point > first and not kept_p and carried is not None:
            kept_p.append(first)
            kept_c.append(carried)
        kept_p.append(point)
        kept_c.append(condition)
    if not kept_p and carried is not None:
        kept_p.append(first)
        kept_c.append(carried)
    return kept_p, kept_c
