"""Delivery retry policy: exponential backoff with jitter, ``Retry-After``, and the attempt budget.

The defaults ride out a receiver that is down for about an hour (20 attempts, 1 s doubling to a 5 min cap)
before a notification goes to the dead-letter list, from where ``bearwatch alerts retry`` sends it again.
Tests pass a policy with millisecond-scale values. The waits come from the one retry policy,
:class:`monitor.ground.retry.Backoff` (equal jitter, ``Retry-After`` capped at ``retry_after_max_s``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from monitor.ground.retry import Backoff

__all__ = ["DeliveryPolicy"]


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 20
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    retry_after_max_s: float = 3600.0
    group_wait_s: float = 5.0  # how long a first alert waits for others of its rule to share one notification
    max_group_size: int = 50
    lease_s: float = 15.0  # one notifier process delivers a channel at a time; a lease passes on after this
    poll_interval_s: float = 0.5

    @classmethod
    def from_settings(cls, settings: object) -> DeliveryPolicy:
        """The policy from ``alert_*`` settings where they exist, defaults otherwise."""
        names = {
            "max_attempts": "alert_max_attempts",
            "backoff_base_s": "alert_backoff_base_s",
            "backoff_max_s": "alert_backoff_max_s",
            "group_wait_s": "alert_group_wait_s",
        }
        values = {field: getattr(settings, name) for field, name in names.items() if hasattr(settings, name)}
        return cls(**values)

    def delay(
        self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): equal jitter, ≥ Retry-After."""
        return self.backoff.delay(attempt, retry_after_s, rng)

    @property
    def backoff(self) -> Backoff:
        """The retry policy these values describe."""
        return Backoff(
            base_s=self.backoff_base_s, cap_s=self.backoff_max_s, retry_after_max_s=self.retry_after_max_s
        )
