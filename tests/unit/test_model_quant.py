"""Row-wise int8 CPU inference: a text's scores do not depend on its batch-mates, and stay close to fp32."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from monitor.stages.model.engine import Engine, length_batches
from monitor.stages.model.quant import RowInt8Linear, int_mm_available, quantize_rows
from tests.support.model_builders import build_tiny_model_dir

pytestmark = pytest.mark.skipif(not int_mm_available(), reason="this torch build has no CPU torch._int_mm")

HEADLINES = [
    "Acme plunges 30% after guidance cut, downgraded to sell",
    "Acme shares soar to record high after earnings beat",
    "Fed holds rates steady",
    "Exxon declares quarterly dividend of $0.88 per share, payable June 10 to holders of record May 15",
    "Oracle",
    "Tesla recalls 2 million cars over autopilot concerns as regulators widen probe",
    "Bank seized as depositors pull cash",
    "Ford names new CFO",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("quant") / "model", seed=3)


def test_a_row_of_a_quantised_linear_depends_on_that_row_only() -> None:
    torch.manual_seed(0)
    layer = RowInt8Linear(torch.nn.Linear(48, 24))
    row = torch.randn(1, 48)
    others = torch.randn(7, 48) * 50  # batch-mates with a far larger range would change a per-batch scale
    alone = layer(row)
    among = layer(torch.cat([others[:3], row, others[3:]]))[3:4]
    assert torch.equal(alone, among)


def test_quantised_linear_is_close_to_fp32_and_keeps_shapes() -> None:
    torch.manual_seed(1)
    linear = torch.nn.Linear(64, 32)
    x = torch.randn(2, 5, 64)
    quantised = RowInt8Linear(linear)(x)
    assert quantised.shape == (2, 5, 32)
    reference = linear(x)
    assert (quantised - reference).abs().max() < 0.03 * reference.abs().max()


def test_quantize_rows_replaces_encoder_linears_but_not_the_heads(model_dir: Path) -> None:
    from monitor.stages.model.modeldir import load_model_dir

    model = quantize_rows(load_model_dir(model_dir).model)
    kinds = {name: type(module).__name__ for name, module in model.named_modules()}
    assert kinds["topic_head"] == "Linear" and kinds["sentiment_head"] == "Linear"
    assert not any(kind == "Linear" for name, kind in kinds.items() if name.startswith("encoder."))
    assert any(kind == "RowInt8Linear" for kind in kinds.values())


def test_exact_length_batches_hold_one_length_each_and_cover_every_row() -> None:
    lengths = np.array([5, 3, 5, 7, 3, 3, 5, 9])
    batches = length_batches(lengths, batch_size=2, exact=True)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert all(len(set(lengths[b].tolist())) == 1 and len(b) <= 2 for b in batches)
    padded = length_batches(lengths, batch_size=4)
    assert [len(b) for b in padded] == [4, 4]


def test_int8_engine_labels_do_not_depend_on_batch_mates(model_dir: Path) -> None:
    engine = Engine(model_dir, device="cpu", batch_size=4, max_tokens=32, int8=True)
    assert engine.describe()["int8_mode"] == "rows" and engine.packed and not engine.exact_lengths
    fallback = Engine(model_dir, device="cpu", batch_size=4, max_tokens=32, int8=True)
    fallback.packed, fallback.exact_lengths = False, True  # what a non-BERT encoder gets
    for scorer in (engine, fallback):
        rng = random.Random(5)
        for text in HEADLINES:
            alone = scorer.probabilities([text])
            mates = rng.sample(HEADLINES, 5)
            among = scorer.probabilities([*mates, text, *mates])
            np.testing.assert_allclose(among.sentiment[len(mates)], alone.sentiment[0], atol=1e-6)
            np.testing.assert_allclose(among.topic[len(mates)], alone.topic[0], atol=1e-6)


def test_packed_forward_computes_what_the_padded_forward_computes(model_dir: Path) -> None:
    from monitor.stages.model.engine import forward_packed, forward_sorted

    engine = Engine(model_dir, device="cpu", max_tokens=32)
    ids = [e.ids for e in engine._tokenizer.encode_batch(HEADLINES)]
    padded = forward_sorted(engine.model, ids, 0, 3, torch.device("cpu"), 20, 3)
    packed = forward_packed(engine.model, ids, 3)
    np.testing.assert_allclose(packed[0], padded[0], atol=1e-5)
    np.testing.assert_allclose(packed[1], padded[1], atol=1e-5)


def test_int8_engine_stays_close_to_fp32(model_dir: Path) -> None:
    fp32 = Engine(model_dir, device="cpu", max_tokens=32).probabilities(HEADLINES)
    int8 = Engine(model_dir, device="cpu", max_tokens=32, int8=True).probabilities(HEADLINES)
    assert np.abs(int8.sentiment - fp32.sentiment).max() < 0.05
    assert np.abs(int8.topic - fp32.topic).max() < 0.05


def test_unknown_int8_mode_is_refused(model_dir: Path) -> None:
    with pytest.raises(ValueError, match="int8_mode"):
        Engine(model_dir, device="cpu", int8=True, int8_mode="static")
