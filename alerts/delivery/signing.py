"""HMAC-SHA256 request signatures: ``X-Bearwatch-Signature: sha256=<hex>`` over the exact body bytes.

Receivers verify with :func:`verify` (constant-time compare) to know a notification came from this Bearwatch
and was not altered on the way. The signature covers the body only; the ``Idempotency-Key`` header lets a
receiver drop replays of a body it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Bearwatch-Signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value for ``body``."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` is the signature of ``body`` under ``secret``."""
    if not header_value or not header_value.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header_value.strip())
