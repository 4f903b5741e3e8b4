"""Inference engine: score many texts fast, in input order, without blocking an event loop.

Per call the texts are cleaned (:func:`monitor.ground.text.clean_text`, as in training), tokenised once with the fast
tokenizer, sorted by length and cut into micro-batches padded only to their own longest text (dynamic padding),
so a batch of headlines never pays for one long summary. ``torch.inference_mode`` throughout; on CUDA the model
runs in bf16/fp16 and batches are copied from pinned memory; on CPU the thread count and row-wise int8 linear
layers (:mod:`monitor.stages.model.quant`, activation-smoothed when the model directory has a calibration) are
configurable. :class:`AsyncEngine` runs calls on one dedicated thread.

The engine knows nothing about Kafka or message schemas: it maps strings to :class:`ScoredText`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monitor.ground.text import clean_text
from monitor.stages.model.calibrate import CALIBRATION_FILE, load_calibration
from monitor.stages.model.labels import LabelMapError, LabelMaps
from monitor.stages.model.memory import MemoryTrimmer
from monitor.stages.model.modeldir import ModelDirError, load_model_dir
from monitor.stages.model.packed import packed_logits, supports_packing
from monitor.stages.model.quant import int_mm_available, quantize_rows
from monitor.stages.model.results import ScoredText

log = logging.getLogger(__name__)

__all__ = ["AsyncEngine", "Engine", "Probabilities", "ScoredText"]

#: ``rows``: row-wise int8 (batch-invariant, the default); ``dynamic``: torch's per-batch dynamic int8 (legacy).
INT8_MODES = ("rows", "dynamic")

#: Characters kept before tokenising; far above any ``max_tokens`` worth of text, it bounds work on huge inputs.
CHARS_PER_TOKEN_CAP = 32


@dataclass
class Probabilities:
    """Raw engine output for a list of texts, rows in input order."""

    topic: np.ndarray
    sentiment: np.ndarray
    truncated: np.ndarray


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but torch sees no CUDA GPU: use --device cpu or auto")
    return torch.device(device)


def cuda_dtype(name: str) -> torch.dtype:
    """bf16 where the GPU supports it (no overflow risk), else fp16; ``fp32`` to disable reduced precision."""
    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def length_batches(lengths: np.ndarray, batch_size: int, exact: bool = False) -> list[np.ndarray]:
    """Row indices of each micro-batch: sorted by length, at most ``batch_size`` rows each.

    ``exact``: a batch holds texts of one token length only, so nothing is ever padded and a text's forward pass
    runs on the same shapes whatever its batch-mates are (with row-wise int8 layers, bit for bit the same result as
    scoring it alone). Costs more, smaller batches when lengths are spread out.
    """
    order = np.argsort(lengths, kind="stable")
    if not exact:
        return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    batches: list[np.ndarray] = []
    for length in np.unique(lengths):
        run = order[lengths[order] == length]
        batches.extend(run[start:start + batch_size] for start in range(0, len(run), batch_size))
    return batches


def forward_sorted(model: torch.nn.Module, id_lists: Sequence[Sequence[int]], pad_id: int, batch_size: int,
                   device: torch.device, n_topic: int, n_sentiment: int,
                   exact_lengths: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Both heads' probabilities for token id lists: sorted by length, padded per micro-batch, input order kept.

    Shared by the engine and the training loop's dev evaluation, so both score exactly the same way.
    """
    n = len(id_lists)
    topic = np.zeros((n, n_topic), dtype=np.float32)
    sentiment = np.zeros((n, n_sentiment), dtype=np.float32)
    lengths = np.array([len(ids) for ids in id_lists])
    with torch.inference_mode():
        for rows in length_batches(lengths, batch_size, exact_lengths):
            ids, mask = pad_batch([id_lists[i] for i in rows], pad_id)
            if device.type == "cuda":
                ids = ids.pin_memory().to(device, non_blocking=True)
                mask = mask.pin_memory().to(device, non_blocking=True)
            t_logits, s_logits = model(ids, mask)
            topic[rows] = torch.softmax(t_logits.float(), -1).cpu().numpy()
            sentiment[rows] = torch.softmax(s_logits.float(), -1).cpu().numpy()
    return topic, sentiment


