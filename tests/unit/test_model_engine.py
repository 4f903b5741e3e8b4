"""Inference engine specification: batching changes nothing but speed, order is kept, the loop never blocks."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from monitor.stages.model.engine import CHARS_PER_TOKEN_CAP, AsyncEngine, Engine
from tests.support.model_builders import build_tiny_model_dir

TEXTS = [
    "$TSLA - Tesla plunges after Nomura cut https://t.co/abc",
    "Apple beats estimates &amp; raises guidance",
    "Fed holds rates steady",
    "",
    "Oracle",
    "Exxon declares quarterly dividend of $0.88 per share, payable June 10 to holders of record May 15",
    "   ",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("engine") / "model")


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> Engine:
    return Engine(model_dir, device="cpu", batch_size=4, max_tokens=32)


def test_batched_scores_equal_one_by_one_scores_in_input_order(engine: Engine) -> None:
    batched = engine.score(TEXTS)
    single = [engine.score([text])[0] for text in TEXTS]
    assert len(batched) == len(TEXTS)
    for b, s in zip(batched, single, strict=True):
        assert (b.topic, b.sentiment, b.truncated) == (s.topic, s.sentiment, s.truncated)
        assert b.p_pos == pytest.approx(s.p_pos, abs=1e-5) and b.topic_p == pytest.approx(s.topic_p, abs=1e-5)
    reversed_scores = engine.score(TEXTS[::-1])
    assert [r.score for r in reversed_scores] == pytest.approx([b.score for b in batched[::-1]], abs=1e-5)


def test_scores_are_consistent_probabilities(engine: Engine) -> None:
    for item in engine.score(TEXTS):
        assert item.p_pos + item.p_neu + item.p_neg == pytest.approx(1.0, abs=1e-5)
        assert item.score == pytest.approx(item.p_pos - item.p_neg, abs=1e-6)
        assert -1.0 <= item.score <= 1.0 and 0.0 <= item.topic_p <= 1.0
        assert item.sentiment_fields()["label"] == item.sentiment and item.topic_fields()["p"] == item.topic_p


def test_empty_input_and_very_long_texts(engine: Engine, model_dir: Path) -> None:
    assert engine.score([]) == []
    long_text = "Markets slide as yields jump. " * 20_000  # ~600 kB
    tokenised: list[int] = []
    real = engine._tokenizer  # noqa: SLF001 - observe what reaches the tokenizer

    def recording_encode(texts: list[str]) -> object:
        tokenised.extend(len(text) for text in texts)
        return real.encode_batch(texts)

    engine._tokenizer = type("Spy", (), {"encode_batch": staticmethod(recording_encode)})()  # noqa: SLF001
    try:
        scored = engine.score([long_text, "short headline"])
    finally:
        engine._tokenizer = real  # noqa: SLF001
    # Work is bounded by a character cap before tokenising (no time budget: that is the bench's business).
    assert max(tokenised) <= engine.max_tokens * CHARS_PER_TOKEN_CAP < len(long_text)
    assert [s.truncated for s in scored] == [True, False]
    short_engine = Engine(model_dir, device="cpu", max_tokens=16)
    from tokenizers import Tokenizer

    from monitor.ground.text import clean_text

    counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    counter.no_truncation()
    counter.no_padding()
    expected = [len(counter.encode(clean_text(t)).ids) > 16 for t in TEXTS]
    assert [s.truncated for s in short_engine.score(TEXTS)] == expected and 0 < sum(expected) < len(TEXTS)


def test_model_identity_is_exposed(engine: Engine, model_dir: Path) -> None:
    assert engine.model_name == "tiny-test"
    assert len(engine.model_version) == 12 and engine.model_version == Engine(model_dir, device="cpu").model_version


def test_int8_engine_scores_close_to_fp32(engine: Engine, model_dir: Path) -> None:
    quantised = Engine(model_dir, device="cpu", int8=True, max_tokens=32)
    assert quantised.int8
    fp32 = engine.probabilities(TEXTS).sentiment
    assert np.abs(quantised.probabilities(TEXTS).sentiment - fp32).max() < 0.05


async def test_async_wrapper_keeps_the_event_loop_running(model_dir: Path) -> None:
    engine = Engine(model_dir, device="cpu", batch_size=64, max_tokens=64)
    texts = [f"{i} stocks rally as the Fed signals cuts, bonds gain and the dollar slips " * 3 for i in range(3000)]
    ticks: list[float] = []
    threads: set[str] = set()
    original = engine.score

    def recording_score(batch: list[str]) -> list:  # type: ignore[type-arg]
        threads.add(threading.current_thread().name)
        return original(batch)

    engine.score = recording_score  # type: ignore[method-assign]

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    async with AsyncEngine(engine) as runner:
        tick_task = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        scored = await runner.score(texts)
        elapsed = time.perf_counter() - started
        tick_task.cancel()
    during = [t for t in ticks if started <= t <= started + elapsed]
    assert len(scored) == len(texts)
    assert elapsed > 0.1, "the batch must take long enough to observe the loop"
    assert len(during) >= 3, (len(during), elapsed)  # the loop ran while the batch scored (not a speed budget)
    assert threads and all(name.startswith("bearwatch-model") for name in threads)
