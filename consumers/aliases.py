"""Company names as headlines write them: aliases built from SEC titles, and the tokens they are matched on.

EDGAR titles are legal names in EDGAR's spelling (``"GOLDMAN SACHS GROUP INC"``, ``"WELLS FARGO & COMPANY/MN"``,
``"Zealand Pharma A/S/ADR"``). News writes "Goldman Sachs", "Wells Fargo", "Zealand Pharma". So each title gives:

- the *legal forms*: the title without state/ADR notes (``/DE/``, ``/ADR``), a leading "The", share-class notes
  and trailing legal words one by one (``Alibaba Group Holding Ltd`` -> ``alibaba group holding``,
  ``alibaba group``, ``alibaba``); the shortest is the company's *canonical name* (its ``entity`` key);
- one *short form*: the canonical name without a trailing descriptor (``micron technology`` -> ``micron``,
  ``first republic bank`` -> ``first republic``), flagged ``short`` because it is vaguer.

Everything is lower-case token tuples; :func:`tokens` is the one tokeniser the matcher also uses, so "Coca-Cola",
"COCA COLA" and "Coca Cola" are the same two tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TOKEN = re.compile(r"[^\W_]+|&")
EVERYDAY_FILE = Path(__file__).with_name("everyday_words.txt")
LEGAL = frozenset(
    "inc incorporated corp corporation co company companies ltd limited llc lp plc nv sa ag se ab asa as spa bv "
    "oyj kk tbk pty holdings holding group adr ads sponsored new cos aktiengesellschaft &".split()
)
DESCRIPTORS = frozenset(
    "technology technologies systems pharmaceuticals pharmaceutical therapeutics bancorp bancorporation bancshares "
    "financial international industries enterprises brands communications entertainment platforms bank com "
    "worldwide global solutions software networks us".split()
)
CAPITALISED_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december christmas easter american chinese european british english german french "
    "japanese indian russian canadian african asian national federal united states america china europe".split()
)
NEWS_ACRONYMS = frozenset(  # news words that are also one-word company names: never linked by name
    "nasdaq dow nikkei stoxx ecb fed imf sec fda ftc doj irs gdp cpi pmi ipo ceo cfo coo cto eps etf esg nft spx "
    "dax cac ftse nyse lse "
    "opec nato usa uae fomc boe boj pboc rba rbi snb gop nba nfl fifa uefa bbc cnn cnbc abc nbc cbs nhs nasa iss "
    "covid defi dao ust btc eth usdt usdc spac lbo atm gmt utc est pct agm vat dna api ai ev eu un uk us".split()
)
CONNECTORS = frozenset("of and & the de la du des di del van von der for y e".split())
_NOTES = re.compile(r"\s*/\s*(?:ADR|ADS|[A-Z]{1,3})\s*/?\s*$", re.IGNORECASE)
_SHARE_CLASS = re.compile(r"\s+(?:class|cl|series)\s+[a-z0-9]\b.*$", re.IGNORECASE)
_DOTTED = re.compile(r"\b(?:L\.P\.|N\.V\.|S\.A\.|S\.p\.A\.|B\.V\.|L\.L\.C\.)", re.IGNORECASE)
_A_S = re.compile(r"\s+A[/ ]S\b", re.IGNORECASE)
_NATIONAL_ASSOCIATION = re.compile(r",?\s+National Association\b", re.IGNORECASE)
MIN_SINGLE_CHARS = 3


def tokens(text: str) -> list[str]:
    """Word tokens of ``text`` in their written case (letters and digits; ``&`` is a token of its own)."""
    return TOKEN.findall(text)


@lru_cache(maxsize=1)
def everyday_words() -> frozenset[str]:
    """Lower-case words common in English news text (shipped list): a name made only of them is ambiguous."""
    return frozenset(EVERYDAY_FILE.read_text(encoding="utf-8").split())


@dataclass(frozen=True)
class Alias:
    """A token sequence that names a company, and how much evidence it needs to link."""

    key: tuple[str, ...]
    short: bool = False

    @property
    def everyday(self) -> bool:
        """Every word is an everyday word ("Signature", "Western Alliance", "Best Buy")."""
        common = everyday_words()
        return all(token in common or token in CONNECTORS or token in CAPITALISED_WORDS for token in self.key)


def legal_forms(title: str) -> list[tuple[str, ...]]:
    """The title's legal forms, longest first (see the module docstring); empty when nothing is left."""
    text = _NATIONAL_ASSOCIATION.sub("", _A_S.sub(" AS", _DOTTED.sub(lambda m: m.group().replace(".", ""), title)))
    previous = None
    while previous != text:
        previous, text = text, _NOTES.sub("", text)
    text = _SHARE_CLASS.sub("", text)
    words = [token.lower() for token in tokens(text)]
    while words and words[0] == "the":
        words = words[1:]
    forms: list[tuple[str, ...]] = []
    while words:
        if not forms or tuple(words) != forms[-1]:
            forms.append(tuple(words))
        if words[-1] not in LEGAL or len(words) == 1:
            break
        words = words[:-1]
    return [form for form in forms if form[-1] not in LEGAL and form[-1] not in CONNECTORS]


def aliases_from_title(title: str) -> tuple[str, list[Alias]]:
    """``(canonical name, aliases)`` of an SEC title; the canonical name is ``""`` when the title is unusable."""
    forms = legal_forms(title)
    if not forms:
        return "", []
    canonical = forms[-1]
    aliases = [Alias(form) for form in forms]
    if len(canonical) >= 2 and canonical[-1] in DESCRIPTORS and canonical[-2] not in CONNECTORS:
        short = Alias(canonical[:-1], short=True)
        if max(map(len, short.key)) >= MIN_SINGLE_CHARS and (len(short.key) > 1 or not short.everyday):
            # not "First BanCorp" -> "First", nor "S&P Global" -> "S & P"
            aliases.append(short)
    usable = [
        alias for alias in aliases
        if len(alias.key) > 1 or (len(alias.key[0]) >= MIN_SINGLE_CHARS and alias.key[0] not in NEWS_ACRONYMS)
    ]
    return " ".join(canonical), usable


_SHORT_AMPERSAND = re.compile(r"\b(\w{1,2}) & (\w{1,2})\b")


def entity_name(name: str) -> str:
    """The entity-scope key of a written name: its legal form, lower case, tokens joined by single spaces.

    An apostrophe does not split a word ("McDonald's" -> ``mcdonalds``), short ``&`` names stay one word
    (``at&t``), and a name that would be one everyday word keeps its legal suffix (``news corp``, not ``news``).
    """
    forms = legal_forms(name.replace("'", "").replace("’", ""))
    if not forms:
        return ""
    key = forms[-1][:-1] if len(forms[-1]) > 1 and forms[-1][-1] == "com" else forms[-1]
    if len(key) == 1 and Alias(key).everyday:
        words = [token.lower() for token in tokens(name)]
        key = tuple(words[: max(2, len(key))]) if len(words) > 1 else key
    return _SHORT_AMPERSAND.sub(r"\1&\2", " ".join(key))
