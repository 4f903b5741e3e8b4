"""Scored-headline evaluation (the out-of-domain SemEval-style set): reading, both views, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from monitor.stages.model.data import DataError
from monitor.stages.model.labels import SENTIMENT_LABELS
from monitor.stages.model.scored import DEFAULT_OOD, is_scored_source, load_scored, scored_report
from tests.support.model_builders import build_tiny_model_dir

ROWS = [
    ("1", "Acme", "Acme profit jumps, shares rise", "0.6"),
    ("2", "Acme", "Acme profit jumps, shares rise", "0.4"),  # same title twice: one headline, mean score
    ("3", "Bolt", "Bolt warns on sales", "-0.5"),
    ("4", "Bolt", "Bolt buys Acme", "0.3"),  # scored with opposite signs toward two companies: dropped
    ("5", "Acme", "Bolt buys Acme", "-0.2"),
    ("6", "Core", "Core holds AGM", "0"),
    ("7", "Dash", "Dash raises Â£10m", "0.05"),
]


def write_scored(path: Path, rows: list[tuple[str, ...]] = ROWS) -> Path:
    lines = ['"id","company","title","sentiment score"'] + [",".join(f'"{v}"' for v in row) for row in rows]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")  # with a BOM, like the real file
    return path


def test_headline_view_merges_repeats_drops_conflicts_and_fixes_mojibake(tmp_path: Path) -> None:
    data = load_scored(write_scored(tmp_path / "h.csv"))
    assert data.rows == 7 and data.dropped == 1
    by_text = dict(zip(data.texts, data.scores.tolist(), strict=True))
    assert by_text == pytest.approx({"Acme profit jumps, shares rise": 0.5, "Bolt warns on sales": -0.5,
                                     "Core holds AGM": 0.0, "Dash raises £10m": 0.05})
    assert is_scored_source(tmp_path / "h.csv") and is_scored_source(tmp_path)


def test_both_views_against_hand_computed_values(tmp_path: Path) -> None:
    data = load_scored(write_scored(tmp_path / "h.csv"))
    order = {name: i for i, name in enumerate(SENTIMENT_LABELS)}
    rows = {"Acme profit jumps, shares rise": (0.1, 0.3, 0.6),  # (neg, neu, pos): right sign, positive
            "Bolt warns on sales": (0.2, 0.7, 0.1),  # right sign (p_pos - p_neg < 0), but argmax neutral
            "Core holds AGM": (0.1, 0.8, 0.1),  # score 0: left out of pos/neg
            "Dash raises £10m": (0.5, 0.4, 0.1)}  # gold positive (0.05 > 0) but model says negative
    probs = np.zeros((len(data.texts), 3))
    for i, text in enumerate(data.texts):
        neg, neu, pos = rows[text]
        probs[i, [order["negative"], order["neutral"], order["positive"]]] = (neg, neu, pos)
    report = scored_report(probs, data, neutral_band=0.1)
    assert report["pos_neg"]["n"] == 3 and report["pos_neg"]["accuracy"] == pytest.approx(2 / 3)
    assert report["pos_neg"]["recall"] == pytest.approx({"positive": 0.5, "negative": 1.0})
    assert report["pos_neg"]["majority_floor"] == pytest.approx(2 / 3)
    three = report["three_class"]  # gold: pos, neg, neu, neu (0.05 < band); predicted: pos, neu, neu, neg
    assert three["n"] == 4 and three["accuracy"] == pytest.approx(2 / 4)
    assert three["majority_floor"] == pytest.approx(2 / 4)


def test_bad_scored_files_give_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="outside"):
        load_scored(write_scored(tmp_path / "a.csv", [("1", "A", "A rises", "3")]))
    with pytest.raises(DataError, match="not a number"):
        load_scored(write_scored(tmp_path / "b.csv", [("1", "A", "A rises", "high")]))
    (tmp_path / "c.csv").write_text("text,label\nA rises,1\n", encoding="utf-8")
    assert not is_scored_source(tmp_path / "c.csv")
    with pytest.raises(DataError, match="sentiment score"):
        load_scored(tmp_path / "c.csv")


@pytest.mark.skipif(not DEFAULT_OOD.is_dir(), reason=f"{DEFAULT_OOD} is missing (lives in ../shared/data)")
def test_the_shared_semeval_set_reads_as_documented() -> None:
    data = load_scored()
    assert data.rows == 1142 and 900 < len(data.texts) < 1000 and data.dropped > 0
    assert not any("Â" in text for text in data.texts)


def test_cli_evaluate_reads_a_scored_set(tmp_path: Path) -> None:
    from monitor.shell.cli import app as bearwatch

    assert isinstance(bearwatch, typer.Typer)
    model = build_tiny_model_dir(tmp_path / "model")
    path = write_scored(tmp_path / "h.csv")
    result = CliRunner().invoke(bearwatch, ["evaluate", "--data", str(path), "--model", str(model), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kind"] == "scored" and report["pos_neg"]["n"] == 3 and report["three_class"]["n"] == 4
    table = CliRunner().invoke(bearwatch, ["evaluate", "--data", str(tmp_path), "--model", str(model)])
    assert table.exit_code == 0 and "pos/neg" in table.output and "majority" in table.output
    refused = CliRunner().invoke(bearwatch, ["evaluate", "--data", str(path), "--head", "topic", "--model",
                                             str(model)])
    assert refused.exit_code != 0 and "sentiment head" in refused.output
