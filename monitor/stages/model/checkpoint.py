"""Resumable training state: weights, optimiser, scheduler, RNG and loop position, written atomically.

An interrupted run (Ctrl-C, a killed job, a lost machine) restarts with ``--resume`` at the batch after the last
checkpoint: the epoch's batch order is a function of (seed, epoch), so skipping the done batches replays the run.
A checkpoint made with different training settings is refused rather than silently mixed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_DIR = "checkpoint"
LAST_WEIGHTS, BEST_WEIGHTS, TRAINER_FILE, STATE_FILE = "last.safetensors", "best.safetensors", "trainer.pt", \
    "state.json"


@dataclass
class LoopState:
    """Where the loop is and what it has seen; JSON so a person can read it."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_score: float = -1.0
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def _state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in model.state_dict().items()}


def save_weights(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    tmp = path.with_suffix(".tmp")
    save_file(_state_dict(model), str(tmp))
    os.replace(tmp, path)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path), device=str(next(model.parameters()).device)))


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                    scaler: Any, state: LoopState) -> None:
    """Write everything needed to continue; the state file goes last, so a half-written checkpoint is ignored."""
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(model, folder / LAST_WEIGHTS)
    trainer = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
               "scaler": scaler.state_dict() if scaler is not None else {}, "rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        trainer["cuda_rng"] = torch.cuda.get_rng_state_all()
    torch.save(trainer, folder / (TRAINER_FILE + ".tmp"))
    os.replace(folder / (TRAINER_FILE + ".tmp"), folder / TRAINER_FILE)
    (folder / (STATE_FILE + ".tmp")).write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
    os.replace(folder / (STATE_FILE + ".tmp"), folder / STATE_FILE)


def has_checkpoint(folder: Path) -> bool:
    return (folder / STATE_FILE).is_file()


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                    scaler: Any, resume_key: dict[str, Any]) -> LoopState:
    """Restore a checkpoint into freshly built objects; refuse one written with other training settings."""
    state = LoopState(**json.loads((folder / STATE_FILE).read_text(encoding="utf-8")))
    saved_key = {k: state.config.get(k) for k in resume_key}
    if saved_key != resume_key:
        changed = sorted(k for k in resume_key if saved_key.get(k) != resume_key[k])
        raise ValueError(f"checkpoint in {folder} was made with different settings ({', '.join(changed)}): rerun "
                         "with the original settings, or delete the checkpoint folder to start over")
    load_weights(model, folder / LAST_WEIGHTS)
    trainer = torch.load(folder / TRAINER_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    if scaler is not None and trainer.get("scaler"):
        scaler.load_state_dict(trainer["scaler"])
    torch.set_rng_state(trainer["rng"])
    if "cuda_rng" in trainer and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(trainer["cuda_rng"])
    return state
