"""Training batches for the two heads: one pool of examples, mixed batches, a masked and class-weighted loss.

Both training sets go into one shuffled pool, so most batches hold examples of both tasks; each example carries
the head it supervises, and the loss of a head is computed only over its own rows (masked loss).

Imbalance: the topic set runs from 44 (IPO) to 3,545 (Company | Product News) examples per class. We weight the
cross-entropy by ``(N / (K * count_c)) ** power`` with ``power = 0.5`` by default (square-root inverse frequency),
normalised to a mean weight of 1 over the training examples. Full inverse frequency (power 1) over-predicts rare
classes and costs accuracy; sampling would repeat the 44 IPO tweets ~80 times per epoch and overfit them.
The square root lifts rare-class recall (macro F1) while keeping accuracy on the frequent ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from monitor.stages.model.data import LabelledSet

TOPIC, SENTIMENT = 0, 1
HEAD_INDEX = {"topic": TOPIC, "sentiment": SENTIMENT}


@dataclass
class EncodedPool:
    """Token ids, class index and head index of every training example, aligned by position."""

    ids: list[list[int]]
    labels: np.ndarray
    heads: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def encode_pool(tokenizer: object, sets: Sequence[LabelledSet]) -> EncodedPool:
    """Tokenise every set once (``tokenizer`` is a truncating ``tokenizers.Tokenizer``) into one pool."""
    ids: list[list[int]] = []
    labels: list[int] = []
    heads: list[int] = []
    for data in sets:
        ids.extend(e.ids for e in tokenizer.encode_batch(data.texts))  # type: ignore[attr-defined]
        labels.extend(data.labels)
        heads.extend([HEAD_INDEX[data.head]] * len(data))
    return EncodedPool(ids, np.asarray(labels, dtype=np.int64), np.asarray(heads, dtype=np.int64))


def class_weights(labels: Sequence[int], n_classes: int, power: float) -> np.ndarray:
    """``(N / (K * count)) ** power``, normalised to mean 1 over the examples; unseen classes get weight 1."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(float)
    seen = counts > 0
    weights = np.ones(n_classes)
    weights[seen] = (counts.sum() / (seen.sum() * counts[seen])) ** power
    weights /= (weights * counts).sum() / counts.sum()
    return weights


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The batches of one epoch: a permutation fixed by (seed, epoch), so a resumed run sees the same order."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def multitask_loss(topic_logits: torch.Tensor, sentiment_logits: torch.Tensor, labels: torch.Tensor,
                   heads: torch.Tensor, topic_weights: torch.Tensor, sentiment_weights: torch.Tensor,
                   label_smoothing: float = 0.0) -> torch.Tensor:
    """Each head's weighted cross-entropy over its own rows, combined in proportion to its rows in the batch."""
    total = topic_logits.new_zeros((), dtype=torch.float32)
    for head, logits, weights in ((TOPIC, topic_logits, topic_weights),
                                  (SENTIMENT, sentiment_logits, sentiment_weights)):
        rows = heads == head
        count = int(rows.sum())
        if count:
            loss = F.cross_entropy(logits[rows].float(), labels[rows], weight=weights,
                                   label_smoothing=label_smoothing)
            total = total + loss * (count / len(heads))
    return total
