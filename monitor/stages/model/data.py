"""Labelled text for training and evaluation: CSV/JSONL files, the shipped Twitter sets, Hugging Face datasets.

Every text goes through :func:`monitor.ground.text.clean_text` here, the same function the inference engine applies, so
the model is scored on exactly the kind of input it was trained on. Labels become head class indices at load time
(see :mod:`monitor.stages.model.labels`), so the rest of the code never sees dataset-specific label schemes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.ground.errors import BearwatchError
from monitor.ground.text import clean_text
from monitor.stages.model.labels import TOPIC_LABELS, LabelMapError, resolve_label

SHARED_TRAIN = Path(__file__).resolve().parents[4] / "shared" / "data" / "train"
DEFAULT_SENTIMENT = SHARED_TRAIN / "twitter_financial_news_sentiment"
DEFAULT_TOPIC = SHARED_TRAIN / "twitter_financial_news_topic"
HF_SPLITS = {"train": "train", "valid": "validation"}


class DataError(ValueError, BearwatchError):
    """A data source cannot be read; the message names the source and what to do."""


@dataclass
class LabelledSet:
    """Clean texts and class indices of one head."""

    head: str
    texts: list[str]
    labels: list[int]
    source: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray | list[int], source: str) -> LabelledSet:
        return LabelledSet(self.head, [self.texts[i] for i in indices], [self.labels[i] for i in indices], source)


def _rows_from_file(path: Path) -> list[tuple[str, str]]:
    """(text, label) pairs of a CSV/TSV file with a header, or of a JSON Lines file of objects."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    rows.append((str(obj["text"]), str(obj["label"])))
                except (ValueError, KeyError, TypeError) as exc:
                    raise DataError(f"{path}:{number}: expected a JSON object with 'text' and 'label' ({exc})") \
                        from None
        return rows
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise DataError(f"{path}: expected a header with columns text,label (got {reader.fieldnames})")
        return [(row["text"] or "", row["label"] or "") for row in reader]


def _rows_from_hub(dataset_id: str, split: str) -> list[tuple[str, str]]:
    """Rows of a Hugging Face dataset; needs the optional ``datasets`` package and internet (or its cache)."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"{dataset_id!r} looks like a Hugging Face dataset id, but the 'datasets' package is not "
                        "installed: pip install datasets, or pass a local CSV/JSONL file or folder") from None
    try:
        loaded = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; one clear line is what a user needs
        raise DataError(f"could not load Hugging Face dataset {dataset_id!r} split {split!r}: {exc}") from None
    return [(str(row["text"]), str(row["label"])) for row in loaded]


def load_labelled(source: str | Path, head: str, index_names: list[str] | None = None,
                  split: str = "train") -> LabelledSet:
    """Read one labelled set for ``head`` from a file, or a Hugging Face dataset id (``owner/name``)."""
    path = Path(source)
    if path.is_file():
        rows, label = _rows_from_file(path), str(path)
    elif not path.exists() and str(source).count("/") == 1 and not str(source).startswith((".", "/")):
        rows, label = _rows_from_hub(str(source), HF_SPLITS.get(split, split)), f"hf:{source}:{split}"
    else:
        raise DataError(f"{source} is not a file: pass a CSV/JSONL file with text,label columns")
    texts, labels = [], []
    for number, (text, raw_label) in enumerate(rows, 1):
        try:
            labels.append(resolve_label(raw_label, head, index_names))
        except LabelMapError as exc:
            raise DataError(f"{label}: row {number}: {exc}") from None
        texts.append(clean_text(text))
    if not texts:
        raise DataError(f"{label} holds no labelled rows")
    return LabelledSet(head, texts, labels, label)


def guess_head(source: str | Path) -> str:
    """Which head a labelled file is for, from its labels: names decide; indices above 2 mean topic."""
    from monitor.stages.model.labels import SENTIMENT_ALIASES

    path = Path(source)
    if not path.is_file():
        raise DataError(f"{source} is not a file: pass --head sentiment|topic with a dataset id")
    labels = {label.strip() for _, label in _rows_from_file(path)}
    indices = [int(label) for label in labels if label.lstrip("-").isdigit()]
    names = {label.lower() for label in labels if not label.lstrip("-").isdigit()}
    if not names:
        return "topic" if indices and max(indices) > 2 else "sentiment"
    if names <= set(SENTIMENT_ALIASES) and max(indices, default=0) <= 2:
        return "sentiment"
    if names <= {name.lower() for name in TOPIC_LABELS}:
        return "topic"
    raise DataError(f"{source}: cannot tell the head from its labels ({sorted(labels)[:5]}...): pass --head")


def _split_file(folder: Path, split: str) -> Path:
    """The one ``*train*`` or ``*valid*`` CSV/JSONL file of a dataset folder."""
    names = ("train",) if split == "train" else ("valid", "validation", "dev")
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json")
                   and any(n in p.stem.lower() for n in names))
    if len(found) != 1:
        raise DataError(f"{folder}: expected exactly one {split} file (*{names[0]}*.csv or .jsonl), found "
                        f"{[p.name for p in found]}")
    return found[0]


def check_classes_file(folder: Path) -> None:
    """A topic folder's ``classes.txt`` must list the 20 topics in the order the model uses."""
    classes = folder / "classes.txt"
    if classes.is_file():
        names = tuple(line.strip() for line in classes.read_text(encoding="utf-8").splitlines() if line.strip())
        if names != TOPIC_LABELS:
            raise DataError(f"{classes} does not match Bearwatch's topic label map {list(TOPIC_LABELS)}")


def load_split(source: str | Path, head: str, split: str) -> LabelledSet:
    """The train or validation split of a head from a folder (shipped layout) or a Hugging Face dataset id."""
    path = Path(source)
    if path.is_dir():
        if head == "topic":
            check_classes_file(path)
        return load_labelled(_split_file(path, split), head, split=split)
    if path.exists():
        raise DataError(f"{source}: expected a folder with *train*/*valid* files or a Hugging Face dataset id")
    if str(source).count("/") != 1:
        raise DataError(f"{source} does not exist: pass the dataset folder (e.g. {DEFAULT_SENTIMENT}) or a "
                        "Hugging Face dataset id such as zeroshot/twitter-financial-news-sentiment")
    return load_labelled(str(source), head, split=split)


def dev_split(data: LabelledSet, fraction: float, seed: int) -> tuple[LabelledSet, LabelledSet]:
    """Hold out ``fraction`` of each class (stratified, fixed seed) for model selection.

    Stratified so the rare topics (a few dozen examples) are present in the dev set at all.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(data.labels)
    dev: list[int] = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        dev.extend(members[: max(1, round(len(members) * fraction))].tolist())
    dev_set = set(dev)
    train = [i for i in range(len(data)) if i not in dev_set]
    return data.subset(train, f"{data.source} (train part)"), data.subset(sorted(dev), f"{data.source} (dev)")
