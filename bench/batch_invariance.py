"""Does a text's label depend on the other texts in its micro-batch? Each CPU inference path, same texts, one run.

Each of ``--texts`` validation texts is scored alone, then again among ``--mates`` random others; the table counts
the texts whose topic or sentiment label changed and the largest probability move. Paths:

- ``int8 rows`` (the CPU default): row-wise int8 (:mod:`monitor.stages.model.quant`) with exact-length batches, so a
  text's forward pass is the same computation whatever its batch-mates: expect 0 flips and moves ~1e-7;
- ``int8 dynamic`` (legacy, ``--dynamic``): torch's dynamic quantisation picks one activation scale per micro-batch,
  so near-ties flip;
- ``fp32``: padded batches; padding changes float rounding only (moves ~1e-6).

With ``--chunk-shift N`` it also scores the first N unique stories of the Reuters 2011 headline file (title +
summary, as the backtest's model reads them) in the backtest's chunks of 256, then again with one extra story in
front (every chunk boundary moves by one, as when a parser change adds or drops a story), and counts label changes.

    .venv/bin/python bench/batch_invariance.py --texts 300 --chunk-shift 2000 \
        --json-out bench/results/model_batch_invariance.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from monitor.ground.settings import Settings  # noqa: E402
from monitor.stages.model.data import DEFAULT_SENTIMENT, load_split  # noqa: E402
from monitor.stages.model.engine import Engine  # noqa: E402


def flips(engine: Engine, texts: list[str], n: int, mates: int) -> dict[str, float]:
    """Labels changed and the largest probability move when each text gets ``mates`` random batch-mates."""
    rng = random.Random(3)
    topic = sentiment = 0
    move = 0.0
    for text in texts[:n]:
        alone = engine.probabilities([text])
        among = engine.probabilities([*rng.sample(texts, mates), text])
        topic += int(alone.topic[0].argmax() != among.topic[-1].argmax())
        sentiment += int(alone.sentiment[0].argmax() != among.sentiment[-1].argmax())
        move = max(move, float(np.abs(alone.topic[0] - among.topic[-1]).max()),
                   float(np.abs(alone.sentiment[0] - among.sentiment[-1]).max()))
    return {"texts": n, "topic_flips": topic, "sentiment_flips": sentiment, "max_probability_move": move}


REUTERS = ROOT.parent / "shared" / "data" / "headlines" / \
    "reuters_ticker_news_2011-07-06_to_2011-10-31_US_downgrade_EU_debt.csv"
CHUNK = 256  # monitor.history.backtest_run.SCORE_BATCH


def reuters_texts(n: int) -> list[str]:
    """The first ``n`` unique titles of the Reuters file as ``title. summary`` (``Story.text``)."""
    import csv

    seen: set[str] = set()
    texts: list[str] = []
    with REUTERS.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            title, summary = (row.get("title") or "").strip(), (row.get("summary") or "").strip()
            if title and title not in seen:
                seen.add(title)
                texts.append(f"{title}. {summary}" if summary else title)
            if len(texts) >= n:
                break
    return texts


def chunk_shift(engine: Engine, texts: list[str]) -> dict[str, float]:
    """Label changes when every chunk boundary moves by one story."""
    def run(items: list[str]) -> np.ndarray:
        return np.concatenate([engine.probabilities(items[i:i + CHUNK]).sentiment
                               for i in range(0, len(items), CHUNK)])

    first, shifted = run(texts), run(["An extra story scored first", *texts])[1:]
    negative = engine.labels.sentiment.index("negative")
    return {"stories": len(texts), "sentiment_flips": int((first.argmax(1) != shifted.argmax(1)).sum()),
            "negative_label_flips": int(((first.argmax(1) == negative) != (shifted.argmax(1) == negative)).sum()),
            "max_probability_move": float(np.abs(first - shifted).max())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--mates", type=int, default=15)
    parser.add_argument("--dynamic", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the legacy per-batch dynamic int8 path")
    parser.add_argument("--chunk-shift", type=int, default=0, metavar="N",
                        help="also shift the backtest's chunks over the first N Reuters 2011 stories")
    parser.add_argument("--json-out", type=Path, default=None, help="write the counts as JSON here")
    args = parser.parse_args()
    texts = load_split(DEFAULT_SENTIMENT, "sentiment", "valid").texts
    settings = Settings()
    paths = [("int8 rows", {"int8": True}), ("fp32", {"int8": False})]
    if args.dynamic:
        paths.append(("int8 dynamic (legacy)", {"int8": True, "int8_mode": "dynamic"}))
    results = {}
    for name, options in paths:
        engine = Engine(settings.model_path, device="cpu", batch_size=32, max_tokens=settings.max_tokens,
                        **options)  # type: ignore[arg-type]
        row = flips(engine, texts, args.texts, args.mates)
        results[name] = {**row, "engine": engine.describe()}
        print(f"{name}: of {args.texts} texts scored alone and among {args.mates} others, {row['topic_flips']} "
              f"changed topic and {row['sentiment_flips']} changed sentiment; largest probability move "
              f"{row['max_probability_move']:.2e}", flush=True)
        if args.chunk_shift and REUTERS.is_file():
            shift = chunk_shift(engine, reuters_texts(args.chunk_shift))
            results[name]["reuters_chunk_shift"] = shift
            print(f"{name}: Reuters 2011, {shift['stories']} stories in chunks of {CHUNK} shifted by one: "
                  f"{shift['sentiment_flips']} sentiment labels changed ({shift['negative_label_flips']} to or from "
                  f"negative); largest probability move {shift['max_probability_move']:.2e}", flush=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
