"""Multi-task fine-tuning of the two-head model; writes a complete model directory.

Flow: load both training sets, hold out a stratified dev split of each (model selection only), tokenise once,
train on mixed batches with a masked class-weighted loss (:mod:`batches`), evaluate the dev split every epoch,
keep the best epoch, stop early, then save the best weights, measure the official validation splits and write the
model card. Checkpoints (:mod:`checkpoint`) make the run resumable. Standalone use (no Bearwatch settings)::

    HF_HUB_OFFLINE=1 python -m monitor.stages.model.train --out models/mine
"""

from __future__ import annotations

import math
import random
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from monitor.ground.errors import BearwatchError
from monitor.stages.model.augment import augment_headlines, headline_like
from monitor.stages.model.batches import class_weights, encode_pool, epoch_batches, multitask_loss
from monitor.stages.model.calibrate import calibrate, calibration_texts
from monitor.stages.model.checkpoint import (
    BEST_WEIGHTS,
    CHECKPOINT_DIR,
    LoopState,
    has_checkpoint,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from monitor.stages.model.data import LabelledSet, dev_split, load_labelled, load_split
from monitor.stages.model.engine import forward_sorted, pad_batch, pick_device, truncating_tokenizer
from monitor.stages.model.labels import LabelMaps
from monitor.stages.model.metrics import classification_report, selection_score
from monitor.stages.model.modeldir import WEIGHTS_FILE, load_model_dir, save_model_dir
from monitor.stages.model.network import TwoHeadClassifier, add_lora, load_encoder, merge_lora, trainable_parameters
from monitor.stages.model.trainconfig import DEFAULT_BASE_NAME, TrainConfig, config_from_args, resolve_base

DTYPES = {"fp16": torch.float16, "fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass
class TrainResult:
    """The written directory, plus the trained network in memory (eval mode) and the report written."""

    model_dir: Path
    model: TwoHeadClassifier
    metrics: dict[str, Any]


class TrainingInterrupted(RuntimeError, BearwatchError):
    """Training stopped on Ctrl-C after saving a checkpoint; the message says how to resume."""


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _amp(config: TrainConfig, device: torch.device) -> tuple[torch.dtype | None, Any]:
    """Autocast dtype and grad scaler: bf16 needs no scaler, fp16 does; CPU trains in fp32."""
    if device.type != "cuda" or config.precision == "fp32":
        return None, None
    if config.precision == "fp16" or (config.precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16, torch.amp.GradScaler("cuda")
    return torch.bfloat16, None


def load_sets(config: TrainConfig) -> dict[str, LabelledSet]:
    sets = {"sentiment_train": load_split(config.sentiment_data, "sentiment", "train"),
            "topic_train": load_split(config.topic_data, "topic", "train")}
    if config.validation:
        sets["sentiment_valid"] = load_split(config.sentiment_data, "sentiment", "valid")
        sets["topic_valid"] = load_split(config.topic_data, "topic", "valid")
    if config.limit:
        rng = np.random.default_rng(config.seed)
        sets = {k: v.subset(np.sort(rng.permutation(len(v))[: config.limit]), v.source) for k, v in sets.items()}
    return sets


def _optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and LayerNorm weights (the BERT recipe)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, fused=device.type == "cuda")


def _schedule(optimizer: torch.optim.Optimizer, total: int, warmup_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, int(total * warmup_ratio))

    def factor(step: int) -> float:
        return (step + 1) / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _evaluate_dev(model: TwoHeadClassifier, dev: dict[str, tuple[list[list[int]], list[int]]], pad_id: int,
                  config: TrainConfig, device: torch.device, amp: torch.dtype | None,
                  heads: tuple[str, ...] = ("sentiment", "topic")) -> dict[str, Any]:
    model.eval()
    result: dict[str, Any] = {}
    with torch.autocast(device.type, dtype=amp) if amp else nullcontext():
        for head, (ids, labels) in dev.items():
            if head not in heads:
                continue
            topic, sentiment = forward_sorted(model, ids, pad_id, config.eval_batch_size, device,
                                              len(LabelMaps().topic), len(LabelMaps().sentiment))
            probs = topic if head == "topic" else sentiment
            report = classification_report(labels, probs.argmax(1).tolist(), LabelMaps().for_head(head))
            result[head] = {k: report[k] for k in ("accuracy", "macro_f1", "weighted_f1")}
    model.train()
    if "sentiment" in result and "topic" in result:
        result["score"] = selection_score(result["sentiment"], result["topic"])
    return result


def _fraction(data: LabelledSet, fraction: float, seed: int) -> LabelledSet:
    """A fixed random share of ``data`` (every class keeps about its share); 1 or more returns it whole."""
    if fraction >= 1:
        return data
    keep = np.sort(np.random.default_rng([seed, 11]).permutation(len(data))[: max(1, round(len(data) * fraction))])
    return data.subset(keep, f"{data.source} ({fraction:.0%})")


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, transient=False)


#: Seconds between plain progress lines when the console is not a terminal (``> train.log``).
LINE_EVERY_S = 30.0


class StepLines:
    """Training progress as a plain line every :data:`LINE_EVERY_S` seconds, for output that goes to a file.

    Why: rich draws its bar only on a terminal; redirected, a 40-minute run would print nothing until it ends.
    """

    def __init__(self, console: Console, total: int, done: int) -> None:
        self.console, self.total, self.start_done = console, total, done
        self.began = self.last = time.monotonic()

    def tick(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if now - self.last < LINE_EVERY_S and done < self.total:
            return
        self.last = now
        per_step = (now - self.began) / max(done - self.start_done, 1)
        eta = per_step * (self.total - done)
        self.console.print(f"step {done}/{self.total}: loss {loss:.4f}, {per_step:.2f} s/step, ETA {eta / 60:.1f} min",
                           highlight=False, soft_wrap=True)


def train(config: TrainConfig, console: Console | None = None) -> TrainResult:
    """Run training as configured and write the model directory. Raises TrainingInterrupted on Ctrl-C."""
    console = console or Console(soft_wrap=True)
    out, started = Path(config.out), time.monotonic()
    ckpt = out / CHECKPOINT_DIR
    if has_checkpoint(ckpt) and not config.resume:
        raise FileExistsError(f"{ckpt} holds an unfinished run: add --resume to continue it, or delete the folder")
    if (out / WEIGHTS_FILE).exists() and not (config.overwrite or config.resume):
        raise FileExistsError(f"{out} already holds a model: pass --overwrite to replace it, or choose --out")
    _seed_everything(config.seed)
    device = pick_device(config.device)
    if config.cpu_threads and device.type == "cpu":
        torch.set_num_threads(config.cpu_threads)
    labels = LabelMaps()
    if config.init_from:
        start = load_model_dir(Path(config.init_from), labels)
        base, tokenizer, model = str(start.info.get("base", config.init_from)), start.tokenizer, start.model
        if start.info.get("pooling", "mean") != config.pooling:
            raise ValueError(f"--init-from {config.init_from} uses {start.info.get('pooling')} pooling; pass "
                             f"--pooling {start.info.get('pooling')}")
    else:
        base = resolve_base(config.base)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base)
        model = TwoHeadClassifier(load_encoder(base), len(labels.topic), len(labels.sentiment), config.pooling,
                                  config.dropout)
    fast = truncating_tokenizer(tokenizer, config.max_tokens)
    pad_id = int(tokenizer.pad_token_id or 0)
    sets = load_sets(config)
    sent_train, sent_dev = dev_split(sets["sentiment_train"], config.dev_fraction, config.seed)
    topic_train, topic_dev = dev_split(sets["topic_train"], config.dev_fraction, config.seed)
    topic_train = _fraction(topic_train, config.topic_fraction, config.seed)
    parts = [augment_headlines(topic_train, config.headline_fraction, config.seed),
             augment_headlines(sent_train, config.headline_fraction, config.seed + 1)]
    if config.weak_headlines:  # headlines labelled by monitor.stages.model.weak_labels: sentiment rows only
        parts.append(load_labelled(config.weak_headlines, "sentiment"))
    pool = encode_pool(fast, parts)
    dev = {d.head: ([e.ids for e in fast.encode_batch(d.texts)], d.labels) for d in (sent_dev, topic_dev)}
    dev_headline = ([e.ids for e in fast.encode_batch([headline_like(t) for t in sent_dev.texts])], sent_dev.labels)
    if config.lora:
        add_lora(model, config.lora_rank, config.lora_alpha)
    model.to(device).train()
    weights = {head: torch.tensor(class_weights(d.labels, len(labels.for_head(head)), config.class_weight_power),
                                  dtype=torch.float32, device=device)
               for head, d in (("topic", topic_train), ("sentiment", sent_train))}
    optimizer = _optimizer(model, config, device)
    steps_per_epoch = math.ceil(len(pool) / config.batch_size)
    total_steps = config.max_steps or steps_per_epoch * config.epochs
    scheduler = _schedule(optimizer, total_steps, config.warmup_ratio)
    amp, scaler = _amp(config, device)
    state = LoopState(config=config.to_json())
    if config.resume and has_checkpoint(ckpt):
        state = load_checkpoint(ckpt, model, optimizer, scheduler, scaler, config.resume_key())
        state.config = config.to_json()
        console.print(f"resuming at epoch {state.epoch + 1}, batch {state.step_in_epoch} "
                      f"(step {state.global_step})")
    weak = f" + {len(parts[2])} weak headline" if config.weak_headlines else ""
    console.print(f"training {len(topic_train)} topic + {len(sent_train)} sentiment{weak} examples "
                  f"(dev {len(topic_dev)} + {len(sent_dev)}) on {device}"
                  f"{' with ' + str(amp).removeprefix('torch.') + ' autocast' if amp else ''}; "
                  f"{trainable_parameters(model)['trainable']:,} trainable parameters; base {base}")
    last_save = time.monotonic()
    try:
        while state.epoch < config.epochs and not (config.max_steps and state.global_step >= config.max_steps):
            batches = epoch_batches(len(pool), config.batch_size, config.seed, state.epoch)
            epoch_start, smooth, loss_sum, loss_count = time.monotonic(), float("nan"), 0.0, 0
            with _progress(console) as progress:
                steps = len(batches)
                if config.max_steps:
                    steps = min(steps, state.step_in_epoch + config.max_steps - state.global_step)
                task = progress.add_task(f"epoch {state.epoch + 1}/{config.epochs}", total=steps,
                                         completed=state.step_in_epoch, loss=smooth)
                lines = None if console.is_terminal else StepLines(console, steps, state.step_in_epoch)
                for rows in batches[state.step_in_epoch:]:
                    ids, mask = pad_batch([pool.ids[i] for i in rows], pad_id)
                    ids, mask = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
                    targets = torch.from_numpy(pool.labels[rows]).to(device, non_blocking=True)
                    heads = torch.from_numpy(pool.heads[rows]).to(device, non_blocking=True)
                    with torch.autocast(device.type, dtype=amp) if amp else nullcontext():
                        topic_logits, sent_logits = model(ids, mask)
                    loss = multitask_loss(topic_logits, sent_logits, targets, heads, weights["topic"],
                                          weights["sentiment"], config.label_smoothing)
                    (scaler.scale(loss) if scaler else loss).backward()
                    if scaler:
                        scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                    if scaler:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    value = float(loss.detach())
                    smooth = value if math.isnan(smooth) else 0.98 * smooth + 0.02 * value
                    loss_sum, loss_count = loss_sum + value, loss_count + 1
                    state.step_in_epoch += 1
                    state.global_step += 1
                    progress.update(task, advance=1, loss=smooth)
                    if lines is not None:
                        lines.tick(state.step_in_epoch, smooth)
                    if time.monotonic() - last_save > 60 * config.checkpoint_minutes:
                        save_checkpoint(ckpt, model, optimizer, scheduler, scaler, state)
                        last_save = time.monotonic()
                    if config.max_steps and state.global_step >= config.max_steps:
                        break
            scores = _evaluate_dev(model, dev, pad_id, config, device, amp)
            scores["sentiment_headline_like"] = _evaluate_dev(
                model, {"sentiment": dev_headline, "topic": dev["topic"]}, pad_id, config, device, amp,
                heads=("sentiment",))["sentiment"]
            row = {"epoch": state.epoch + 1, "train_loss": loss_sum / max(1, loss_count),
                   "seconds": round(time.monotonic() - epoch_start, 1), **scores}
            state.history.append(row)
            improved = scores["score"] > state.best_score
            if improved:
                state.best_score, state.best_epoch, state.bad_epochs = scores["score"], state.epoch + 1, 0
                ckpt.mkdir(parents=True, exist_ok=True)
                save_weights(model, ckpt / BEST_WEIGHTS)
            else:
                state.bad_epochs += 1
            state.epoch, state.step_in_epoch = state.epoch + 1, 0
            save_checkpoint(ckpt, model, optimizer, scheduler, scaler, state)
            last_save = time.monotonic()
            console.print(f"epoch {row['epoch']}: loss {row['train_loss']:.4f}; dev sentiment acc "
                          f"{scores['sentiment']['accuracy']:.4f} wF1 {scores['sentiment']['weighted_f1']:.4f}; "
                          f"topic acc {scores['topic']['accuracy']:.4f} mF1 {scores['topic']['macro_f1']:.4f}; "
                          f"score {scores['score']:.4f}{' (best)' if improved else ''}; headline-like dev "
                          f"sentiment acc {scores['sentiment_headline_like']['accuracy']:.4f}; {row['seconds']} s")
            if state.bad_epochs >= config.patience:
                console.print(f"early stop: no dev improvement for {config.patience} epochs")
                break
            elapsed = time.monotonic() - started
            if config.time_budget_minutes and elapsed + row["seconds"] > 60 * config.time_budget_minutes:
                console.print(f"time budget of {config.time_budget_minutes} min reached: stopping")
                break
    except KeyboardInterrupt:
        save_checkpoint(ckpt, model, optimizer, scheduler, scaler, state)
        raise TrainingInterrupted(f"interrupted at epoch {state.epoch + 1}, batch {state.step_in_epoch}; checkpoint "
                                  f"saved in {ckpt}: rerun the same command with --resume to continue") from None
    return _finish(model, tokenizer, labels, config, base, state, sets, device, console)


def _finish(model: TwoHeadClassifier, tokenizer: Any, labels: LabelMaps, config: TrainConfig, base: str,
            state: LoopState, sets: dict[str, LabelledSet], device: torch.device, console: Console) -> TrainResult:
    """Best weights → model directory (fp16 by default) → validation metrics and model card."""
    from monitor.stages.model.report import validation_metrics, write_report

    out, ckpt = Path(config.out), Path(config.out) / CHECKPOINT_DIR
    if (ckpt / BEST_WEIGHTS).exists():
        load_weights(model, ckpt / BEST_WEIGHTS)
    merge_lora(model)
    info = {"name": config.name, "base": base, "base_name": config.base_name or config.base or DEFAULT_BASE_NAME,
            "pooling": config.pooling, "max_tokens": config.max_tokens, "best_epoch": state.best_epoch,
            "best_dev_score": state.best_score, "history": state.history, "training": config.to_json()}
    save_model_dir(model, tokenizer, labels, info, out, DTYPES[config.save_dtype])
    console.print("measuring int8 activation ranges (monitor.stages.model.calibrate) ...")
    calibrate(out, calibration_texts(sets["sentiment_train"].texts + sets["topic_train"].texts),
              max_tokens=config.max_tokens)
    if config.validation:
        console.print("measuring the official validation splits ...")
        metrics = validation_metrics(out, config.sentiment_data, config.topic_data, str(device), config.limit)
    else:
        metrics = {"dev": state.history[state.best_epoch - 1] if state.best_epoch > 0 else {}}
    write_report(out, metrics)
    if not config.keep_checkpoint:
        shutil.rmtree(ckpt, ignore_errors=True)
    for head in ("sentiment", "topic"):
        if head in metrics:
            m = metrics[head]
            console.print(f"validation {head}: accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}, "
                          f"weighted F1 {m['weighted_f1']:.4f}")
    console.print(f"model written to {out}")
    return TrainResult(out, model.eval(), metrics)


def main(argv: list[str] | None = None) -> None:
    config = config_from_args(argv)
    try:
        train(config)
    except TrainingInterrupted as exc:
        Console(stderr=True).print(f"[yellow]{exc}[/]")
        raise SystemExit(130) from None
    except (FileExistsError, ValueError, OSError) as exc:  # a missing model or data source, an occupied --out
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
