"""Headline-like variants of training tweets, so the model learns from the words of the news, not tweet tics.

Why: both training sets are finance tweets ("$BYND - JPMorgan reels in expectations on Beyond Meat [URL]"),
while Bearwatch mostly scores news headlines, which carry no cashtags, links, hashtags, @mentions or emoji. A
model that leans on those tics (a leading cashtag block is common in bearish/bullish analyst tweets, rare in
neutral ones) transfers badly. Training on a mix of the original text and a stripped variant removes that
shortcut. Only the training texts are rewritten; evaluation and inference see text as it comes (``clean_text``).
"""

from __future__ import annotations

import re

import numpy as np

from monitor.ground.text import URL_TOKEN
from monitor.stages.model.data import LabelledSet

_LEADING_TAGS = re.compile(r"^(?:\s*\$[A-Za-z][A-Za-z0-9.]{0,9}\b[\s,]*)+(?:[-:–—|]\s*)?")
_CASHTAG = re.compile(r"(?<![\w$])\$[A-Za-z][A-Za-z0-9.]{0,9}\b")
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<!\w)@\w+:?")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]")
_TICS = re.compile(r"(?:\bRead more and get update\w*…?|\bvia\s*$|\bRT\s+:?|…|\.\.\.+)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_EDGE = re.compile(r"^[\s\-:–—|,.]+|[\s\-:–—|,]+$")


def headline_like(text: str) -> str:
    """``text`` (already ``clean_text``-ed) without cashtags, link tokens, hashtags, @mentions, emoji and tics.

    Returns the input unchanged when stripping would leave almost nothing (a tweet that is only tags).
    """
    out = _LEADING_TAGS.sub("", text)
    out = out.replace(URL_TOKEN, " ")
    for pattern in (_CASHTAG, _HASHTAG, _MENTION, _EMOJI, _TICS):
        out = pattern.sub(" ", out)
    out = _EDGE.sub("", _SPACE.sub(" ", out)).strip()
    return out if len(out.split()) >= 3 else text


def augment_headlines(data: LabelledSet, fraction: float, seed: int) -> LabelledSet:
    """A copy of ``data`` in which a random ``fraction`` of texts (fixed seed) is replaced by its headline form.

    Replaced rather than added, so an epoch costs the same as before and each example keeps its weight.
    """
    if fraction <= 0:
        return data
    rng = np.random.default_rng([seed, 7])
    chosen = rng.random(len(data)) < fraction
    texts = [headline_like(t) if pick else t for t, pick in zip(data.texts, chosen, strict=True)]
    return LabelledSet(data.head, texts, list(data.labels), f"{data.source} (headline-like {fraction:.0%})")
