"""The one redaction helper: secrets out of every line a person or a log collector can read.

Secrets reach Bearwatch inside URLs more than anywhere else: an API key substituted into a feed's query string,
a password in ``redis://:pw@host``, the token path of a Slack or Teams webhook, a ``sig=`` on a Logic App URL.
Logs, ``bearwatch doctor``, ``/health``, error messages and ``feeds list`` all pass what they show through
:func:`redact_url` or :func:`redact_text`; :func:`install_log_redaction` applies the latter to every log record of
the process (httpx's per-request INFO lines, which carry full URLs, are silenced as well).

Values known to be secret (the environment variables a feed's ``${VAR}`` refers to) can be registered with
:func:`remember_secret` and are masked wherever they appear, in a URL or not.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
_SECRET_KEYS = re.compile(
    r"(key|token|secret|passw|pwd|sig|signature|auth|credential|session|code|access|apikey|private)", re.I
)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s'\"<>`]+")
# A path segment that looks generated (a token): long, only URL-safe characters, letters and digits mixed.
_TOKENISH = re.compile(r"^(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{20,}$")
_WEBHOOK_HOSTS = ("hooks.slack.com", "discord.com", "discordapp.com", "webhook.office.com", "logic.azure.com")
_known: set[str] = set()
_known_lock = threading.Lock()
_MIN_SECRET_CHARS = 4


def remember_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears from now on (too short a value would mask ordinary words)."""
    if value and len(value) >= _MIN_SECRET_CHARS:
        with _known_lock:
            _known.add(value)


def _mask_known(text: str) -> str:
    if not _known:
        return text
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
        encoded = quote(secret, safe="")
        if encoded != secret and encoded in text:
            text = text.replace(encoded, MASK)
    return text


def redact_url(url: str | None) -> str:
    """``url`` with its password, secret-looking query values and webhook token path segments masked."""
    if not url:
        return url or ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return _mask_known(_redact_unparsable(url))
    netloc = parts.netloc
    if parts.password is not None or (parts.username and parts.scheme.startswith(("redis", "amqp", "postgres"))):
        user = parts.username or ""
        where = host if ":" not in host else f"[{host}]"
        netloc = f"{user}:{MASK}@{where}" if user else f":{MASK}@{where}"
        if port is not None:
            netloc += f":{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_KEYS.search(key) for key, _ in pairs):
            query = "&".join(
                f"{quote(key, safe='[]._-')}={MASK if _SECRET_KEYS.search(key) else quote(value, safe='/:._-')}"
                for key, value in pairs
            )
    path = parts.path
    if path:
        segments = path.split("/")
        webhook = any(host == h or host.endswith("." + h) for h in _WEBHOOK_HOSTS)
        masked = [
            MASK if seg and (_TOKENISH.match(seg) or (webhook and index >= len(segments) - 2 and len(seg) >= 8))
            else seg
            for index, seg in enumerate(segments)
        ]
        path = "/".join(masked)
    return _mask_known(urlunsplit((parts.scheme, netloc, path, query, parts.fragment)))


def _redact_unparsable(url: str) -> str:
    return re.sub(r"//[^/@\s]*@", f"//{MASK}@", url)


def redact_text(text: str | None) -> str:
    """Every URL inside ``text`` through :func:`redact_url`, and known secret values masked."""
    if not text:
        return text or ""
    return _mask_known(_URL.sub(lambda match: redact_url(match.group(0)), text))


class _RedactingFactory:
    """A log record factory that renders the message once and redacts it (arguments included)."""

    def __init__(self, inner: logging._LogRecordFactory) -> None:  # type: ignore[name-defined]
        self.inner = inner

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is logging's to report, not ours
            return record
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return record


def install_log_redaction() -> None:
    """Redact every log record of this process from now on; idempotent. Also quiets httpx's URL lines."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).level < logging.WARNING:
            logging.getLogger(name).setLevel(logging.WARNING)
