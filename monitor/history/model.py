"""Which model a backtest scores with, known without loading it: name, version and the score-cache key.

The version is the weights' SHA-256 prefix
(:func:`monitor.stages.model.modeldir.weights_version`, what the engine itself
reports), so a fully cached backtest never loads torch weights at all; the engine is built only on the first
cache miss, from the same settings the worker uses (:meth:`Engine.from_settings`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from monitor.ground.contracts import ModelInfo
from monitor.ground.settings import Settings
from monitor.stages.model.calibrate import calibration_version
from monitor.stages.model.engine import Engine, pick_device
from monitor.stages.model.modeldir import INFO_FILE, WEIGHTS_FILE, check_model_dir, weights_version


@dataclass(frozen=True)
class ModelIdentity:
    info: ModelInfo
    cache_key: str
    load: Callable[[], Engine]


def model_identity(settings: Settings) -> ModelIdentity:
    """Name and version as the engine reports them, and a cache key covering everything that changes a score."""
    path = settings.model_path
    check_model_dir(path)
    info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
    version = weights_version(path / WEIGHTS_FILE)
    device = pick_device(settings.device).type
    precision = "int8" if settings.int8 and device == "cpu" else ("fp32" if device == "cpu" else "cuda-auto")
    if precision == "int8" and (calibration := calibration_version(path)):
        precision = f"int8s-{calibration}"  # smoothed int8: its scores change with the calibration file
    key = f"{version}|t{settings.max_tokens}|{precision}|{device}"
    model = ModelInfo(name=str(info.get("name") or path.name), version=version)
    return ModelIdentity(model, key, partial(Engine.from_settings, settings))
