"""Organisation names and language on each story: the extractor, the detector, and the normalised Story."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.entities import MAX_ENTITIES, extract_organisations, story_entities
from consumers.entries import RawEntry
from consumers.language import detect_language, is_english
from consumers.normalise import EntryContext, normalise_entry
from consumers.sec_table import SecRow
from consumers.tickers import TickerLinker, Watchlist

CONTEXT = EntryContext(source="wire", feed="wire-all", fetched_at=datetime(2024, 5, 1, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("title", "keys"),
    [
        ("Silicon Valley Bank shares plunge as depositors flee", ["silicon valley bank"]),
        ("Fed Raises Rates As Silicon Valley Bank Collapses", ["silicon valley bank"]),  # title case
        ("Silicon Valley Bank's collapse rattles markets", ["silicon valley bank"]),
        ("UPDATE 1-Credit Suisse shares slump", ["credit suisse"]),
        ("Bank of America profit beats", ["bank of america"]),
        ("Three Arrows Capital files for bankruptcy", ["three arrows capital"]),
        ("Do Kwon of Terraform Labs faces charges", ["terraform labs"]),
        ("Goldman Sachs Group Inc to cut jobs", ["goldman sachs"]),
        ("European Central Bank holds rates", []),  # no name word: generic words and a cue only
        ("Israeli raid in the West Bank", []),
        ("The Group said nothing", []),
        ("bank shares fall on rate fears", []),  # nothing capitalised
    ],
)
def test_extractor_finds_organisation_names_with_cues(title: str, keys: list[str]) -> None:
    assert extract_organisations(title) == keys


def test_linked_companies_come_first_under_their_canonical_name_and_keys_are_bounded() -> None:
    linker = TickerLinker(Watchlist([]), [SecRow(719739, "SIVB", "SVB FINANCIAL GROUP")])
    title = "SVB Financial shares halted as Silicon Valley Bank seeks buyer"
    links = linker.links(title)
    assert links.tickers == ["SIVB"]
    assert story_entities(title, links) == ["silicon valley bank"]  # brand name; the span is not counted twice
    many = " and ".join(f"Alpha{i} Capital" for i in range(10))
    assert len(story_entities(many)) == MAX_ENTITIES


@pytest.mark.parametrize(
    ("title", "summary", "declared", "lang"),
    [
        ("Ostatnia? Wspólnota 2,5 miliarda ludzi może bez niej nie przetrwać", "", "en-us", "pl"),
        ("Refinanzierungsängste ziehen europäische Banken in den Keller", "", None, "de"),
        ("Teenager beats Djokovic in Madrid Open epic", "", "en-us", "en-us"),  # unsure: the feed's tag stands
        ("Apple shares fall after the company cuts its forecast for the year", "", None, "en"),
        ("Fed holds", "", "en-gb", "en-gb"),  # too short to tell
        ("Fed holds", "", None, None),
    ],
)
def test_language_detection(title: str, summary: str, declared: str | None, lang: str | None) -> None:
    assert detect_language(title, summary, declared) == lang


def test_is_english_counts_unknown_as_english() -> None:
    assert is_english(None) and is_english("en-US") and not is_english("pl")


def test_normalised_story_carries_language_and_entities() -> None:
    linker = TickerLinker(Watchlist.load())
    polish = normalise_entry(RawEntry(title="Cześć, giniemy! Katastrofy w podwarszawskim lesie nie przeżył nikt",
                                      lang="en-US"), CONTEXT, linker)
    assert polish.lang == "pl"
    english = normalise_entry(RawEntry(title="Silicon Valley Bank shares plunge; Apple shares fall"), CONTEXT, linker)
    assert english.lang == "en" and english.tickers == ["AAPL"]
    assert english.entities == ["silicon valley bank", "apple inc"]  # one everyday word keeps its suffix
    assert normalise_entry(RawEntry(title="Three Arrows Capital collapses"), CONTEXT).entities == [
        "three arrows capital"]


def test_a_replayed_file_reports_its_non_english_stories_and_carries_entities(tmp_path) -> None:
    from consumers.replay.readers import ReadOptions
    from consumers.replay.source import read_stories

    path = tmp_path / "news.csv"
    path.write_text(
        "published,title\n"
        "2023-03-10T12:00:00Z,Silicon Valley Bank shares plunge as depositors flee\n"
        "2023-03-10T12:05:00Z,\"Ostatnia? Wspólnota 2,5 miliarda ludzi może bez niej nie przetrwać\"\n",
        encoding="utf-8",
    )
    stories, report = read_stories(path, ReadOptions(), TickerLinker(Watchlist.load()))
    assert report.stories == 2 and report.non_english == 1 and report.to_dict()["non_english"] == 1
    assert stories[0].entities == ["silicon valley bank"] and stories[1].lang == "pl"
