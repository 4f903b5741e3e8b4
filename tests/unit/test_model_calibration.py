"""Smoothed int8 (activation calibration stored in the model directory): closer to fp32, still batch-invariant."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from monitor.stages.model.calibrate import CALIBRATION_FILE, calibrate, calibration_version, load_calibration
from monitor.stages.model.engine import Engine
from monitor.stages.model.quant import RowInt8Linear, int_mm_available, quantize_rows, smoothing_factors
from tests.support.model_builders import build_tiny_model_dir

pytestmark = pytest.mark.skipif(not int_mm_available(), reason="this torch build has no CPU torch._int_mm")

TEXTS = [
    "Acme plunges 30% after guidance cut, downgraded to sell",
    "Acme shares soar to record high after earnings beat",
    "Fed holds rates steady",
    "Bank seized as depositors pull cash",
    "Ford names new CFO",
    "$TSLA recalls 2 million cars over autopilot concerns https://t.co/x",
]


@pytest.fixture(scope="module")
def calibrated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build_tiny_model_dir(tmp_path_factory.mktemp("calibrated") / "model", seed=4)
    calibrate(path, TEXTS, alpha=0.5, max_tokens=32)
    return path


def test_smoothing_brings_int8_closer_to_fp32_when_a_few_channels_are_large() -> None:
    torch.manual_seed(2)
    linear = torch.nn.Linear(64, 32)
    x = torch.randn(200, 64)
    x[:, :3] *= 60.0  # outlier channels, as the encoder's FFN and attention-output inputs have
    reference = linear(x)
    plain = RowInt8Linear(linear)(x)
    smoothed = RowInt8Linear(linear, smoothing_factors(x.abs().amax(dim=0), linear.weight, 0.5))(x)
    plain_error = (plain - reference).abs().mean()
    smoothed_error = (smoothed - reference).abs().mean()
    assert smoothed_error < 0.6 * plain_error, (float(smoothed_error), float(plain_error))


def test_query_key_and_value_share_one_set_of_factors_so_they_can_be_fused(calibrated_dir: Path) -> None:
    from monitor.stages.model.modeldir import load_model_dir

    calibration = load_calibration(calibrated_dir)
    assert calibration is not None and calibration.alpha == 0.5
    model: Any = quantize_rows(load_model_dir(calibrated_dir).model, act_max=calibration.maxima,
                               alpha=calibration.alpha)  # Any: Hugging Face sub-modules the type checker cannot see
    attention = model.encoder.encoder.layer[0].attention.self
    factors = [part.inverse_smooth for part in (attention.query, attention.key, attention.value)]
    assert all(f is not None for f in factors)
    assert torch.equal(factors[0], factors[1]) and torch.equal(factors[0], factors[2])
    assert model.encoder.encoder.layer[0].output.dense.inverse_smooth is not None


def test_engine_uses_the_calibration_and_says_which(calibrated_dir: Path, tmp_path: Path) -> None:
    smoothed = Engine(calibrated_dir, device="cpu", max_tokens=32, int8=True)
    assert smoothed.describe()["int8_calibration"] == calibration_version(calibrated_dir) != ""
    plain_dir = tmp_path / "plain"
    shutil.copytree(calibrated_dir, plain_dir)
    (plain_dir / CALIBRATION_FILE).unlink()
    plain = Engine(plain_dir, device="cpu", max_tokens=32, int8=True)
    assert plain.describe()["int8_calibration"] == ""
    fp32 = Engine(calibrated_dir, device="cpu", max_tokens=32).probabilities(TEXTS)
    assert np.abs(smoothed.probabilities(TEXTS).sentiment - fp32.sentiment).max() < 0.05
    assert not np.array_equal(smoothed.probabilities(TEXTS).sentiment, plain.probabilities(TEXTS).sentiment)


def test_smoothed_int8_labels_do_not_depend_on_batch_mates(calibrated_dir: Path) -> None:
    engine = Engine(calibrated_dir, device="cpu", batch_size=4, max_tokens=32, int8=True)
    assert engine.packed and engine.int8_calibration
    rng = random.Random(7)
    for text in TEXTS:
        alone = engine.probabilities([text])
        mates = rng.sample(TEXTS, 4)
        among = engine.probabilities([*mates, text, *mates])
        np.testing.assert_allclose(among.sentiment[len(mates)], alone.sentiment[0], atol=1e-6)
        np.testing.assert_allclose(among.topic[len(mates)], alone.topic[0], atol=1e-6)


def test_the_backtest_score_cache_key_changes_with_the_calibration(calibrated_dir: Path, tmp_path: Path) -> None:
    from monitor.ground.settings import Settings
    from monitor.history.model import model_identity

    copy = tmp_path / "model"
    shutil.copytree(calibrated_dir, copy)
    settings = Settings(model_path=copy, int8=True, device="cpu")
    with_calibration = model_identity(settings).cache_key
    assert f"int8s-{calibration_version(copy)}" in with_calibration
    (copy / CALIBRATION_FILE).unlink()
    assert model_identity(settings).cache_key != with_calibration
    assert "|int8|" in model_identity(settings).cache_key


def test_calibration_refuses_no_texts(calibrated_dir: Path) -> None:
    with pytest.raises(ValueError, match="at least one text"):
        calibrate(calibrated_dir, [])


def test_a_broken_or_foreign_calibration_is_refused_with_the_fix(calibrated_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from monitor.stages.model.modeldir import ModelDirError

    broken = tmp_path / "broken"
    shutil.copytree(calibrated_dir, broken)
    (broken / CALIBRATION_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(ModelDirError, match="cannot be read.*monitor.stages.model.calibrate"):
        Engine(broken, device="cpu", int8=True)
    foreign = tmp_path / "foreign"
    shutil.copytree(calibrated_dir, foreign)
    maxima = load_calibration(calibrated_dir).maxima  # type: ignore[union-attr]
    save_file({name: torch.ones(7) for name in maxima}, str(foreign / CALIBRATION_FILE), metadata={"alpha": "0.5"})
    with pytest.raises(ModelDirError, match="does not fit these weights.*monitor.stages.model.calibrate"):
        Engine(foreign, device="cpu", int8=True)
    assert Engine(foreign, device="cpu").int8_calibration == ""  # fp32 never reads it
