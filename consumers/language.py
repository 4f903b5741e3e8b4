"""The language of a story, detected offline from its text (``py3langid``: a small n-gram model, BSD licence).

Feeds mislabel their language (Polish headlines arrive from feeds tagged ``en-us``), and the sentiment model is
English: a Polish headline scores as neutral and dilutes every share it counts in. So each story's ``lang`` is
detected from its title and summary; the windows count only English stories (``monitor.stages.windows.writer``).

Rules, tuned for precision on headlines (an English story wrongly marked foreign is lost to the windows):

- the detector only chooses among :data:`LANGUAGES` (common news languages; the full 97+ set makes short English
  headlines come out as Pidgin or Latin), reading title + summary (the first :data:`MAX_CHARS` characters);
- a non-English answer counts only with probability >= :data:`MIN_PROBABILITY` and at least
  :data:`MIN_CHARS` characters of text; otherwise the feed's declared language stands, else ``None`` (unknown,
  which the windows treat as English);
- an English answer keeps a declared English variant (``en-us``);
- ASCII text with :data:`ENGLISH_HINTS` distinct English function words (the, of, to, and, ...) is English
  without asking the model.

The model (~2 MB) loads once per process on first use (~0.5 s); classifying a story takes ~0.1 ms.
"""

from __future__ import annotations

import re
import threading
from typing import Any

LANGUAGES = (
    "en pl de fr es it pt nl ru uk cs sk hu ro sv da no fi tr el bg hr sr sl lt lv et zh ja ko ar he fa hi id vi "
    "th ms".split()
)
MIN_PROBABILITY = 0.9
MIN_CHARS = 16
MAX_CHARS = 240
_ENGLISH_WORDS = re.compile(r"\b(?:the|of|to|and|for|with|says|from|after|will|is|are|that|this|its)\b",
                            re.IGNORECASE)
ENGLISH_HINTS = 3
_lock = threading.Lock()
_identifier = None


def _model() -> Any:
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(LANGUAGES))
                _identifier = identifier
    return _identifier


def primary(lang: str | None) -> str | None:
    """``"en-us"`` -> ``"en"``; ``None`` stays ``None``."""
    return lang.split("-", 1)[0].lower() if lang else None


def is_english(lang: str | None) -> bool:
    """Whether a story with this ``lang`` counts in the (English) sentiment windows; unknown counts as English."""
    return lang is None or primary(lang) == "en"


def detect_language(title: str, summary: str = "", declared: str | None = None) -> str | None:
    """The story's language code (``"en"``, ``"pl"``, ...), the declared one when detection is unsure."""
    text = f"{title}. {summary}" if summary else title
    text = text[:MAX_CHARS]
    if len(text) < MIN_CHARS:
        return declared
    if text.isascii() and len(set(m.lower() for m in _ENGLISH_WORDS.findall(text))) >= ENGLISH_HINTS:
        code, probability = "en", 1.0  # plainly English: skip the model (most stories, ~10x faster)
    else:
        code, probability = _model().classify(text)
    if code == "en":
        return declared if primary(declared) == "en" else "en"
    if probability >= MIN_PROBABILITY:
        return code
    return declared
