"""Settings: one clear line naming the setting for a bad value; env overrides the TOML file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.ground.settings import SettingsError, load_settings
from monitor.ground.stack.process import free_port


def test_wrong_type_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEARWATCH_BATCH_SIZE", "lots")
    with pytest.raises(SettingsError, match=r"BEARWATCH_BATCH_SIZE is invalid: .*integer.*'lots'"):
        load_settings()


def test_bad_kafka_url_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEARWATCH_KAFKA_URL", "not a url")
    with pytest.raises(SettingsError, match="BEARWATCH_KAFKA_URL.*host:port"):
        load_settings()


def test_toml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bearwatch.toml"
    config.write_text('batch_size = 16\nmax_tokens = 96\n[topics]\nraw = "custom.raw"\n')
    monkeypatch.setenv("BEARWATCH_BATCH_SIZE", "8")
    settings = load_settings(config)
    assert (settings.batch_size, settings.max_tokens, settings.topics.raw) == (8, 96, "custom.raw")


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "bearwatch.toml"
    config.write_text("batch_sise = 16\n")
    with pytest.raises(SettingsError, match="'batch_sise' is unknown"):
        load_settings(config)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "monitor.shell.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=240)


def test_cli_prints_one_line_for_a_bad_setting() -> None:
    result = _run_cli("up", env={"BEARWATCH_HTTP_PORT": "eighty"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "BEARWATCH_HTTP_PORT" in lines[0], result.stderr


def test_unreachable_redis_url_gives_one_clear_line(tmp_path: Path) -> None:
    dead = free_port()
    result = _run_cli("up", env={"BEARWATCH_REDIS_URL": f"redis://127.0.0.1:{dead}/0",
                                 "BEARWATCH_VAR_DIR": str(tmp_path), "BEARWATCH_HTTP_PORT": str(free_port())})
    assert result.returncode == 2
    assert f"Redis at redis://127.0.0.1:{dead}/0 is unreachable" in result.stderr
    assert "BEARWATCH_REDIS_URL" in result.stderr
