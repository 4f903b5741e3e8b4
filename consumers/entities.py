"""Organisation names in a headline, including names no list knows: the keys of the ``entity`` window scope.

A bank that fails may be on no watchlist and, once delisted, in no current SEC table, yet its name is in every
headline ("Silicon Valley Bank shares plunge"). This light extractor (regular expressions over word tokens, no
model: tens of thousands of titles per second) finds capitalised spans that carry an organisation cue:

- a trailing cue word (``Bank``, ``Capital``, ``Group``, ``Holdings``, ``Financial``, ``Airlines``, ``Pharma``,
  ...) with one to four capitalised name words before it ("Silicon Valley Bank", "Three Arrows Capital"), and
  ``of`` + a capitalised word after it ("Bank of America");
- a leading cue (``Credit``, ``Banco``, ``Banca``, ``Banque``) followed by one or two capitalised words
  ("Credit Suisse");
- plus the companies the ticker linker named in the story, under their canonical name.

A span needs at least one word that is not a cue, a generic word ("Central", "National", "Global", ...) or a
function word, so "Central Bank" and "The Group" are not names. Keys are lower case without legal suffixes
("silicon valley bank"), at most :data:`MAX_ENTITIES` per story and :data:`MAX_KEY_CHARS` characters each.
Only the title is read: summaries mention many names in passing.
"""

from __future__ import annotations

import re

from consumers.aliases import entity_name
from consumers.tickers import Links

MAX_ENTITIES = 4
MAX_KEY_CHARS = 64
MAX_NAME_WORDS = 4
TRAILING_CUES = frozenset(
    "bank bancorp bancshares banc capital group holdings holding financial airlines airways pharma "
    "pharmaceuticals motors energy insurance securities partners ventures technologies labs therapeutics "
    "biosciences industries corporation corp inc ltd limited plc ag sa nv llc fund investments exchange "
    "brands mining resources petroleum steel telecom communications entertainment foods logistics realty "
    "properties semiconductor trust bankshares asset management".split()
)
LEADING_CUES = frozenset("credit banco banca banque".split())
GENERIC = frozenset(
    "central national federal reserve investment commercial regional global international private public big "
    "top major state world new digital crypto tech first us u.s uk eu european american chinese japanese indian "
    "british german french swiss russian asian african canadian australian community savings local mutual west "
    "east north south western eastern northern southern "
    "development policy import export people's peoples".split()
)
STOP = frozenset(
    "a an the and or but as at by for from in into of on onto over to with without after before amid amidst "
    "despite during since until via vs says said say tells told warns warned sees hits hit why how what who when "
    "where will would could should may might can is are was were be been being has have had do does did not no "
    "its it's his her their our your my this that these those here there shares stocks stock exclusive update "
    "analysis breaking factbox explainer insight wrapup brief rpt corrected refile live watch opinion video "
    "report reports former press digest ex".split()
)
_WORD = re.compile(r"[^\W_][\w'’.&-]*")
_PREFIX = re.compile(
    r"^\s*(?:(?:RPT|REFILE|CORRECTED|UPDATE\s*\d*|EXCLUSIVE|BREAKINGVIEWS|FACTBOX|ANALYSIS|WRAPUP\s*\d*|INSIGHT"
    r"|BRIEF|TIMELINE|PREVIEW|DEALTALK|MOVES|TEXT|LIVE)\s*[-:]\s*)+",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"['’]s?$")


def _capitalised(word: str) -> bool:
    return word[0].isupper() or (word[0].isdigit() and len(word) > 1)


def _clean(word: str) -> str:
    return _POSSESSIVE.sub("", word).strip(".-&")


def extract_organisations(title: str) -> list[str]:
    """Organisation-like names in ``title`` as entity keys (see the module docstring)."""
    return [key for key, _, _ in organisation_spans(title)]


def organisation_spans(title: str) -> list[tuple[str, int, int]]:
    """``(key, start, end)`` of each organisation-like name, offsets into ``title``."""
    prefix = _PREFIX.match(title)
    matches = list(_WORD.finditer(title, prefix.end() if prefix else 0))
    words = [_clean(m.group()) for m in matches]
    raw = [m.group() for m in matches]
    found: list[tuple[str, int, int]] = []
    for i, word in enumerate(words):
        lower = word.lower()
        if not word or not _capitalised(word):
            continue
        if lower in TRAILING_CUES:
            start = i
            while start > 0 and i - start < MAX_NAME_WORDS and _name_word(words[start - 1]) \
                    and not _POSSESSIVE.search(raw[start - 1]):
                start -= 1
            end = i + 1
            if end + 1 < len(words) and words[end] == "of" and _name_word(words[end + 1]):
                end += 2
        elif lower in LEADING_CUES and i + 1 < len(words) and _name_word(words[i + 1]):
            start, end = i, i + 2
            if end < len(words) and _name_word(words[end]) and not _POSSESSIVE.search(raw[end - 1]):
                end += 1
        else:
            continue
        key = _key(words[start:end])
        if key and all(key != k for k, _, _ in found):
            found.append((key, matches[start].start(), matches[end - 1].end()))
    return found


def _name_word(word: str) -> bool:
    return bool(word) and _capitalised(word) and word.lower() not in STOP


def _key(span: list[str]) -> str:
    """The span's entity key, or ``""`` when it has no real name word ("Central Bank", "The Group")."""
    if not any(w.lower() not in TRAILING_CUES and w.lower() not in LEADING_CUES and w.lower() not in GENERIC
               and w.lower() not in STOP for w in span):
        return ""
    return normal_key(entity_name(" ".join(span)) or " ".join(span).lower())


def normal_key(name: str) -> str:
    """A safe window key: lower case, single spaces, no ``:`` (the Redis key separator), bounded length."""
    return " ".join(name.lower().replace(":", " ").split())[:MAX_KEY_CHARS].strip()


def story_entities(title: str, links: Links | None = None) -> list[str]:
    """Entity keys of one story: linked companies first (canonical names), then extracted names of the title."""
    keys: list[str] = []
    for company in links.companies if links else ():
        key = normal_key(company.entity)
        if key and key not in keys:
            keys.append(key)
    linked = links.title_spans if links else []
    for key, start, end in organisation_spans(title):
        overlaps = any(start < span_end and span_start < end for span_start, span_end in linked)
        if not overlaps and key not in keys and not any(key in k or k in key for k in keys):
            keys.append(key)
    return keys[:MAX_ENTITIES]
