"""The sentiment decision tilt: fitted on held-out weak titles, baked into the head's bias, recorded in the model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from monitor.stages.model.engine import Engine
from monitor.stages.model.labels import SENTIMENT_LABELS
from monitor.stages.model.tilt import TiltFit, balanced_accuracy, fit_tilt, held_out_titles, main, write_tilted
from tests.support.model_builders import build_tiny_model_dir


def test_the_fit_is_the_middle_of_the_best_plateau_not_its_edge() -> None:
    # positives sit at margins -0.3..-0.1 (the head leans negative), negatives at -2..-1: any tilt between 0.3 and 1.0
    # separates them perfectly; the middle of that plateau is chosen
    margins = np.array([-0.3, -0.2, -0.1, -2.0, -1.5, -1.0])
    labels = np.array([1, 1, 1, -1, -1, -1])
    fit = fit_tilt(margins, labels)
    assert balanced_accuracy(margins, labels, 0.0) == 0.5
    assert fit.balanced_accuracy == 1.0
    assert 0.3 <= fit.plateau[0] < fit.plateau[1] <= 1.0
    assert fit.tilt == pytest.approx((fit.plateau[0] + fit.plateau[1]) / 2, abs=0.01)


def test_a_fit_needs_both_directions() -> None:
    with pytest.raises(ValueError, match="both directions"):
        fit_tilt(np.array([0.1, 0.2]), np.array([1, 1]))


def test_titles_the_model_trained_on_are_not_used_for_fitting(tmp_path: Path) -> None:
    headlines = tmp_path / "headlines.csv"
    with headlines.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title"])
        writer.writerows([["Acme shares plunge on probe"], ["Acme wins big order from Siemens"],
                          ["Acme names new chief"], ["Beta profit rises on demand"]])
    trained = tmp_path / "weak.csv"
    trained.write_text("text,label\nAcme wins big order from Siemens,positive\n")
    texts, labels = held_out_titles([headlines], [trained])
    assert texts == ["Acme shares plunge on probe", "Beta profit rises on demand"]
    assert labels.tolist() == [-1, 1]


def test_writing_the_tilt_moves_the_scores_toward_positive_and_records_it(tmp_path: Path) -> None:
    model = build_tiny_model_dir(tmp_path / "model", seed=5)
    fit = TiltFit(0.6, 0.8, 0.85, (0.4, 0.8), 10, 12)
    out = write_tilted(model, tmp_path / "tilted", fit, "ten titles")
    texts = ["Acme plunges", "Fed holds rates", "Acme soars"]
    before = Engine(model, device="cpu").probabilities(texts).sentiment
    after = Engine(out, device="cpu").probabilities(texts).sentiment
    pos, neg = SENTIMENT_LABELS.index("positive"), SENTIMENT_LABELS.index("negative")
    shift = (np.log(after[:, pos]) - np.log(after[:, neg])) - (np.log(before[:, pos]) - np.log(before[:, neg]))
    np.testing.assert_allclose(shift, 0.6, atol=0.01)  # fp16 bias: a few thousandths of rounding
    info = json.loads((out / "bearwatch.json").read_text())
    assert info["sentiment_tilt"]["tilt"] == 0.6 and info["sentiment_tilt"]["fitted_on"] == "ten titles"
    assert Engine(out, device="cpu").model_version != Engine(model, device="cpu").model_version


def test_command_refuses_bad_input_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_tiny_model_dir(tmp_path / "model", seed=6)
    headlines = tmp_path / "plain.csv"
    headlines.write_text("title\nAcme names new chief\nBeta holds meeting today\n")
    for files in ([str(headlines)], [str(tmp_path / "missing.csv")]):
        with pytest.raises(SystemExit) as exited:
            main([*files, "--model", str(model), "--out", str(tmp_path / "out")])
        assert exited.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert "both directions" in error or "missing.csv" in error
    assert not (tmp_path / "out").exists()
