"""Microsoft Teams body: an Adaptive Card in the message envelope that Teams workflow/incoming webhooks
accept.

Teams rejects webhook payloads above about 28 KB, so the card is rebuilt with fewer and shorter headlines,
then fewer alerts, until the JSON fits; a notification is never dropped for its size.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.delivery.text import clip, facts, safe_link, summary, title
from monitor.ground.contracts import Alert

PAYLOAD_MAX_BYTES = 27_000
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


_MARKDOWN = str.maketrans({"[": "(", "]": ")", "*": "∗", "_": "＿", "`": "'", "<": "‹", ">": "›", "#": "＃"})


def _md(text: str) -> str:
    """Neutralise what Adaptive Card markdown would interpret (links, emphasis, code, headings, HTML-ish)."""
    return text.translate(_MARKDOWN).replace("\n", " ")


def _alert_container(alert: Alert, max_samples: int, title_max: int) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": clip(f"**{_md(alert.key)}** ({alert.scope}): {_md(summary(alert))}", 2000),
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts(alert)]},
    ]
    lines = [
        f"- [{_md(clip(s.title, title_max))}]({link}) ({s.score:+.2f})"
        if (link := safe_link(s.url))
        else f"- {_md(clip(s.title, title_max))} ({s.score:+.2f})"
        for s in alert.samples[:max_samples]
    ]
    if lines:
        items.append({"type": "TextBlock", "text": "\n".join(lines), "wrap": True, "size": "Small"})
    return {"type": "Container", "separator": True, "items": items}


def _build(alerts: list[Alert], max_alerts: int, max_samples: int, title_max: int) -> dict[str, Any]:
    resolved = alerts[0].status == "resolved"
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": clip(title(alerts), 300),
            "weight": "Bolder",
            "size": "Large",
            "wrap": True,
            "color": "Good" if resolved else "Attention",
        }
    ]
    body.extend(_alert_container(alert, max_samples, title_max) for alert in alerts[:max_alerts])
    if len(alerts) > max_alerts:
        body.append(
            {"type": "TextBlock", "text": f"…and {len(alerts) - max_alerts} more alerts", "wrap": True}
        )
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    first_link = next((link for a in alerts for s in a.samples if (link := safe_link(s.url))), None)
    if first_link and max_samples:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open top headline", "url": first_link}]
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def build(alerts: list[Alert]) -> dict[str, Any]:
    """The Teams message for a group of alerts, under the payload size limit."""
    for max_alerts in (len(alerts), 20, 10, 5, 1):
        for max_samples, title_max in ((5, 200), (3, 120), (1, 80), (0, 0)):
            body = _build(alerts, min(max_alerts, len(alerts)), max_samples, title_max)
            if len(json.dumps(body).encode("utf-8")) <= PAYLOAD_MAX_BYTES:
                return body
    return body
