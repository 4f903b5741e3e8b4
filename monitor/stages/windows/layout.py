"""Redis key layout of the event-time windows; every key lives under ``<namespace>:w:``.

One place names the keys so the Lua writer (``apply.lua`` builds the same names from the same root) and the
readers cannot drift apart, and so a replay run's namespace never touches live data.

==========================================  ==========================================================
``<ns>:w:meta``                             hash: ``max_event``, ``min_event`` (epoch ms)
``<ns>:w:seen:<story id>``                  idempotency marker, SET NX with the retention TTL
``<ns>:w:b:<size>:<scope>:<key>:<start>``   bucket hash: n, neg, neu, pos, ss, nv, nvn, nvs, late
``<ns>:w:s:<size>:<scope>:<key>:<start>``   sorted set: the most negative stories of the bucket
``<ns>:w:keys:<scope>``                     sorted set: known keys, score = latest event ms; keys idle
                                            longer than the retention are dropped, and the ``entity``
                                            scope keeps only its most recently seen keys (a cap)
``<ns>:w:recent``                           sorted set: latest scored headlines, score = event ms
==========================================  ==========================================================

Sums are integers (scores and novelty in millionths) so that they are exact and independent of arrival order.
Keys are built inside the script, so this layout assumes a single Redis/Valkey (not Redis Cluster).
"""

from __future__ import annotations

SCOPES = ("market", "topic", "ticker", "source", "entity")
DEFAULT_ENTITY_MAX_KEYS = 20_000
MICRO = 1_000_000


class WindowKeys:
    """Key names for one namespace."""

    def __init__(self, namespace: str) -> None:
        self.root = f"{namespace}:w"

    @property
    def meta(self) -> str:
        return f"{self.root}:meta"

    @property
    def recent(self) -> str:
        return f"{self.root}:recent"

    def seen(self, story_id: str) -> str:
        return f"{self.root}:seen:{story_id}"

    def bucket(self, size: int, scope: str, key: str, start: int) -> str:
        return f"{self.root}:b:{size}:{scope}:{key}:{start}"

    def samples(self, size: int, scope: str, key: str, start: int) -> str:
        return f"{self.root}:s:{size}:{scope}:{key}:{start}"

    def known(self, scope: str) -> str:
        return f"{self.root}:keys:{scope}"
