"""Lexicon weak labels for news headlines, and training with them added to the sentiment pool."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from monitor.stages.model.weak_labels import build_weak_set, main, read_titles, strip_wire_tags, weak_label


@pytest.mark.parametrize(("title", "label"), [
    ("Jurong Aromatics secures $2.2 bln annual orders", "positive"),
    ("Acme wins EUR 28 million order from Siemens", "positive"),
    ("Acme net loss narrowed in the third quarter", "positive"),
    ("Gardner Denver Q2 beats Wall Street; raises FY profit view", "positive"),
    ("Signet Jewelers profit rises on higher prices", "positive"),
    ("Regulator grants approval for Acme drug", "positive"),
    ("LG Electronics handset loss widens", "negative"),
    ("Polycom plunges on competitor worries", "negative"),
    ("Silicon Valley Bank seized as depositors pull cash", "negative"),
    ("Acme to cut 1,480 jobs; layoffs hit Croatia mill", "negative"),
    ("Automakers warn of fragile demand", "negative"),
    ("China Unicom H1 profit falls but beats forecast", None),  # hedge word "but" and both directions
    ("Will Acme shares rise?", None),  # a question
    ("Acme could face probe", None),  # speculation
    ("Acme names new chief executive", None),  # no direction word
    ("Acme's net loss for the year", None),  # "loss" alone is no direction
    ("Acme signs EUR 40 mln supply agreement with Nokia", "positive"),
    ("Acme swings to quarterly profit", "positive"),
    ("Acme posts wider quarterly loss", "negative"),
    ("Acme shares slide after profit warning", "negative"),  # "after" joins two events of one direction
    ("Acme rises after rival falls", None),  # ... or of two: both match, no label
    ("Lender has collapsed, regulator says", None),  # reported speech hedges
    ("Acme halts output at its Texas plant", "negative"),
    ("Index futures higher on upbeat earnings", "positive"),
])
def test_weak_label_is_given_only_for_one_unhedged_direction(title: str, label: str | None) -> None:
    assert weak_label(title) == label


def test_wire_tags_are_stripped() -> None:
    assert strip_wire_tags("RPT-UPDATE 2-Acme rises") == "Acme rises"
    assert strip_wire_tags("US STOCKS-Wall St falls") == "Wall St falls"
    assert strip_wire_tags("Update on Acme") == "Update on Acme"


def test_build_balances_classes_caps_and_respects_a_disagreeing_model() -> None:
    titles = [f"Acme {i} shares jump" for i in range(30)] + [f"Acme {i} shares plunge" for i in range(10)]
    titles += ["Acme names new chief executive"]
    weak = build_weak_set(titles, cap=100, seed=1)
    assert weak.counts == {"titles": 41, "matched": 40, "negative": 10, "positive": 10}
    assert sorted(weak.labels) == ["negative"] * 10 + ["positive"] * 10
    assert len(build_weak_set(titles, cap=8).texts) == 8

    def scorer(texts: list[str]) -> np.ndarray:  # [p_neg, p_pos]: strongly negative on the first 20 jumps
        return np.array([[0.9, 0.05] if t.split()[1].isdigit() and int(t.split()[1]) < 20 and "jump" in t
                         else [0.1, 0.1] for t in texts])

    filtered = build_weak_set(titles, cap=100, scorer=scorer)
    assert filtered.counts["model_agrees"] == 20 and filtered.counts["positive"] == 10
    assert all(int(t.split()[1]) >= 20 for t, label in zip(filtered.texts, filtered.labels, strict=True)
               if label == "positive")


def test_command_writes_a_training_csv_from_headline_files(tmp_path: Path) -> None:
    source = tmp_path / "news.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticker", "title"])
        writer.writerows([("A", "UPDATE 1-Acme shares jump"), ("B", "UPDATE 1-Acme shares jump"),
                          ("C", "Beta shares plunge"), ("D", "Gamma names a chief")])
    assert read_titles([source]) == ["Acme shares jump", "Beta shares plunge", "Gamma names a chief"]
    out = tmp_path / "weak.csv"
    main([str(source), "--out", str(out)])
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted((r["text"], r["label"]) for r in rows) == [("Acme shares jump", "positive"),
                                                             ("Beta shares plunge", "negative")]


def test_training_adds_weak_headlines_to_the_sentiment_pool(tmp_path: Path) -> None:
    from monitor.stages.model.train import train
    from monitor.stages.model.trainconfig import TrainConfig
    from tests.support.model_builders import build_tiny_model_dir, write_toy_datasets

    sent, topic = write_toy_datasets(tmp_path / "data")
    weak = tmp_path / "weak.csv"
    weak.write_text("text,label\nAcme shares jump,positive\nBeta shares plunge,negative\n", encoding="utf-8")
    config = TrainConfig(out=str(tmp_path / "out"), init_from=str(build_tiny_model_dir(tmp_path / "start")),
                         sentiment_data=str(sent), topic_data=str(topic), epochs=1, batch_size=8, lr=1e-3,
                         device="cpu", save_dtype="fp32", topic_fraction=0.5, eval_batch_size=32,
                         weak_headlines=str(weak), validation=False)
    result = train(config)
    info = json.loads((result.model_dir / "bearwatch.json").read_text())
    assert info["training"]["weak_headlines"] == str(weak)


def test_neutral_rows_come_only_from_direction_free_titles_the_model_calls_neutral() -> None:
    titles = [f"Acme {i} shares jump" for i in range(6)] + [f"Acme {i} shares plunge" for i in range(6)]
    titles += [f"Acme {i} names a chief" for i in range(6)] + ["Acme 9 may jump"]  # hedged: never neutral

    def scorer(texts: list[str]) -> np.ndarray:  # confident neutral on even-numbered titles only
        return np.array([[0.05, 0.05] if int(t.split()[1]) % 2 == 0 else [0.3, 0.3] for t in texts])

    weak = build_weak_set(titles, cap=30, scorer=scorer, neutral=True)
    neutral = [t for t, label in zip(weak.texts, weak.labels, strict=True) if label == "neutral"]
    assert sorted(neutral) == ["Acme 0 names a chief", "Acme 2 names a chief", "Acme 4 names a chief"]
    assert weak.counts["negative"] == weak.counts["positive"] == weak.counts["neutral"] == 3
    with pytest.raises(ValueError, match="neutral"):
        build_weak_set(titles, neutral=True)


def test_interpolation_mixes_two_model_directories(tmp_path: Path) -> None:
    import torch

    from monitor.stages.model.modeldir import load_model_dir
    from monitor.stages.model.soup import interpolate
    from tests.support.model_builders import build_tiny_model_dir

    start, tuned = build_tiny_model_dir(tmp_path / "a", seed=0), build_tiny_model_dir(tmp_path / "b", seed=1)
    interpolate(start, tuned, 0.25, tmp_path / "mix")
    a, b, mix = (load_model_dir(d).model.state_dict() for d in (start, tuned, tmp_path / "mix"))
    name = next(k for k, v in a.items() if v.is_floating_point() and not torch.equal(v, b[k]))
    expected = (0.75 * a[name].float() + 0.25 * b[name].float()).to(mix[name].dtype)
    assert torch.allclose(mix[name].float(), expected.float(), atol=1e-3)
    assert json.loads((tmp_path / "mix" / "bearwatch.json").read_text())["interpolation"]["alpha"] == 0.25
