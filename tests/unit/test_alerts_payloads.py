"""Channel bodies: the Alertmanager v4 shape of the real fixture, valid Block Kit, a valid Teams card
envelope, and platform limits kept whatever the input size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alerts.delivery import alertmanager, slack, teams
from tests.support.alerts_fixtures import make_alert

SLACK_BLOCKS = {"section", "header", "context", "divider", "image", "actions", "rich_text"}
TEXT_TYPES = {"plain_text", "mrkdwn"}
CARD_ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "RichTextBlock"}


def huge_group(n: int = 30) -> list:
    return [make_alert("spike", f"TICK{i}", samples=5, title="Very long headline " * 300) for i in range(n)]


FREE_FORM = {
    "$.groupLabels",
    "$.commonLabels",
    "$.commonAnnotations",
    "$.alerts[].labels",
    "$.alerts[].annotations",
}


def same_shape(expected: Any, actual: Any, path: str = "$") -> None:
    """``actual`` has every key of ``expected`` with a value of the same JSON type, recursively."""
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict) and path not in FREE_FORM:
        missing = set(expected) - set(actual)
        assert not missing, f"{path}: missing {missing}"
        for key, value in expected.items():
            same_shape(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, dict):  # label and annotation maps: any names, string values
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in actual.items()), path
    elif isinstance(expected, list) and expected:
        for item in actual:
            same_shape(expected[0], item, f"{path}[]")


def test_generic_payload_has_the_alertmanager_v4_shape_of_the_real_fixture(shared_data: Path) -> None:
    fixture = json.loads((shared_data / "webhooks" / "alertmanager__alert.json").read_text())
    body = alertmanager.build([make_alert("spike", "AAPL"), make_alert("spike", "MSFT")], "ops")
    same_shape(fixture, body)
    assert set(body) - set(fixture) == {"truncatedAlerts"}  # newer Alertmanager versions send it too
    assert set(body["alerts"][0]) == set(fixture["alerts"][0])
    assert body["version"] == "4" and body["status"] == "firing" and len(body["alerts"]) == 2
    first = body["alerts"][0]
    assert first["startsAt"] == "2024-05-01T09:00:00Z" and first["endsAt"] == "0001-01-01T00:00:00Z"
    assert (
        first["labels"]["alertname"] == "spike"
        and "https://news.example/AAPL/0" in first["annotations"]["headlines"]
    )
    assert body["commonLabels"] == {"alertname": "spike", "scope": "ticker", "severity": "warning"}
    resolved = alertmanager.build([make_alert(status="resolved", evaluated_minute=30)], "ops")
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] == "2024-05-01T09:30:00Z"


def check_text(obj: dict, limit: int, types: set[str] = TEXT_TYPES) -> None:
    assert obj["type"] in types and isinstance(obj["text"], str) and 0 < len(obj["text"]) <= limit


def check_block_kit(message: dict) -> None:
    """Slack Block Kit rules that a rejected message would break (types, counts, text limits)."""
    assert isinstance(message.get("text", ""), str) and len(message.get("text", "")) <= 40_000
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    for block in blocks:
        assert block["type"] in SLACK_BLOCKS, block["type"]
        assert len(block.get("block_id", "")) <= 255
        if block["type"] == "header":
            check_text(block["text"], 150, {"plain_text"})
        elif block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                check_text(block["text"], 3000)
            assert len(block.get("fields", [])) <= 10
            for item in block.get("fields", []):
                check_text(item, 2000)
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] in TEXT_TYPES | {"image"}
                if element["type"] in TEXT_TYPES:
                    check_text(element, 3000)


def test_slack_body_is_valid_block_kit_within_limits_for_any_size(shared_data: Path) -> None:
    check_block_kit(
        json.loads((shared_data / "webhooks" / "slack_incoming__blocks.json").read_text())
    )  # the rules
    small = slack.build([make_alert()])
    check_block_kit(small)
    assert "<https://news.example/AAPL/0|Apple hit by probe 0>" in json.dumps(small)
    big = slack.build(huge_group())
    check_block_kit(big)
    assert big["blocks"][-1]["text"]["text"].startswith("…and ") and len(json.dumps(big)) <= slack.PAYLOAD_MAX
    tricky = slack.build([make_alert(title="P&L <script> | pipes")])
    assert "P&amp;L &lt;script&gt; ¦ pipes" in json.dumps(tricky, ensure_ascii=False)


def check_adaptive_card_envelope(message: dict) -> None:
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["$schema"].startswith("http://adaptivecards.io/schemas/")
    assert tuple(map(int, card["version"].split("."))) <= (1, 5)
    stack = list(card["body"])
    while stack:
        element = stack.pop()
        assert element["type"] in CARD_ELEMENTS, element["type"]
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
        if element["type"] == "FactSet":
            assert all(set(f) == {"title", "value"} and isinstance(f["value"], str) for f in element["facts"])
        stack.extend(element.get("items", []))
    for action in card.get("actions", []):
        assert action["type"] == "Action.OpenUrl" and action["url"].startswith("https://")
    assert len(json.dumps(message).encode()) <= 28 * 1024


def test_teams_body_is_a_valid_adaptive_card_envelope_under_the_size_limit() -> None:
    small = teams.build([make_alert()])
    check_adaptive_card_envelope(small)
    assert "[Apple hit by probe 0](https://news.example/AAPL/0)" in json.dumps(small)
    big = teams.build(huge_group(30))
    check_adaptive_card_envelope(big)
    assert len(big["attachments"][0]["content"]["body"]) == 31  # all 30 alerts, with shorter headlines
    assert "Very long headline" in json.dumps(big) and "…" in json.dumps(big, ensure_ascii=False)
    huge = teams.build(huge_group(150))
    check_adaptive_card_envelope(huge)
    assert huge["attachments"][0]["content"]["body"][-1]["text"].endswith("more alerts")
