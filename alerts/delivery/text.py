"""Text helpers for chat payloads: clipping to a platform limit and the numbers every format shows.

Chat platforms reject oversize fields instead of truncating them, so every string that goes out is clipped
here; a notification is never lost because a headline was long.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from monitor.ground.contracts import Alert

ELLIPSIS = "…"


# Characters a link may keep as they are: RFC 3986 unreserved, reserved and '%'. Everything else (spaces,
# < > | ( ) [ ] " ' ` { } \ ^ and controls) is percent-encoded, so a link cannot close the markup it sits in
# (a feed once put <!channel> into a Slack message and a phishing link into a Teams card through its URL).
_LINK_SAFE = "-._~:/?#@!$&*+,;=%"
MAX_LINK_CHARS = 2000


def safe_link(url: str | None) -> str | None:
    """``url`` fit to be a chat link, or None: http(s) only, with a host, markup characters percent-encoded."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(url) > MAX_LINK_CHARS:
        return None
    return quote(url, safe=_LINK_SAFE)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def number(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def facts(alert: Alert) -> list[tuple[str, str]]:
    """The numbers that made the alert fire, as (title, value) pairs, in reading order."""
    return [
        ("Negative share", percent(alert.value)),
        ("Baseline", percent(alert.baseline)),
        ("z-score", number(alert.zscore, ".1f")),
        ("Volume", f"{alert.count:.1f} ({alert.annotations.get('stories', '?')} stories)"),
        ("Mean score", _mean_score(alert)),
        ("Window", alert.annotations.get("window", "")),
        ("Since", alert.starts_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]


def _mean_score(alert: Alert) -> str:
    try:
        return f"{float(alert.annotations['mean_score']):+.2f}"
    except (KeyError, ValueError):
        return "n/a"


def title(alerts: list[Alert]) -> str:
    first = alerts[0]
    state = "RESOLVED" if first.status == "resolved" else "FIRING"
    keys = ", ".join(alert.key for alert in alerts)
    return f"[{state}] {first.rule} ({first.severity}): {keys}"


def summary(alert: Alert) -> str:
    return alert.annotations.get("summary") or f"{alert.key}: negative share {percent(alert.value)}"
