"""The one retry policy of Bearwatch: reading a server's ``Retry-After`` and exponential backoff with jitter.

Feeds (``consumers.backoff``) and alert delivery (``alerts.delivery.backoff``) both wait on remote servers and
both read ``Retry-After`` from them, so both use these two functions. A header is outside input: whatever it
holds (Unicode digits such as ``²``, a thousand-digit number, a date in year 9999, garbage), the parser returns a
number within ``[0, RETRY_AFTER_CEILING_S]`` or ``None``, and never raises; the caller clamps further to its own
maximum. A loop that died on a bad header once restarted itself every 2 s and hammered the receiver.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_AFTER_CEILING_S = 7 * 86400.0  # a week: beyond any caller's own maximum, small enough for any arithmetic
_DELTA = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)
_MAX_HEADER_CHARS = 200


def parse_retry_after(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), clamped; None when unusable.

    Only ASCII digits count as delta-seconds (``"²".isdigit()`` is true but it is no number); a number too long
    to be meant is the ceiling; a date in the past is 0.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) > 15:
        return RETRY_AFTER_CEILING_S  # a number too long to be meant: the longest wait, not int() of 5000 digits
    if not text or len(text) > _MAX_HEADER_CHARS:
        return None
    if _DELTA.fullmatch(text):
        return min(float(text), RETRY_AFTER_CEILING_S)
    if not text.isascii():
        return None
    try:
        moment = parsedate_to_datetime(text)
    except Exception:  # noqa: BLE001 - the email parser raises TypeError, ValueError, IndexError, OverflowError
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    except OverflowError:
        return RETRY_AFTER_CEILING_S
    return min(max(0.0, seconds), RETRY_AFTER_CEILING_S)


def backoff_delay(
    failures: int,
    base_s: float,
    cap_s: float,
    *,
    retry_after_s: float | None = None,
    retry_after_max_s: float = 3600.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds before the next try after ``failures`` consecutive failures (1-based).

    Equal jitter: between half and all of ``min(cap, base * 2**(failures-1))``, so callers that failed together
    do not retry in lockstep, yet never sooner than half the step. A server's ``Retry-After`` raises the wait,
    capped at ``retry_after_max_s`` so a bogus value cannot park a feed or a channel for a year.
    """
    ceiling = min(cap_s, base_s * 2 ** max(0, min(failures - 1, 30)))
    wait = (rng or random).uniform(ceiling / 2, ceiling)
    if retry_after_s is not None:
        wait = max(wait, min(max(retry_after_s, 0.0), retry_after_max_s))
    return wait
