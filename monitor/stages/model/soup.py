"""Greedy model soup: average the weights of fine-tuned runs that share a base, keeping what helps on dev.

Runs of a sweep start from the same pre-trained weights and head initialisation, so their weights can be
averaged (Wortsman et al., 2022, "Model soups"). Ingredients are tried best-first by their own dev score and kept
only when the averaged model's dev score does not drop. Every choice reads the dev split (rebuilt exactly as
training built it, from each run's saved config); the official validation splits are only measured afterwards.

    python -m monitor.stages.model.soup --models runs/a runs/b runs/c --out models/soup

``--alpha A`` with two models instead writes the interpolation ``(1 - A) * first + A * second`` (WiSE-FT, Wortsman
et al., 2022): a continued fine-tune toward another domain keeps more of its start's in-domain accuracy that way,
which the dev split alone cannot choose (it only sees the start's domain), so A is given, not searched.
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import torch

from monitor.stages.model.calibrate import calibrate, default_texts
from monitor.stages.model.data import dev_split
from monitor.stages.model.engine import forward_sorted, pick_device, truncating_tokenizer
from monitor.stages.model.metrics import classification_report, selection_score
from monitor.stages.model.modeldir import INFO_FILE, LoadedModel, load_model_dir, save_model_dir
from monitor.stages.model.trainconfig import TrainConfig


def dev_score(loaded: LoadedModel, dev: dict[str, tuple[list[list[int]], list[int]]], device: torch.device) -> float:
    model = loaded.model.to(device).eval()
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    reports = {}
    with amp:
        for head, (ids, labels) in dev.items():
            topic, sentiment = forward_sorted(model, ids, int(loaded.tokenizer.pad_token_id or 0), 128, device,
                                              len(loaded.labels.topic), len(loaded.labels.sentiment))
            probs = topic if head == "topic" else sentiment
            reports[head] = classification_report(labels, probs.argmax(1).tolist(), loaded.labels.for_head(head))
    return selection_score(reports["sentiment"], reports["topic"])


def greedy_soup(dirs: list[Path], out: Path, device_name: str = "auto") -> dict[str, object]:
    """Write the soup (or the best single run, if no average helps) to ``out``; return what was chosen."""
    from monitor.stages.model.train import load_sets

    device = pick_device(device_name)
    infos = {d: json.loads((d / INFO_FILE).read_text(encoding="utf-8")) for d in dirs}
    ranked = sorted(dirs, key=lambda d: infos[d]["best_dev_score"], reverse=True)
    config = TrainConfig(**{**infos[ranked[0]]["training"], "validation": False})
    keys = ("seed", "dev_fraction", "limit", "sentiment_data", "topic_data", "max_tokens")
    if any(infos[d]["training"].get(k) != getattr(config, k) for d in dirs for k in keys):
        raise ValueError(f"runs differ in data or dev split settings ({', '.join(keys)}): their dev splits differ")
    sets = load_sets(config)
    first = load_model_dir(ranked[0])
    fast = truncating_tokenizer(first.tokenizer, config.max_tokens)
    dev = {}
    for name, head in (("sentiment_train", "sentiment"), ("topic_train", "topic")):
        held_out = dev_split(sets[name], config.dev_fraction, config.seed)[1]
        dev[head] = ([e.ids for e in fast.encode_batch(held_out.texts)], held_out.labels)
    members = [ranked[0]]
    total = {k: v.detach().float().cpu().clone() for k, v in first.model.state_dict().items()}
    best = dev_score(first, dev, device)
    trail = [{"added": ranked[0].name, "dev_score": best}]
    for candidate in ranked[1:]:
        other = load_model_dir(candidate).model.state_dict()
        trial = {k: v + other[k].float() if v.is_floating_point() else v for k, v in total.items()}
        first.model.load_state_dict({k: v / (len(members) + 1) if v.is_floating_point() else v
                                     for k, v in trial.items()})
        score = dev_score(first, dev, device)
        kept = score >= best
        trail.append({"tried": candidate.name, "dev_score": score, "kept": kept})
        print(f"soup + {candidate.name}: dev score {score:.4f} ({'kept' if kept else 'dropped'}; best {best:.4f})")
        if kept:
            members, total, best = [*members, candidate], trial, score
    first.model.load_state_dict({k: v / len(members) if v.is_floating_point() else v for k, v in total.items()})
    info = {**infos[ranked[0]], "best_dev_score": best,
            "soup": {"members": [m.name for m in members], "trail": trail, "rule": "greedy on dev score"}}
    save_model_dir(first.model.cpu(), first.tokenizer, first.labels, info, out)
    return info["soup"]


def interpolate(start: Path, tuned: Path, alpha: float, out: Path) -> dict[str, object]:
    """Write ``(1 - alpha) * start + alpha * tuned`` (same architecture and tokenizer) to ``out``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (got {alpha})")
    first, second = load_model_dir(start), load_model_dir(tuned)
    other = second.model.state_dict()
    mixed = {k: (1 - alpha) * v.float() + alpha * other[k].float() if v.is_floating_point() else v
             for k, v in first.model.state_dict().items()}
    second.model.load_state_dict(mixed)
    info = json.loads((tuned / INFO_FILE).read_text(encoding="utf-8"))
    info["interpolation"] = {"start": str(start), "tuned": str(tuned), "alpha": alpha,
                             "rule": "(1 - alpha) * start + alpha * tuned"}
    save_model_dir(second.model.cpu(), second.tokenizer, second.labels, info, out)
    return info["interpolation"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monitor.stages.model.soup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--validation", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the official validation splits afterwards (report only)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="with exactly two models: write (1 - alpha) * first + alpha * second, no greedy search")
    args = parser.parse_args(argv)
    if args.alpha is not None:
        if len(args.models) != 2:
            parser.error("--alpha takes exactly two --models: the start and the tuned model")
        print(f"interpolated: {interpolate(args.models[0], args.models[1], args.alpha, args.out)}")
    else:
        soup = greedy_soup(args.models, args.out, args.device)
        print(f"soup members: {soup['members']}")
    calibrate(args.out, default_texts())  # weights changed: int8 needs this soup's own activation ranges
    if args.validation:
        from monitor.stages.model.report import validation_metrics, write_report

        info = json.loads((args.out / INFO_FILE).read_text(encoding="utf-8"))["training"]
        write_report(args.out, validation_metrics(args.out, info["sentiment_data"], info["topic_data"], args.device,
                                                  info.get("limit", 0)))


if __name__ == "__main__":
    main()
