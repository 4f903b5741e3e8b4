"""The on-disk model directory: what :mod:`train` writes and what the engine and ``evaluate`` load.

Layout (all plain files, no pickle)::

    model.safetensors   both heads and the encoder, fp16 or fp32
    config.json         the encoder's transformers config
    tokenizer.json ...  the tokenizer (fast, ``tokenizers`` format)
    label_maps.json     head output order (checked against :mod:`monitor.stages.model.labels`)
    bearwatch.json      name, base, pooling, max_tokens, training config
    metrics.json        validation report; MODEL_CARD.md  human summary
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from monitor.ground.errors import BearwatchError
from monitor.stages.model.labels import LabelMapError, LabelMaps, check_label_maps
from monitor.stages.model.network import TwoHeadClassifier

WEIGHTS_FILE = "model.safetensors"
INFO_FILE = "bearwatch.json"
FORMAT_VERSION = 1


class ModelDirError(FileNotFoundError, BearwatchError):
    """A model directory is missing or incomplete; the message names the path and the fix."""


@dataclass
class LoadedModel:
    model: TwoHeadClassifier
    tokenizer: Any
    labels: LabelMaps
    info: dict[str, Any]
    name: str
    version: str


def save_model_dir(model: TwoHeadClassifier, tokenizer: Any, labels: LabelMaps, info: dict[str, Any],
                   out: Path, dtype: torch.dtype = torch.float16) -> None:
    """Write weights (cast to ``dtype``), encoder config, tokenizer, label maps and ``bearwatch.json``."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).clone().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE), metadata={"format": "pt", "bearwatch": str(FORMAT_VERSION)})
    model.encoder.config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    labels.save(out)
    full = {"format": FORMAT_VERSION, **info, "weights_dtype": str(dtype).removeprefix("torch.")}
    (out / INFO_FILE).write_text(json.dumps(full, indent=2, default=str) + "\n", encoding="utf-8")


def weights_version(path: Path) -> str:
    """First 12 hex digits of the weights' SHA-256: changes whenever the model does, whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def check_model_dir(path: Path) -> None:
    """Fail early, naming the path and the fix, when a directory cannot be a Bearwatch model."""
    fix = ("train one with `bearwatch train --out DIR` or point --model / BEARWATCH_MODEL_PATH at an existing "
           "model directory (the repo ships models/default)")
    if not path.exists():
        raise ModelDirError(f"model directory {path} does not exist: {fix}")
    if not path.is_dir():
        raise ModelDirError(f"model path {path} is not a directory: {fix}")
    missing = [name for name in (WEIGHTS_FILE, "config.json", "label_maps.json", INFO_FILE)
               if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"model directory {path} is incomplete (missing {', '.join(missing)}): {fix}")


def load_model_dir(path: Path, expected: LabelMaps | None = None) -> LoadedModel:
    """Load a model directory for inference, in fp32 (fp16 weights are upcast; CPU kernels want fp32).

    Refuses a directory whose label maps differ from ``expected`` (default: this version's maps) or disagree with
    the heads' sizes, so labels are never read with the wrong names.
    """
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = Path(path)
    check_model_dir(path)
    labels = LabelMaps.load(path)
    check_label_maps(labels, expected or LabelMaps(), where=f"model directory {path}")
    info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))
    state = load_file(str(path / WEIGHTS_FILE))
    for head, names in (("topic_head", labels.topic), ("sentiment_head", labels.sentiment)):
        rows = state.get(f"{head}.weight", torch.empty(0)).shape[0]
        if rows != len(names):
            raise LabelMapError(f"model directory {path}: {head} has {rows} outputs but label_maps.json lists "
                                f"{len(names)} labels; the directory is inconsistent, retrain or re-export it")
    config = AutoConfig.from_pretrained(path)
    encoder = AutoModel.from_config(config, dtype=torch.float32)
    model = TwoHeadClassifier(encoder, len(labels.topic), len(labels.sentiment), info.get("pooling", "mean"))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelDirError(f"model directory {path} has no fast tokenizer (tokenizer.json); re-save it")
    return LoadedModel(model, tokenizer, labels, info, str(info.get("name") or path.name),
                       weights_version(path / WEIGHTS_FILE))
