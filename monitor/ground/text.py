"""Text clean-up shared by training and inference, so the model sees at run time what it saw in training.

Tweets and feed items carry HTML entities (``&amp;``), t.co links and ragged whitespace; none of these carry
sentiment, so they are normalised the same way everywhere.
"""

from __future__ import annotations

import html
import re

URL_TOKEN = "[URL]"
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Decode HTML entities (twice, for double-escaped feeds), replace URLs by a token, collapse whitespace."""
    decoded = html.unescape(html.unescape(text or ""))
    return _SPACE.sub(" ", _URL.sub(URL_TOKEN, decoded)).strip()
