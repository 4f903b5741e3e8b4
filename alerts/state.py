"""Alert state in Redis: loading and committing lifecycle states (compare-and-set) and the reads behind
``bearwatch alerts list``.

Keys (all under ``<namespace>:a:``): ``st:<fingerprint>`` (hash: state, since, starts_at, last_eval,
last_notify, resolved_at, rule, scope, key, value), ``live:<rule>`` (set of keys pending or firing, so they
are evaluated even when no new story touches them), ``firing`` (zset fingerprint -> starts_at ms), ``pos``
(hash rule -> last evaluated boundary, epoch seconds) and ``handoff`` (hash of decided notifications not yet
handed on to Kafka: written atomically with the transition, deleted once the alert is sent, so a worker that
dies in between leaves the decision behind for the next evaluation to re-emit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from alerts.lifecycle import Change, KeyState

SCRIPT = Path(__file__).with_name("commit.lua").read_text(encoding="utf-8")
_STATE_FIELDS = ("since", "starts_at", "last_notify", "resolved_at", "last_eval")
_ADVANCE = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if (not current) or current < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""
STATE_TTL_S = 8 * 86400


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Transition:
    """A notification decided at one boundary (fire, repeat, resolve); ``starts_at_ms`` is its episode's start."""

    action: str
    starts_at_ms: int | None


@dataclass(frozen=True)
class Decision:
    """A fire/repeat/resolve recorded by ``commit.lua`` and not yet handed on."""

    field: str  # "<fingerprint>@<boundary ms>", the hand-off hash field
    fingerprint: str
    boundary_ms: int
    transition: Transition
    decided_ms: int


class AlertState:
    """Key names and atomic operations on the alert lifecycle of one namespace."""

    def __init__(self, redis: aioredis.Redis, namespace: str, ttl_s: int = STATE_TTL_S) -> None:
        self.redis = redis
        self.root = f"{namespace}:a"
        self.ttl_s = ttl_s
        self._commit = redis.register_script(SCRIPT)
        self._advance = redis.register_script(_ADVANCE)

    def state_key(self, fingerprint: str) -> str:
        return f"{self.root}:st:{fingerprint}"

    def live_key(self, rule: str) -> str:
        return f"{self.root}:live:{rule}"

    @property
    def firing_key(self) -> str:
        return f"{self.root}:firing"

    @property
    def position_key(self) -> str:
        return f"{self.root}:pos"

    @property
    def handoff_key(self) -> str:
        return f"{self.root}:handoff"

    async def position(self, rule: str) -> int | None:
        value = await self.redis.hget(self.position_key, rule)
        return None if value is None else int(value)

    async def any_position(self) -> bool:
        """Whether any rule was ever evaluated in this namespace."""
        return bool(await self.redis.hlen(self.position_key))

    async def advance(self, rule: str, boundary_s: int) -> None:
        """Move the rule's evaluated position forward (never backward: another detector may be ahead)."""
        await self._advance(keys=[self.position_key], args=[rule, boundary_s])

    async def live_keys(self, rule: str) -> set[str]:
        return {_text(member) for member in await self.redis.smembers(self.live_key(rule))}

    async def load(self, fingerprints: Sequence[str]) -> list[tuple[KeyState, str]]:
        """The lifecycle state of each fingerprint (seconds) and its raw ``last_eval`` (the compare-and-set token)."""
        pipe = self.redis.pipeline(transaction=False)
        for fingerprint in fingerprints:
            pipe.hgetall(self.state_key(fingerprint))
        out = []
        for data in await pipe.execute() if fingerprints else []:
            row = {_text(k): _text(v) for k, v in data.items()}
            times = {name: int(row[name]) // 1000 if row.get(name) else None for name in _STATE_FIELDS}
            state = row.get("state", "inactive")
            out.append((KeyState(state=state if state in ("pending", "firing") else "inactive", **times),
                        row.get("last_eval", "")))
        return out

    async def queue_commit(
        self,
        pipe: Any,
        *,
        token: str,
        state: KeyState,
        changes: Sequence[Change],
        fingerprint: str,
        rule: str,
        scope: str,
        key: str,
        value: float,
        decided_ms: int | None = None,
    ) -> None:
        """Add one compare-and-set commit to a pipeline; its reply is ``ok`` or ``stale`` (another detector moved
        this key since ``token`` was read). With ``decided_ms`` (wall clock) the notifications are also recorded
        in the hand-off hash until :meth:`handed_on`."""
        fields = {"state": state.state}
        fields.update({name: "" if getattr(state, name) is None else str(getattr(state, name) * 1000)
                       for name in _STATE_FIELDS})
        decisions = [[c.action, str(c.starts_at * 1000), str(c.boundary * 1000)] for c in changes]
        await self._commit(
            keys=[self.state_key(fingerprint), self.live_key(rule), self.firing_key, self.handoff_key],
            args=[token, self.ttl_s, key, fingerprint, rule, scope, f"{value:.6f}",
                  "" if decided_ms is None else decided_ms, json.dumps(fields), json.dumps(decisions)],
            client=pipe,
        )

    async def state_of(self, fingerprint: str) -> dict[str, str]:
        """The state hash of ``fingerprint`` (rule, scope, key, state, ...), empty once expired."""
        return {_text(k): _text(v) for k, v in (await self.redis.hgetall(self.state_key(fingerprint))).items()}

    async def decisions(self) -> list[Decision]:
        """Every decision recorded and not yet handed on, oldest boundary first."""
        found = []
        for name, value in (await self.redis.hgetall(self.handoff_key)).items():
            field_, (action, starts, decided) = _text(name), _text(value).split("|")
            fingerprint, boundary = field_.rsplit("@", 1)
            transition = Transition(action, int(starts) if starts else None)
            found.append(Decision(field_, fingerprint, int(boundary), transition, int(decided)))
        return sorted(found, key=lambda d: (d.boundary_ms, d.field))

    async def handed_on(self, fields: list[str]) -> None:
        """Forget decisions whose alerts are now durably elsewhere (sent to Kafka and acknowledged)."""
        if fields:
            await self.redis.hdel(self.handoff_key, *fields)

    async def firing(self) -> list[dict[str, str]]:
        """Every alert firing now, oldest first, with rule, scope, key, starts_at (ms) and value."""
        fingerprints = [_text(fp) for fp in await self.redis.zrange(self.firing_key, 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for fp in fingerprints:
            pipe.hgetall(self.state_key(fp))
        rows = []
        for fp, data in zip(fingerprints, await pipe.execute(), strict=True):
            row = {_text(k): _text(v) for k, v in data.items()}
            if row.get("state") == "firing":
                rows.append({"fingerprint": fp, **row})
        return rows
