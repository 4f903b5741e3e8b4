"""A wrong or missing model directory fails at start-up with a message naming the path and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from monitor.stages.model.cli import register
from monitor.stages.model.engine import Engine
from monitor.stages.model.labels import LabelMapError
from monitor.stages.model.modeldir import ModelDirError
from tests.support.model_builders import build_tiny_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("errors") / "model")


@pytest.fixture
def app() -> typer.Typer:
    cli = typer.Typer()
    register(cli)
    return cli


def test_missing_model_directory_names_the_path_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model"
    with pytest.raises(ModelDirError) as caught:
        Engine(missing)
    assert str(missing) in str(caught.value) and "bearwatch train" in str(caught.value)


def test_incomplete_directory_lists_what_is_missing(model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "label_maps.json").unlink()
    with pytest.raises(ModelDirError, match="missing label_maps.json"):
        Engine(broken)


def test_swapped_label_map_is_refused(model_dir: Path, tmp_path: Path) -> None:
    swapped = tmp_path / "swapped"
    shutil.copytree(model_dir, swapped)
    maps = json.loads((swapped / "label_maps.json").read_text())
    maps["sentiment"] = ["positive", "neutral", "negative"]
    (swapped / "label_maps.json").write_text(json.dumps(maps))
    with pytest.raises(LabelMapError, match="sentiment label map does not match.*other order"):
        Engine(swapped)


def test_label_map_that_disagrees_with_the_head_size_is_refused(model_dir: Path, tmp_path: Path) -> None:
    from monitor.stages.model.labels import TOPIC_LABELS, LabelMaps
    from monitor.stages.model.modeldir import load_model_dir

    short = LabelMaps(topic=TOPIC_LABELS[:19])
    shorter = tmp_path / "short"
    shutil.copytree(model_dir, shorter)
    short.save(shorter)
    with pytest.raises(LabelMapError, match="topic_head has 20 outputs but label_maps.json lists 19"):
        load_model_dir(shorter, expected=short)
    with pytest.raises(LabelMapError, match="missing \\['Stock Movement'\\]"):
        Engine(shorter)


def test_cli_evaluate_reports_json_and_fails_cleanly(app: typer.Typer, model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text("text,label\nTesla plunges,0\nApple soars,1\nFord files 10-Q,2\n")
    runner = CliRunner()

    ok = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(model_dir), "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert {"accuracy", "macro_f1", "weighted_f1", "per_class"} <= set(report) and report["n"] == 3

    missing = runner.invoke(app, ["evaluate", "--data", str(data), "--model", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output and "bearwatch train" in missing.output


def test_every_model_command_help_has_an_example(app: typer.Typer) -> None:
    runner = CliRunner()
    for command in ("train", "evaluate"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example: bearwatch " + command in result.output
