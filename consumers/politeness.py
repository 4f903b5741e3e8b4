"""Per-host politeness: a bounded number of requests in flight per host and a minimum gap between their starts.

Publishers throttle or ban clients that hammer them (SEC EDGAR enforces 10 requests per second), and several
registry feeds often share a host. Each host gets its own gate, so waiting for one host never delays another.
The host key is ``host[:port]`` of the feed URL; per-host policies come from the registry's ``[hosts]`` table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from consumers.registry import HostPolicy


def host_key(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


@dataclass
class _HostState:
    policy: HostPolicy
    slots: asyncio.Semaphore
    spacing: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0


class HostGate:
    """``async with gate.slot(url):`` waits for the host's turn, then holds one of its in-flight slots."""

    def __init__(self, policy_for: Callable[[str], HostPolicy]) -> None:
        self._policy_for = policy_for
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            policy = self._policy_for(host)
            state = _HostState(policy, asyncio.Semaphore(policy.max_in_flight))
            self._hosts[host] = state
        return state

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[float]:
        """Yields the seconds spent waiting for politeness (kept out of the poll latency)."""
        state = self._state(host_key(url))
        began = time.monotonic()
        async with state.slots:
            async with state.spacing:
                delay = state.next_start - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                state.next_start = time.monotonic() + state.policy.min_gap_s
            yield time.monotonic() - began