def forward_packed(model: torch.nn.Module, id_lists: Sequence[Sequence[int]],
                   batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Both heads' probabilities through the padding-free packed forward (:mod:`monitor.stages.model.packed`).

    Calls of ``batch_size`` texts in input order: packing makes every call cost what its tokens cost, and a text's
    result does not depend on which call it is in, so no sorting is needed.
    """
    topics, sentiments = [], []
    with torch.inference_mode():
        for start in range(0, len(id_lists), batch_size):
            t_logits, s_logits = packed_logits(model, id_lists[start:start + batch_size])
            topics.append(torch.softmax(t_logits.float(), -1).numpy())
            sentiments.append(torch.softmax(s_logits.float(), -1).numpy())
    return np.concatenate(topics), np.concatenate(sentiments)


def truncating_tokenizer(tokenizer: Any, max_tokens: int) -> Any:
    """A private copy of the Rust tokenizer that truncates at ``max_tokens`` and never pads.

    A copy, because tokenizer.json files often carry their own fixed padding/truncation (MiniLM's pads to 128),
    and changing the shared object would change it for every other user.
    """
    from tokenizers import Tokenizer

    fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    fast.no_padding()
    fast.enable_truncation(max_length=max_tokens)
    return fast


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Legacy dynamic int8 quantisation of the linear layers (weights int8, activations quantised per batch).

    Kept only for ``bench/batch_invariance.py`` to show why it was replaced (``int8_mode="dynamic"``): its activation
    scale is per micro-batch, so labels depend on batch-mates. The default is :mod:`monitor.stages.model.quant`.
    torch.ao's eager API is deprecated in favour of torchao; its deprecation warnings are silenced, not hidden bugs.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def pad_batch(id_lists: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists to the longest one: ``(input_ids, attention_mask)`` as int64 CPU tensors."""
    width = max(len(ids) for ids in id_lists)
    ids = np.full((len(id_lists), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(id_lists), width), dtype=np.int64)
    for r, row in enumerate(id_lists):
        ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


class Engine:
    """Topic + sentiment scorer over a model directory. Not thread-safe: call it from one thread at a time."""

    def __init__(self, model_dir: str | Path, *, device: str = "auto", batch_size: int = 32, max_tokens: int = 64,
                 cpu_threads: int = 0, int8: bool = False, dtype: str = "auto",
                 expected_labels: LabelMaps | None = None, trim_interval_s: float = 1.0,
                 int8_mode: str = "rows") -> None:
        if batch_size < 1 or max_tokens < 4:
            raise ValueError("batch_size must be >= 1 and max_tokens >= 4")
        loaded = load_model_dir(Path(model_dir), expected_labels)
        self.model_dir = Path(model_dir)
        self.model_name = loaded.name
        self.model_version = loaded.version
        self.labels = loaded.labels
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.device = pick_device(device)
        self.int8 = False
        self.int8_mode = ""
        self.int8_calibration = ""
        self.exact_lengths = False
        self.packed = False
        if int8_mode not in INT8_MODES:
            raise ValueError(f"int8_mode must be one of {INT8_MODES} (got {int8_mode!r})")
        missing = {"negative", "neutral", "positive"} - set(self.labels.sentiment)
        if missing:
            raise LabelMapError(f"model directory {model_dir}: sentiment labels lack {sorted(missing)}")
        self._sent_index = [self.labels.sentiment.index(n) for n in ("positive", "neutral", "negative")]
        self._tokenizer = truncating_tokenizer(loaded.tokenizer, max_tokens)
        self._pad_id = int(loaded.tokenizer.pad_token_id or 0)
        model: torch.nn.Module = loaded.model
        if self.device.type == "cuda":
            self.dtype = cuda_dtype(dtype)
            model = model.to(self.device, dtype=self.dtype)
        else:
            self.dtype = torch.float32
            if cpu_threads > 0:
                torch.set_num_threads(cpu_threads)
            if int8 and int8_mode == "rows" and int_mm_available():
                self.packed = supports_packing(model)
                calibration = load_calibration(self.model_dir)
                if calibration is None:
                    model = quantize_rows(model)
                else:
                    try:
                        model = quantize_rows(model, act_max=calibration.maxima, alpha=calibration.alpha)
                    except ValueError as exc:
                        raise ModelDirError(f"model directory {model_dir}: {CALIBRATION_FILE} does not fit these "
                                            f"weights ({exc}); rewrite it with `python -m monitor.stages.model."
                                            f"calibrate --model {model_dir}`") from None
                    self.int8_calibration = calibration.version
                self.int8, self.int8_mode, self.exact_lengths = True, "rows", not self.packed
            elif int8:
                if int8_mode == "rows":
                    log.warning("this torch build has no CPU torch._int_mm: falling back to per-batch dynamic int8, "
                                "whose labels can depend on batch-mates (set BEARWATCH_INT8=false for fp32)")
                model = quantize_int8(model)
                self.int8, self.int8_mode = True, "dynamic"
        self.model = model.eval()
        self.trimmer = MemoryTrimmer(trim_interval_s)  # see monitor.stages.model.memory: bounded RSS in long runs

    @classmethod
    def from_settings(cls, settings: Any) -> Engine:
        """Build from a Bearwatch ``Settings`` (model_path, device, model_batch, max_tokens, cpu_threads, int8):
        the same arguments the engine's own process gets (:func:`process_engine.engine_kwargs`)."""
        from monitor.stages.model.process_engine import engine_kwargs  # that module imports this one lazily

        return cls(**engine_kwargs(settings))

    def describe(self) -> dict[str, Any]:
        return {"name": self.model_name, "version": self.model_version, "device": str(self.device),
                "dtype": str(self.dtype).removeprefix("torch."), "int8": self.int8, "int8_mode": self.int8_mode,
                "int8_calibration": self.int8_calibration,
                "exact_lengths": self.exact_lengths, "packed": self.packed, "batch_size": self.batch_size,
                "max_tokens": self.max_tokens}

    def probabilities(self, texts: Sequence[str]) -> Probabilities:
        """Softmax outputs of both heads for ``texts`` (rows in input order) and the truncation flags."""
        if not texts:
            return Probabilities(np.zeros((0, len(self.labels.topic)), np.float32),
                                 np.zeros((0, len(self.labels.sentiment)), np.float32), np.zeros(0, dtype=bool))
        id_lists, truncated = self.token_ids(texts)
        if self.packed:
            topic, sentiment = forward_packed(self.model, id_lists, self.batch_size)
        else:
            topic, sentiment = forward_sorted(self.model, id_lists, self._pad_id, self.batch_size,
                                              self.device, len(self.labels.topic), len(self.labels.sentiment),
                                              self.exact_lengths)
        return Probabilities(topic, sentiment, truncated)

    def token_ids(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """Token ids of ``texts`` as the model reads them (cleaned, capped, truncated) and the truncation flags."""
        cap = self.max_tokens * CHARS_PER_TOKEN_CAP
        cleaned = [clean_text(text) for text in texts]
        capped = np.array([len(text) > cap for text in cleaned])
        encodings = self._tokenizer.encode_batch([text[:cap] for text in cleaned])
        truncated = capped | np.array([bool(e.overflowing) for e in encodings])
        return [e.ids for e in encodings], truncated

    def score(self, texts: Sequence[str]) -> list[ScoredText]:
        """Topic and sentiment of each text, in input order (an empty list gives an empty list)."""
        probs = self.probabilities(texts)
        self.trimmer.maybe_trim()
        pos, neu, neg = self._sent_index
        topic_best = probs.topic.argmax(1) if len(texts) else []
        sent_best = probs.sentiment.argmax(1) if len(texts) else []
        out = []
        for i in range(len(texts)):
            s = probs.sentiment[i]
            out.append(ScoredText(
                topic=self.labels.topic[topic_best[i]], topic_p=float(probs.topic[i, topic_best[i]]),
                sentiment=self.labels.sentiment[sent_best[i]],
                score=float(np.clip(s[pos] - s[neg], -1.0, 1.0)),
                p_pos=float(s[pos]), p_neu=float(s[neu]), p_neg=float(s[neg]), truncated=bool(probs.truncated[i]),
            ))
        return out


class AsyncEngine:
    """Runs :meth:`Engine.score` on one dedicated thread, so an event loop keeps serving while a batch scores.

    One thread (not a pool) because torch already uses every core inside a call, and one model instance is not
    safe to call concurrently; calls queue up in submission order.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bearwatch-model")

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    @property
    def model_version(self) -> str:
        return self.engine.model_version

    def describe(self) -> dict[str, Any]:
        return {**self.engine.describe(), "process": "worker"}

    async def score(self, texts: Sequence[str]) -> list[ScoredText]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.engine.score, list(texts))

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> AsyncEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
