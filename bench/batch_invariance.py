"""Does a text's label depend on the other texts in its micro-batch? Each CPU inference path, same texts, one run.

Each of ``--texts`` validation texts is scored alone, then again among ``--mates`` random others; the table counts
the texts whose topic or sentiment label changed and the largest probability move. Paths:

- ``int8 rows`` (the CPU default): row-wise int8 (:mod:`monitor.model.quant`) with exact-length batches, so a
  text's forward pass is the same computation whatever its batch-mates: expect 0 flips and moves ~1e-7;
- ``int8 dynamic`` (legacy, ``--dynamic``): torch's dynamic quantisation picks one activation scale per micro-batch,
  so near-ties flip;
- ``fp32``: padded batches; padding changes float rounding only (moves ~1e-6).

    .venv/bin/python bench/batch_invariance.py --texts 300
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

from monitor.model.data import DEFAULT_SENTIMENT, load_split  # noqa: E402
from monitor.model.engine import Engine  # noqa: E402
from monitor.settings import Settings  # noqa: E402


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--mates", type=int, default=15)
    parser.add_argument("--dynamic", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the legacy per-batch dynamic int8 path")
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
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
