"""Data, labels, batching and metrics: the pieces training and evaluation are built from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from monitor.stages.model.batches import SENTIMENT, TOPIC, class_weights, epoch_batches, multitask_loss
from monitor.stages.model.data import DataError, dev_split, guess_head, load_labelled, load_split
from monitor.stages.model.labels import SENTIMENT_LABELS, TOPIC_LABELS, LabelMapError, resolve_label
from monitor.stages.model.metrics import classification_report
from tests.support.model_builders import SHARED_TRAIN


def test_twitter_sentiment_indices_map_bearish_bullish_neutral() -> None:
    assert [SENTIMENT_LABELS[resolve_label(str(i), "sentiment")] for i in range(3)] == \
        ["negative", "positive", "neutral"]
    assert SENTIMENT_LABELS[resolve_label("Bullish", "sentiment")] == "positive"
    assert resolve_label("IPO", "topic") == TOPIC_LABELS.index("IPO")
    with pytest.raises(LabelMapError, match="out of range"):
        resolve_label("3", "sentiment")


def test_labelled_files_accept_names_indices_and_a_label_map(tmp_path: Path) -> None:
    csv_file = tmp_path / "s.csv"
    csv_file.write_text('text,label\n"Shares &amp; bonds fall https://t.co/a",negative\nGood day,1\n')
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text(json.dumps({"text": "x", "label": 0}) + "\n\n" + json.dumps({"text": "y", "label": "2"}) + "\n")

    from_csv = load_labelled(csv_file, "sentiment")
    assert from_csv.texts[0] == "Shares & bonds fall [URL]"  # the shared clean_text ran
    assert [SENTIMENT_LABELS[i] for i in from_csv.labels] == ["negative", "positive"]
    mapped = load_labelled(jsonl, "sentiment", index_names=["negative", "neutral", "positive"])
    assert [SENTIMENT_LABELS[i] for i in mapped.labels] == ["negative", "positive"]
    assert guess_head(csv_file) == "sentiment"


def test_bad_files_and_missing_datasets_package_give_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,target\nx,1\n")
    with pytest.raises(DataError, match="text,label"):
        load_labelled(bad, "topic")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("text,label\nx,ecstatic\n")
    with pytest.raises(DataError, match="row 1"):
        load_labelled(wrong, "sentiment")
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(DataError, match="pip install datasets"):
            load_labelled("zeroshot/twitter-financial-news-sentiment", "sentiment")


def test_dev_split_is_stratified_disjoint_and_fixed_by_seed() -> None:
    if not SHARED_TRAIN.is_dir():
        pytest.skip(f"{SHARED_TRAIN} is missing: the shipped training sets live in ../shared/data")
    topic = load_split(SHARED_TRAIN / "twitter_financial_news_topic", "topic", "train")
    train_a, dev_a = dev_split(topic, 0.1, seed=13)
    _, dev_b = dev_split(topic, 0.1, seed=13)
    assert dev_a.texts == dev_b.texts
    assert len(dev_a) + len(train_a) == len(topic)
    assert abs(len(dev_a) - 0.1 * len(topic)) < 20
    assert set(dev_a.labels) == set(range(20))  # even IPO (44 examples) is represented
    counts = np.bincount(dev_a.labels, minlength=20) / np.bincount(topic.labels, minlength=20)
    assert counts.min() > 0.07 and counts.max() < 0.13


def test_class_weights_lift_rare_classes_with_mean_one() -> None:
    labels = [0] * 90 + [1] * 10
    weights = class_weights(labels, 2, power=0.5)
    assert weights[1] / weights[0] == pytest.approx(3.0)
    assert (weights[np.array(labels)]).mean() == pytest.approx(1.0)
    assert class_weights(labels, 2, power=0.0) == pytest.approx([1.0, 1.0])


def test_each_example_only_trains_its_own_head() -> None:
    topic_logits = torch.zeros(4, 20, requires_grad=True)
    sent_logits = torch.zeros(4, 3, requires_grad=True)
    heads = torch.tensor([TOPIC, TOPIC, SENTIMENT, SENTIMENT])
    labels = torch.tensor([5, 19, 0, 2])
    loss = multitask_loss(topic_logits, sent_logits, labels, heads, torch.ones(20), torch.ones(3))
    loss.backward()
    assert loss.item() == pytest.approx(0.5 * np.log(20) + 0.5 * np.log(3), rel=1e-5)
    assert topic_logits.grad[2:].abs().sum() == 0 and sent_logits.grad[:2].abs().sum() == 0
    assert epoch_batches(10, 4, seed=1, epoch=0)[0].tolist() == epoch_batches(10, 4, seed=1, epoch=0)[0].tolist()


def test_report_matches_hand_computed_metrics() -> None:
    report = classification_report([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    f1 = [0.5, 0.8, 2 / 3]
    assert report["macro_f1"] == pytest.approx(np.mean(f1))
    assert report["weighted_f1"] == pytest.approx(np.mean(f1))
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
