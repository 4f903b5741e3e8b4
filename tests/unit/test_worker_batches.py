"""The worker's three batch settings: messages per read, texts per forward pass, scored stories per aggregate read.

``batch_size`` used to mean all three (with a hidden floor of 64 for the aggregate); it stays accepted as the old
name of ``model_batch`` so existing configurations keep their model batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.ground.settings import SettingsError, load_settings, unknown_env_vars
from monitor.stages.worker import capacity


@pytest.fixture(autouse=True)
def _no_batch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BATCH_SIZE", "MODEL_BATCH", "CONSUME_BATCH", "AGGREGATE_BATCH"):
        monkeypatch.delenv(f"BEARWATCH_{name}", raising=False)


def test_defaults_read_eight_forward_passes_and_aggregate_128() -> None:
    settings = load_settings()
    assert (settings.model_batch, settings.consume_batch, settings.aggregate_batch) == (32, 0, 128)
    assert capacity.read_batch(settings) == 8 * 32
    assert capacity.read_ahead(settings) == capacity.READ_AHEAD_BATCHES * 8 * 32


def test_each_batch_is_its_own_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEARWATCH_MODEL_BATCH", "16")
    monkeypatch.setenv("BEARWATCH_CONSUME_BATCH", "500")
    monkeypatch.setenv("BEARWATCH_AGGREGATE_BATCH", "7")
    settings = load_settings()
    assert (settings.model_batch, capacity.read_batch(settings), settings.aggregate_batch) == (16, 500, 7)
    assert capacity.engine_settings(settings).model_batch == 16
    assert not unknown_env_vars()


def test_batch_size_is_a_deprecated_alias_of_model_batch(monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("BEARWATCH_BATCH_SIZE", "8")
    settings = load_settings()
    assert settings.model_batch == 8 and capacity.read_batch(settings) == 8 * capacity.READ_BATCHES
    assert "BEARWATCH_BATCH_SIZE" in caplog.text and "deprecated" in caplog.text
    monkeypatch.setenv("BEARWATCH_MODEL_BATCH", "24")
    assert load_settings().model_batch == 24, "the new name wins over the old one"


def test_batch_size_in_a_config_file_still_sets_the_model_batch(tmp_path: Path) -> None:
    config = tmp_path / "bearwatch.toml"
    config.write_text("batch_size = 64\n")
    assert load_settings(config).model_batch == 64


def test_a_bad_batch_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEARWATCH_CONSUME_BATCH", "-1")
    with pytest.raises(SettingsError, match="BEARWATCH_CONSUME_BATCH"):
        load_settings()
