"""Throughput of the inference engine vs naive per-text scoring, on the same validation texts.

Not a test: a measurement to rerun when the engine or the model changes. Rows:

- ``naive``: the model called once per text (tokenizer → tensors → forward → softmax), as a first draft would;
- ``engine`` at each batch size, fp32 and (CPU) row-wise int8 with exact-length batches (the default CPU path,
  batch-invariant), optionally the legacy per-batch dynamic int8 (``--int8-dynamic``), or fp16/bf16 on CUDA.

Modes are interleaved slice by slice (see :func:`run_interleaved`). Each row reports texts/s over all texts
and ms per batch p50/p99. Prints a table and writes JSON.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/model_throughput.py
    python3 bench/model_throughput.py --device cuda --dtype bf16 --batch-sizes 1,8,32,128,512
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.stages.model.data import DEFAULT_SENTIMENT, DEFAULT_TOPIC, load_split  # noqa: E402
from monitor.stages.model.engine import Engine, pick_device  # noqa: E402
from monitor.stages.model.modeldir import load_model_dir  # noqa: E402


def validation_texts(n: int, sentiment: str, topic: str) -> list[str]:
    """``n`` texts drawn with a fixed seed from both validation splits (raw text: the engine cleans it)."""
    texts = load_split(sentiment, "sentiment", "valid").texts + load_split(topic, "topic", "valid").texts
    order = np.random.default_rng(2024).permutation(len(texts))[:n]
    return [texts[i] for i in order]


def summarise(name: str, batch: int, latencies: list[float], n: int, total: float) -> dict[str, object]:
    ms = np.asarray(latencies) * 1000
    p50 = float(np.percentile(ms, 50))
    return {"mode": name, "batch": batch, "texts_per_s": round(n / total, 1),
            "texts_per_s_p50": round(1000 * batch / p50, 1) if p50 else 0.0,
            "ms_p50": round(p50, 2), "ms_p99": round(float(np.percentile(ms, 99)), 2), "batches": len(latencies)}


def add_speedups(rows: list[dict]) -> None:
    """Speed-up vs the naive row, from mean throughput and from the median batch ("p50").

    The p50 figure (batch / median batch time) is the one to trust on a shared machine: a neighbour's burst
    stretches a few batches, which drags the mean of per-text scoring far more than the median.
    """
    naive, naive_p50 = float(rows[0]["texts_per_s"]), float(rows[0]["texts_per_s_p50"])
    for row in rows:
        row["speedup"] = round(float(row["texts_per_s"]) / naive, 2)
        row["speedup_p50"] = round(float(row["texts_per_s_p50"]) / naive_p50, 2)


def naive_scorer(model_dir: Path, device: torch.device, dtype: torch.dtype, max_tokens: int) -> Callable:
    """Per text: the HF tokenizer's __call__, a forward pass, a softmax, a .cpu() sync. No batching."""
    from monitor.ground.text import clean_text

    loaded = load_model_dir(model_dir)
    model = loaded.model.to(device, dtype=dtype).eval()
    tokenizer = loaded.tokenizer

    def one(texts: list[str]) -> None:
        enc = tokenizer(clean_text(texts[0]), return_tensors="pt", truncation=True, max_length=max_tokens,
                        padding=False)
        with torch.inference_mode():
            t, s = model(enc["input_ids"].to(device), enc["attention_mask"].to(device))
            torch.softmax(t.float(), -1).cpu(), torch.softmax(s.float(), -1).cpu()

    return one


def engine_scorer(engine: Engine, batch: int) -> Callable:
    """The stream worker's pattern: one ``score`` call per micro-batch of ``batch`` texts."""

    def call(texts: list[str]) -> None:
        engine.batch_size = batch
        engine.score(texts)

    return call


