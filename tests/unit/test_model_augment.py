"""Headline-like training text and continued fine-tuning from a model directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.ground.text import clean_text
from monitor.stages.model.augment import augment_headlines, headline_like
from monitor.stages.model.data import LabelledSet
from monitor.stages.model.train import train
from tests.support.model_builders import build_tiny_model_dir, write_toy_datasets


@pytest.mark.parametrize(("tweet", "headline"), [
    ("$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT",
     "JPMorgan reels in expectations on Beyond Meat"),
    ("$CCL $RCL - Nomura points to bookings weakness at Carnival https://t.co/yGjpT2ReD3",
     "Nomura points to bookings weakness at Carnival"),
    ("$ESS: BTIG Research cuts to Neutral https://t.co/MCyfTsXc2N", "BTIG Research cuts to Neutral"),
    ("Atlas Arteria : successfully completes institutional offer #AtlasArteria #Stock #MarketScreener… "
     "https://t.co/WTUKVvQmYh", "Atlas Arteria : successfully completes institutional offer"),
    ("Stocks rally 🚀🚀 as @federalreserve holds rates", "Stocks rally as holds rates"),
    ("BRP Group started at hold with $18 stock price target at Jefferies",
     "BRP Group started at hold with $18 stock price target at Jefferies"),  # money amounts stay
    ("$TSLA $AAPL [URL]", "$TSLA $AAPL [URL]"),  # nothing left but tags: kept as it was
])
def test_headline_like_strips_tweet_tics_and_keeps_the_news(tweet: str, headline: str) -> None:
    assert headline_like(clean_text(tweet)) == headline


def test_augmentation_replaces_a_fixed_share_and_keeps_labels() -> None:
    data = LabelledSet("sentiment", [f"$T{i} - Acme news number {i} [URL]" for i in range(200)], [i % 3 for i in
                                                                                                range(200)])
    mixed = augment_headlines(data, 0.5, seed=13)
    changed = sum(a != b for a, b in zip(data.texts, mixed.texts, strict=True))
    assert 70 < changed < 130 and mixed.labels == data.labels
    assert mixed.texts == augment_headlines(data, 0.5, seed=13).texts
    assert augment_headlines(data, 0.0, seed=13) is data


def test_training_can_continue_from_a_model_directory(tmp_path: Path) -> None:
    from monitor.stages.model.trainconfig import TrainConfig

    sent, topic = write_toy_datasets(tmp_path / "data")
    start = build_tiny_model_dir(tmp_path / "start")
    config = TrainConfig(out=str(tmp_path / "out"), init_from=str(start), sentiment_data=str(sent),
                         topic_data=str(topic), epochs=1, batch_size=8, lr=1e-3, device="cpu", save_dtype="fp32",
                         headline_fraction=0.5, topic_fraction=0.5, eval_batch_size=32)
    result = train(config)
    info = json.loads((result.model_dir / "bearwatch.json").read_text())
    assert info["training"]["init_from"] == str(start) and info["training"]["headline_fraction"] == 0.5
    history = info["history"][0]
    assert "sentiment_headline_like" in history and 0 <= history["sentiment_headline_like"]["accuracy"] <= 1
