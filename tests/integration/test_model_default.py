"""Regression floor of the shipped model (models/default) on 300 fixed validation examples of each head.

Measured when the model was shipped (CPU, fp32 from fp16 weights): sentiment 0.877, topic 0.867 accuracy on these
subsets (full splits: 0.874 and 0.907, see models/default/metrics.json). The floors sit ~3.5 points lower, so only
a real regression (wrong labels, broken clean-up, bad weights, tokenizer drift) trips them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.stages.model.data import LabelledSet, load_split
from monitor.stages.model.engine import Engine
from monitor.stages.model.evaluate import evaluate_set
from tests.support.model_builders import DEFAULT_MODEL, SHARED_TRAIN

FLOORS = {"sentiment": 0.84, "topic": 0.83}
FOLDERS = {"sentiment": "twitter_financial_news_sentiment", "topic": "twitter_financial_news_topic"}

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL / "model.safetensors").is_file(),
                                reason=f"{DEFAULT_MODEL} does not exist yet: train it (docs/model.md)")


def fixed_validation_sample(head: str, n: int = 300) -> LabelledSet:
    folder: Path = SHARED_TRAIN / FOLDERS[head]
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing: the validation splits live in ../shared/data")
    data = load_split(folder, head, "valid")
    keep = np.sort(np.random.default_rng(0).permutation(len(data))[:n])  # files are sorted by label
    return data.subset(keep, f"{data.source} (300 fixed)")


@pytest.fixture(scope="module")
def engines() -> dict[str, Engine]:
    return {"fp32": Engine(DEFAULT_MODEL, device="cpu"), "int8": Engine(DEFAULT_MODEL, device="cpu", int8=True)}


@pytest.mark.parametrize("head", ["sentiment", "topic"])
def test_default_model_accuracy_stays_above_its_floor(engines: dict[str, Engine], head: str) -> None:
    sample = fixed_validation_sample(head)
    fp32 = evaluate_set(engines["fp32"], sample)
    int8 = evaluate_set(engines["int8"], sample)
    assert fp32["accuracy"] >= FLOORS[head], fp32["accuracy"]
    assert abs(int8["accuracy"] - fp32["accuracy"]) <= 0.02, (int8["accuracy"], fp32["accuracy"])


def test_default_model_scores_obvious_headlines(engines: dict[str, Engine]) -> None:
    scored = engines["fp32"].score(["$XYZ - Acme plunges 30% after guidance cut, downgraded to sell",
                                    "Acme shares soar to record high after earnings beat, upgraded to buy"])
    assert scored[0].sentiment == "negative" and scored[0].score < -0.5
    assert scored[1].sentiment == "positive" and scored[1].score > 0.5
    assert engines["fp32"].model_name == "bearwatch-minilm-topic-sentiment"
