"""Activation calibration for the CPU int8 path: measured once per model, stored beside the weights.

Why: row-wise int8 (:mod:`monitor.stages.model.quant`) rounds each token row with one scale, and a few input
channels of some layers are far larger than the rest, so on news headlines the int8 and fp32 labels parted on
~2 % of texts (sign of the score, SemEval-2017 headlines). With fixed per-channel smoothing computed from these maxima,
int8 stays within half a point of fp32 on every set measured (docs/model.md). The maxima are constants, so the
int8 result still depends on each text alone.

The calibration texts are training tweets plus unlabelled news titles (the headline files under
``../shared/data/headlines`` when present): the domains the model reads live. Never an evaluation set.

    python -m monitor.stages.model.calibrate --model models/default
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from monitor.stages.model.modeldir import ModelDirError
from monitor.stages.model.quant import DEFAULT_ALPHA, activation_maxima

#: File in a model directory holding each linear layer's per-input-channel activation maximum.
CALIBRATION_FILE = "int8_calibration.safetensors"

#: Texts of each kind measured (tweets from the sentiment training split, news titles).
DEFAULT_TEXTS = 256

HEADLINES = Path(__file__).resolve().parents[4] / "shared" / "data" / "headlines"


@dataclass(frozen=True)
class Calibration:
    """Per-layer activation maxima and the smoothing strength they are meant for."""

    maxima: dict[str, torch.Tensor]
    alpha: float
    version: str


def calibration_version(model_dir: Path) -> str:
    """First 12 hex digits of the calibration file's SHA-256, or "" when the directory has none."""
    path = Path(model_dir) / CALIBRATION_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else ""


def load_calibration(model_dir: Path) -> Calibration | None:
    """The directory's calibration, or None when it has none (int8 then runs unsmoothed)."""
    from safetensors import safe_open

    path = Path(model_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            maxima = {key: handle.get_tensor(key).float() for key in handle.keys()}  # noqa: SIM118 (not a dict)
        alpha = float(meta.get("alpha", DEFAULT_ALPHA))
    except Exception as exc:  # safetensors raises its own error types for a truncated or foreign file
        raise ModelDirError(f"{path} cannot be read ({type(exc).__name__}: {exc}); rewrite it with "
                            f"`python -m monitor.stages.model.calibrate --model {model_dir}` or delete it "
                            "(int8 then runs unsmoothed)") from None
    return Calibration(maxima, alpha, calibration_version(model_dir))


def calibration_texts(training_texts: Sequence[str], per_kind: int = DEFAULT_TEXTS, seed: int = 13) -> list[str]:
    """``per_kind`` of ``training_texts`` and as many unlabelled news titles (none when the files are missing)."""
    from monitor.stages.model.weak_labels import read_titles

    rng = np.random.default_rng(seed)
    texts = [training_texts[i] for i in rng.permutation(len(training_texts))[:per_kind]]
    titles = read_titles(sorted(HEADLINES.glob("*.csv"))) if HEADLINES.is_dir() else []
    return texts + [titles[i] for i in rng.permutation(len(titles))[:per_kind]]


def default_texts(per_kind: int = DEFAULT_TEXTS, seed: int = 13) -> list[str]:
    """:func:`calibration_texts` over the shipped sentiment training split."""
    from monitor.stages.model.data import DEFAULT_SENTIMENT, load_split

    return calibration_texts(load_split(DEFAULT_SENTIMENT, "sentiment", "train").texts, per_kind, seed)


def calibrate(model_dir: Path, texts: Sequence[str], alpha: float = DEFAULT_ALPHA, max_tokens: int = 64) -> Path:
    """Measure the fp32 model of ``model_dir`` on ``texts`` and write :data:`CALIBRATION_FILE` there."""
    from safetensors.torch import save_file

    from monitor.stages.model.engine import Engine

    if not texts:
        raise ValueError("calibration needs at least one text")
    engine = Engine(model_dir, device="cpu", int8=False, max_tokens=max_tokens)
    id_lists, _ = engine.token_ids([text for text in texts if text.strip()])
    maxima = activation_maxima(engine.model, [ids for ids in id_lists if ids])
    out = Path(model_dir) / CALIBRATION_FILE
    save_file({name: value.contiguous() for name, value in maxima.items()}, str(out),
              metadata={"alpha": str(alpha), "texts": str(len(id_lists)), "max_tokens": str(max_tokens)})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stages.model.calibrate",
                                     description="Write the int8 activation calibration of a model directory.")
    parser.add_argument("--model", required=True, type=Path, help="model directory (e.g. models/default)")
    parser.add_argument("--texts", type=int, default=DEFAULT_TEXTS,
                        help="tweets and as many news titles to measure (default %(default)s of each)")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="smoothing strength: 0 none, 1 all activation range moved into the weights")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = calibrate(args.model, default_texts(args.texts), args.alpha)
    print(f"{out}: activation maxima of {args.texts} tweets + up to {args.texts} news titles, alpha {args.alpha}")


if __name__ == "__main__":
    main()
