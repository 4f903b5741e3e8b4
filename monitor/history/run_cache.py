"""The backtest's run cache: the scored stories of a file, so that iterating on rules re-runs only the detector.

Reading, normalising, de-duplicating (the near-duplicate search is the slow part) and scoring a file are a pure
function of the file's bytes, the reading options and ``--from``/``--to``, the watchlist and de-duplication
knobs, the model (every file of the model directory, ``max_tokens``, int8 and the requested device) and the code
that does it. The cache key hashes all of these (the code as the source text of ``consumers/`` and the worker's
scorer), so any change misses and the run is done afresh; a hit loads the scored stories and the reading report
in well under a second, without Redis or the model. Entries live next to the score cache
(``var/cache/runs/<key>.pkl``, a local file this program wrote; the newest :data:`KEEP` are kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from consumers.replay.readers import ReadOptions
from consumers.replay.source import SourceReport
from monitor.ground.contracts import ModelInfo, ScoredStory
from monitor.ground.settings import Settings

log = logging.getLogger(__name__)
FORMAT = 1
KEEP = 8
_ROOT = Path(__file__).resolve().parents[2]
_CODE = ("consumers", "monitor/stages/worker/scoring.py", "monitor/ground/contracts.py", "monitor/ground/text.py")


@dataclass
class CachedRun:
    report: SourceReport
    stories: list[ScoredStory]
    dead: int
    model: ModelInfo


def _digest_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        if path.is_file():
            digest.update(str(path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _code_files() -> list[Path]:
    files: list[Path] = []
    for name in _CODE:
        path = _ROOT / name
        files += sorted(path.rglob("*.py")) + sorted(path.rglob("*.toml")) + sorted(path.rglob("*.lua")) \
            if path.is_dir() else [path]
    return files


def run_key(settings: Settings, path: Path, read: ReadOptions, since: datetime | None, until: datetime | None) -> str:
    """The cache key of a backtest's scored stories (see the module docstring)."""
    model_dir = settings.model_path
    parts = {
        "format": FORMAT,
        "file": _digest_files([path]),
        "read": repr(read),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "model": _digest_files(list(model_dir.iterdir())) if model_dir.is_dir() else str(model_dir),
        "model_options": [settings.max_tokens, settings.int8, settings.device],
        "watchlist": _digest_files([settings.watchlist_file]) if settings.watchlist_file else None,
        "settings": settings.model_dump_json(include={"bucket_seconds"}),
        "code": _digest_files(_code_files()),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


class RunCache:
    """Example::

        cache = RunCache(Path("var/cache/runs"))
        found = cache.get(key)            # CachedRun or None
        cache.put(key, CachedRun(report, scored, dead, model))
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> CachedRun | None:
        path = self.folder / f"{key}.pkl"
        try:
            with path.open("rb") as handle:
                found = pickle.load(handle)  # noqa: S301 - a file this program wrote under var/
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a damaged entry is a miss, never a failed backtest
            log.warning("run cache entry %s unreadable (%s): scoring afresh", path, type(exc).__name__)
            return None
        return found if isinstance(found, CachedRun) else None

    def put(self, key: str, run: CachedRun) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f"{key}.tmp"
        with temporary.open("wb") as handle:
            pickle.dump(run, handle, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(self.folder / f"{key}.pkl")
        entries = sorted(self.folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
