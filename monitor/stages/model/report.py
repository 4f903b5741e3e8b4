"""``metrics.json`` and ``MODEL_CARD.md`` of a model directory, from the official validation splits.

Run at the end of training, and standalone to re-measure a directory on another machine (e.g. a model trained
on a GPU, re-measured with the CPU fp32 path the stream worker uses)::

    python -m monitor.stages.model.report --model models/default --int8
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from monitor.stages.model.card import render_card
from monitor.stages.model.data import DEFAULT_SENTIMENT, DEFAULT_TOPIC, LabelledSet, load_split
from monitor.stages.model.evaluate import evaluate_set
from monitor.stages.model.modeldir import INFO_FILE
from monitor.stages.model.scored import DEFAULT_OOD, evaluate_scored, load_scored

METRICS_FILE, CARD_FILE = "metrics.json", "MODEL_CARD.md"


def _limited(data: LabelledSet, limit: int) -> LabelledSet:
    """A fixed random subset (validation files are sorted by label, so a prefix would be one class)."""
    if not limit or limit >= len(data):
        return data
    keep = np.sort(np.random.default_rng(0).permutation(len(data))[:limit])
    return data.subset(keep, f"{data.source} (random {limit})")


def validation_metrics(model_dir: Path, sentiment_data: str | Path = DEFAULT_SENTIMENT,
                       topic_data: str | Path = DEFAULT_TOPIC, device: str = "auto", limit: int = 0,
                       int8: bool = False, batch_size: int = 64,
                       ood_data: str | Path | None = DEFAULT_OOD) -> dict[str, Any]:
    """Both heads' reports on their validation splits, the out-of-domain headline set when it is there
    (report only: nothing is chosen on it), and optionally the CPU int8 (row-wise) numbers beside fp32."""
    from monitor.stages.model.engine import Engine

    info = json.loads((model_dir / INFO_FILE).read_text(encoding="utf-8"))
    max_tokens = int(info.get("max_tokens", 64))
    sets = {head: _limited(load_split(source, head, "valid"), limit)
            for head, source in (("sentiment", sentiment_data), ("topic", topic_data))}
    ood = load_scored(ood_data) if ood_data and Path(ood_data).exists() else None
    engine = Engine(model_dir, device=device, batch_size=batch_size, max_tokens=max_tokens)
    metrics: dict[str, Any] = {head: evaluate_set(engine, data) for head, data in sets.items()}
    if ood is not None:
        metrics["headlines_ood"] = evaluate_scored(engine, ood)
    metrics["evaluated_with"] = engine.describe()
    if int8:
        quantised = Engine(model_dir, device="cpu", batch_size=batch_size, max_tokens=max_tokens, int8=True)
        metrics["int8"] = {"mode": quantised.int8_mode, "calibration": quantised.int8_calibration}
        for head, data in sets.items():
            report = evaluate_set(quantised, data)
            metrics["int8"][f"{head}_accuracy"] = report["accuracy"]
            metrics["int8"][f"{head}_weighted_f1"] = report["weighted_f1"]
            metrics["int8"][f"{head}_delta_points"] = round(100 * (report["accuracy"] - metrics[head]["accuracy"]), 2)
        if ood is not None:
            pos_neg = evaluate_scored(quantised, ood)["pos_neg"]["accuracy"]
            metrics["int8"]["headlines_pos_neg_accuracy"] = pos_neg
            metrics["int8"]["headlines_pos_neg_delta_points"] = round(
                100 * (pos_neg - metrics["headlines_ood"]["pos_neg"]["accuracy"]), 2)
    if "history" in info:
        best = [row for row in info["history"] if row.get("epoch") == info.get("best_epoch")]
        metrics["dev"] = best[0] if best else {}
        if "soup" in info:
            metrics["dev"] = {**metrics["dev"], "soup_score": info["best_dev_score"], "soup": info["soup"]}
    return metrics


def write_report(model_dir: Path, metrics: dict[str, Any]) -> None:
    info = json.loads((model_dir / INFO_FILE).read_text(encoding="utf-8"))
    (model_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    (model_dir / CARD_FILE).write_text(render_card(info, metrics), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stages.model.report",
                                     description="Re-measure a model directory on the official validation "
                                                 "splits and rewrite its metrics.json and MODEL_CARD.md.")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--sentiment-data", default=str(DEFAULT_SENTIMENT))
    parser.add_argument("--topic-data", default=str(DEFAULT_TOPIC))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--int8", action="store_true", help="also measure the CPU int8 (row-wise) path")
    parser.add_argument("--ood-data", default=str(DEFAULT_OOD),
                        help="scored headline set reported beside the validation splits ('' to skip)")
    args = parser.parse_args(argv)
    metrics = validation_metrics(args.model, args.sentiment_data, args.topic_data, args.device, int8=args.int8,
                                 ood_data=args.ood_data or None)
    write_report(args.model, metrics)
    for head in ("sentiment", "topic"):
        m = metrics[head]
        print(f"{head}: accuracy {m['accuracy']:.4f} macro F1 {m['macro_f1']:.4f} weighted F1 "
              f"{m['weighted_f1']:.4f} (n={m['n']})")
    if "headlines_ood" in metrics:
        ood = metrics["headlines_ood"]
        print(f"headlines (OOD): pos/neg accuracy {ood['pos_neg']['accuracy']:.4f} (n={ood['pos_neg']['n']}), "
              f"3-class accuracy {ood['three_class']['accuracy']:.4f} (n={ood['three_class']['n']})")
    if "int8" in metrics:
        print("int8:", metrics["int8"])


if __name__ == "__main__":
    main()