def run_interleaved(modes: list[tuple[str, int, Callable]], texts: list[str], slice_size: int = 200) -> list[dict]:
    """Time every mode on the same slices, mode after mode within each slice.

    Interleaving means a burst of load from a neighbour on a shared machine slows all modes alike instead of
    wrecking whichever mode happened to run at that moment, so the ratios stay meaningful.
    """
    for _, batch, call in modes:  # warm-up: first calls allocate, and oneDNN/cuBLAS pick kernels
        for i in range(0, 64, batch):
            call(texts[i:i + batch])
    latencies: list[list[float]] = [[] for _ in modes]
    totals = [0.0] * len(modes)
    for start in range(0, len(texts), slice_size):
        part = texts[start:start + slice_size]
        for index, (_, batch, call) in enumerate(modes):
            began = time.perf_counter()
            for i in range(0, len(part), batch):
                t0 = time.perf_counter()
                call(part[i:i + batch])
                latencies[index].append(time.perf_counter() - t0)
            totals[index] += time.perf_counter() - began
    return [summarise(name, batch, latencies[i], len(texts), totals[i]) for i, (name, batch, _) in enumerate(modes)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--n", type=int, default=2000, help="validation texts to score")
    parser.add_argument("--batch-sizes", default="1,8,16,32,64")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp32", "fp16", "bf16"],
                        help="CUDA only: engine precision (CPU always runs fp32, plus int8 unless --no-int8)")
    parser.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--int8-dynamic", action=argparse.BooleanOptionalAction, default=False,
                        help="also time the legacy per-batch dynamic int8 (not batch-invariant)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--sentiment-data", default=str(DEFAULT_SENTIMENT))
    parser.add_argument("--topic-data", default=str(DEFAULT_TOPIC))
    parser.add_argument("--json-out", type=Path, default=None,
                        help="default: bench/results/model_throughput_<device>.json")
    args = parser.parse_args(argv)
    console = Console(width=130)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = validation_texts(args.n, args.sentiment_data, args.topic_data)
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    configs: list[tuple[str, dict[str, object]]]
    if device.type == "cuda":
        configs = [(args.dtype, {"dtype": args.dtype})]
    else:
        configs = [("fp32", {"int8": False})] + ([("int8", {"int8": True})] if args.int8 else []) \
            + ([("int8-dynamic", {"int8": True, "int8_mode": "dynamic"})] if args.int8_dynamic else [])
    engines = {label: Engine(args.model, device=args.device, max_tokens=args.max_tokens, **kw)  # type: ignore[arg-type]
               for label, kw in configs}
    naive_dtype = next(iter(engines.values())).dtype
    modes = [("naive per-text", 1, naive_scorer(args.model, device, naive_dtype, args.max_tokens))]
    short = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
    modes += [(f"engine {label if engine.int8 else short[engine.describe()['dtype']]}", size,
               engine_scorer(engine, size)) for label, engine in engines.items() for size in sizes]
    console.print(f"timing {len(modes)} modes on {len(texts)} texts, interleaved in slices of 200 ...")
    rows = run_interleaved(modes, texts)
    add_speedups(rows)
    table = Table(title=f"{len(texts)} validation texts on {device} "
                        f"({torch.get_num_threads()} threads, torch {torch.__version__})")
    for column in ("mode", "batch", "texts/s", "× naive", "texts/s p50", "× naive p50", "ms/batch p50",
                   "ms/batch p99"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for row in rows:
        table.add_row(str(row["mode"]), str(row["batch"]), f"{row['texts_per_s']:.1f}", f"{row['speedup']:.2f}",
                      f"{row['texts_per_s_p50']:.1f}", f"{row['speedup_p50']:.2f}", f"{row['ms_p50']:.2f}",
                      f"{row['ms_p99']:.2f}")
    console.print(table)
    best = max(rows[1:], key=lambda r: float(r["texts_per_s_p50"]))  # type: ignore[arg-type]
    console.print(f"best engine: {best['mode']} batch {best['batch']} = {best['speedup_p50']}× naive at the median, "
                  f"{best['speedup']}× on the mean (target ≥ 2.5×)")
    out = args.json_out or ROOT / "bench" / "results" / f"model_throughput_{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": str(device), "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
            "n_texts": len(texts), "max_tokens": args.max_tokens,
            "model": next(iter(engines.values())).describe()}
    out.write_text(json.dumps({"meta": meta, "rows": rows, "best": best}, indent=1) + "\n", encoding="utf-8")
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
