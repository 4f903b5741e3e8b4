"""Slack incoming-webhook body: Block Kit blocks, within Slack's limits whatever the input.

Limits respected (api.slack.com/reference/block-kit): at most 50 blocks; header text 150 characters; section
text 3000; at most 10 section fields of 2000 each; context at most 10 elements. Alerts beyond what fits are
summarised in a last "and N more" block; long headlines are clipped, never rejected.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.delivery.text import clip, facts, safe_link, summary, title
from monitor.ground.contracts import Alert

MAX_BLOCKS = 50
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
FALLBACK_MAX = 3000
PAYLOAD_MAX = 35_000  # characters of JSON; Slack truncates long messages, we stay well below


def _escape(text: str) -> str:
    """Slack's three control characters escaped, so text can never open a link, mention or ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_target(url: str | None) -> str | None:
    """A headline URL inside ``<url|label>``: a safe http(s) link with ``&`` escaped as Slack asks, else None."""
    link = safe_link(url)
    return link.replace("&", "&amp;") if link else None


def _mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _headlines(alert: Alert, max_samples: int, title_max: int) -> str:
    lines: list[str] = []
    for sample in alert.samples[:max_samples]:
        label = _escape(clip(sample.title, title_max)).replace("|", "¦")
        target = _link_target(sample.url)
        line = f"• <{target}|{label}> ({sample.score:+.2f})" if target else f"• {label} ({sample.score:+.2f})"
        if sum(len(x) + 1 for x in lines) + len(line) > SECTION_MAX:
            break
        lines.append(line)
    return "\n".join(lines)


def _alert_blocks(alert: Alert, max_samples: int, title_max: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": _mrkdwn(f"*{_escape(alert.key)}* ({alert.scope}): {_escape(summary(alert))}"),
            "fields": [_mrkdwn(f"*{_escape(name)}*\n{_escape(value)}", FIELD_MAX)
                       for name, value in facts(alert)[:FIELDS_MAX]],
        }
    ]
    headlines = _headlines(alert, max_samples, title_max)
    if headlines:
        blocks.append({"type": "section", "text": _mrkdwn(headlines)})
    evaluated = alert.annotations.get("evaluated_at", "")
    blocks.append(
        {
            "type": "context",
            "elements": [_mrkdwn(f"fingerprint `{_escape(alert.fingerprint)}` · evaluated {_escape(evaluated)}", 2000)],
        }
    )
    blocks.append({"type": "divider"})
    return blocks


def _build(alerts: list[Alert], max_samples: int, title_max: int) -> dict[str, Any]:
    icon = ":large_green_circle:" if alerts[0].status == "resolved" else ":red_circle:"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(title(alerts), HEADER_MAX), "emoji": True},
        }
    ]
    shown = 0
    for alert in alerts:
        more = _alert_blocks(alert, max_samples, title_max)
        if len(blocks) + len(more) > MAX_BLOCKS - 1:
            break
        blocks.extend(more)
        shown += 1
    if shown < len(alerts):
        blocks.append(
            {"type": "section", "text": _mrkdwn(f"…and {len(alerts) - shown} more alerts of this rule")}
        )
    return {"text": clip(f"{icon} {_escape(title(alerts))}", FALLBACK_MAX), "blocks": blocks}


def build(alerts: list[Alert]) -> dict[str, Any]:
    """A Slack message for a group of alerts; shrinks headlines, then drops them, until the JSON fits."""
    for max_samples, title_max in ((5, 200), (3, 120), (1, 80), (0, 0)):
        body = _build(alerts, max_samples, title_max)
        if len(json.dumps(body)) <= PAYLOAD_MAX:
            return body
    return body
