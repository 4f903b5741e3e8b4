"""Does a text's label depend on the other texts in its micro-batch? int8 vs fp32, same texts, one run.

Each of ``--texts`` validation texts is scored alone, then again among 15 random others; the table counts the
texts whose topic or sentiment label changed. Dynamic int8 quantisation picks one activation scale per input
tensor (per micro-batch), so near-ties can flip; fp32 should flip none. See docs/model.md.

    .venv/bin/python bench/batch_invariance.py --texts 300
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from monitor.model.data import DEFAULT_SENTIMENT, load_split  # noqa: E402
from monitor.model.engine import Engine  # noqa: E402
from monitor.settings import Settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--mates", type=int, default=15)
    args = parser.parse_args()
    texts = load_split(DEFAULT_SENTIMENT, "sentiment", "valid").texts
    settings = Settings()
    for int8 in (True, False):
        engine = Engine(settings.model_path, batch_size=32, max_tokens=settings.max_tokens, int8=int8)
        rng = random.Random(3)
        topic_flips = sentiment_flips = 0
        for text in texts[: args.texts]:
            alone = engine.score([text])[0]
            among = engine.score([*rng.sample(texts, args.mates), text])[-1]
            topic_flips += among.topic != alone.topic
            sentiment_flips += among.sentiment != alone.sentiment
        print(f"{'int8' if int8 else 'fp32'}: of {args.texts} texts scored alone and among {args.mates} others, "
              f"{topic_flips} changed topic and {sentiment_flips} changed sentiment", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
