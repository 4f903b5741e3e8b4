"""Training specification: the loss falls, the saved directory reloads to the same predictions, runs resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from monitor.stages.model import train as train_module
from monitor.stages.model.engine import Engine, forward_sorted, truncating_tokenizer
from monitor.stages.model.modeldir import load_model_dir
from monitor.stages.model.train import TrainingInterrupted, train
from monitor.stages.model.trainconfig import TrainConfig
from tests.support.model_builders import build_tiny_base, write_toy_datasets


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    sent, topic = write_toy_datasets(root / "data")
    return {"base": build_tiny_base(root / "base"), "sent": sent, "topic": topic, "root": root}


def tiny_config(setup: dict[str, Path], out: Path, **overrides: object) -> TrainConfig:
    values: dict[str, object] = dict(
        out=str(out), base=str(setup["base"]), sentiment_data=str(setup["sent"]), topic_data=str(setup["topic"]),
        epochs=4, batch_size=8, lr=2e-3, warmup_ratio=0.1, patience=10, device="cpu", save_dtype="fp32",
        eval_batch_size=32, label_smoothing=0.0,
    )
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_tiny_run_lowers_the_loss_and_reloads_to_the_same_predictions(tiny_setup: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    result = train(tiny_config(tiny_setup, tmp_path / "model"))

    info = json.loads((result.model_dir / "bearwatch.json").read_text())
    losses = [row["train_loss"] for row in info["history"]]
    assert losses[-1] < 0.7 * losses[0], losses
    for name in ("model.safetensors", "tokenizer.json", "label_maps.json", "config.json", "metrics.json",
                 "MODEL_CARD.md", "int8_calibration.safetensors"):
        assert (result.model_dir / name).is_file(), name
    metrics = json.loads((result.model_dir / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "weighted_f1", "per_class", "confusion_matrix"} <= set(metrics["sentiment"])

    texts = ["Tesla plunges after recall", "Apple raises dividend", "Fed raises rates", "", "Ford names new CFO"]
    engine = Engine(result.model_dir, device="cpu", batch_size=2)
    reloaded = engine.probabilities(texts)
    loaded = load_model_dir(result.model_dir)
    fast = truncating_tokenizer(loaded.tokenizer, 64)
    from monitor.ground.text import clean_text

    ids = [e.ids for e in fast.encode_batch([clean_text(t) for t in texts])]
    in_memory = forward_sorted(result.model, ids, 0, 8, torch.device("cpu"), 20, 3)
    np.testing.assert_allclose(reloaded.topic, in_memory[0], atol=1e-5)
    np.testing.assert_allclose(reloaded.sentiment, in_memory[1], atol=1e-5)


def test_an_interrupted_run_resumes_to_the_same_weights(tiny_setup: dict[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = dict(epochs=2, validation=False)
    straight = train(tiny_config(tiny_setup, tmp_path / "straight", **overrides))

    real_pad, calls = train_module.pad_batch, {"n": 0}

    def interrupt_at_step_9(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return real_pad(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(train_module, "pad_batch", interrupt_at_step_9)
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(tiny_config(tiny_setup, tmp_path / "resumed", **overrides))
    monkeypatch.setattr(train_module, "pad_batch", real_pad)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(tiny_setup, tmp_path / "resumed", **overrides))
    resumed = train(tiny_config(tiny_setup, tmp_path / "resumed", resume=True, **overrides))

    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, atol=1e-6, rtol=0, msg=key)
    assert not (tmp_path / "resumed" / "checkpoint").exists()


def test_lora_training_writes_a_plain_model_directory(tiny_setup: dict[str, Path], tmp_path: Path) -> None:
    result = train(tiny_config(tiny_setup, tmp_path / "lora", lora=True, lora_rank=4, epochs=1, max_steps=4,
                               validation=False, save_dtype="fp16"))

    from safetensors import safe_open

    with safe_open(str(result.model_dir / "model.safetensors"), "pt") as handle:
        keys = list(handle.keys())
        assert handle.get_tensor("topic_head.weight").dtype == torch.float16
    assert not [k for k in keys if "lora" in k or "base_model" in k]
    scored = Engine(result.model_dir, device="cpu").score(["Boeing misses estimates"])
    assert scored[0].sentiment in {"negative", "neutral", "positive"}


def test_training_refuses_to_overwrite_a_model_silently(tiny_setup: dict[str, Path], tmp_path: Path) -> None:
    config = tiny_config(tiny_setup, tmp_path / "m", epochs=1, max_steps=1, validation=False)
    train(config)
    with pytest.raises(FileExistsError, match="--overwrite"):
        train(config)


def test_bearwatch_train_command_writes_a_model(tiny_setup: dict[str, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from monitor.stages.model.cli import register

    app = typer.Typer()
    register(app)
    monkeypatch.setenv("BEARWATCH_DEVICE", "cpu")
    out = tmp_path / "cli-model"
    args = ["train", "--out", str(out), "--base", str(tiny_setup["base"]), "--sentiment-data", str(tiny_setup["sent"]),
            "--topic-data", str(tiny_setup["topic"]), "--epochs", "1", "--max-steps", "2", "--batch-size", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "metrics.json").is_file() and "model written to" in result.output
    # the runner's output is not a terminal: progress comes as plain lines, not only a bar at the end
    assert "s/step, ETA" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_standalone_trainer_names_a_missing_start_model_in_one_line(tiny_setup: dict[str, Path], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.stages.model.train import main

    args = ["--out", str(tmp_path / "out"), "--base", str(tiny_setup["base"]), "--sentiment-data",
            str(tiny_setup["sent"]), "--topic-data", str(tiny_setup["topic"]), "--init-from", str(tmp_path / "gone")]
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) <= 2 and "gone" in error and "does not exist" in error and "Traceback" not in error
