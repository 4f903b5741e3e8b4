"""The two-head network: one pre-trained encoder, a topic head and a sentiment head.

One encoder serves both tasks, so a story is encoded once and scored twice. The heads read a pooled sentence
vector (mean of the token states by default, which is how all-MiniLM-L6-v2 was pre-trained; ``cls`` is there for
encoders trained around the first token, such as FinBERT).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

POOLINGS = ("mean", "cls")


class TwoHeadClassifier(nn.Module):
    """Encoder + dropout + two linear heads; ``forward`` returns ``(topic_logits, sentiment_logits)``."""

    def __init__(self, encoder: nn.Module, n_topic: int, n_sentiment: int, pooling: str = "mean",
                 dropout: float = 0.1) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS} (got {pooling!r})")
        self.encoder: Any = encoder  # a Hugging Face model: config and methods the type checker cannot see
        self.pooling = pooling
        hidden = int(cast(Any, encoder).config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.topic_head = nn.Linear(hidden, n_topic)
        self.sentiment_head = nn.Linear(hidden, n_sentiment)
        for head in (self.topic_head, self.sentiment_head):
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = self.dropout(self.pool(hidden, attention_mask))
        return self.topic_head(pooled), self.sentiment_head(pooled)


def load_encoder(base: str, dtype: torch.dtype = torch.float32) -> nn.Module:
    """A pre-trained encoder from a Hugging Face id or a local folder, always in ``dtype``.

    The dtype is explicit because transformers 5 loads in the checkpoint's own dtype by default, and an fp16 base
    (like the copy used for GPU training) must still be fine-tuned in fp32.
    """
    from transformers import AutoModel

    return AutoModel.from_pretrained(base, dtype=dtype)


def add_lora(model: TwoHeadClassifier, rank: int = 16, alpha: int = 32, dropout: float = 0.1,
             target_modules: str | list[str] = "all-linear") -> TwoHeadClassifier:
    """Freeze the encoder and train low-rank adapters in it (peft); the heads stay fully trainable."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                        bias="none")
    model.encoder = get_peft_model(model.encoder, config)
    return model


def merge_lora(model: TwoHeadClassifier) -> TwoHeadClassifier:
    """Fold adapters into the encoder weights, so the saved model is a plain encoder needing no peft."""
    if hasattr(model.encoder, "merge_and_unload"):
        model.encoder = model.encoder.merge_and_unload()
    return model


def trainable_parameters(model: nn.Module) -> dict[str, Any]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total}
