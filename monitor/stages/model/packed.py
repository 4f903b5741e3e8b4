"""Packed (padding-free) forward pass of a BERT-style two-head model: every token of every text in one matrix.

Why: with row-wise int8 linear layers (:mod:`monitor.stages.model.quant`) each token row's result depends on that row
alone, so the linear layers, LayerNorms, GELU and residuals can run on the tokens of all texts of a call stacked
together — full batch efficiency, no padding at all. Only attention mixes tokens, and it runs per group of texts
of the same length, with no mask: a text's attention is then the same computation whether it is scored alone or
with others. Result: labels and probabilities that do not depend on batch-mates (``bench/batch_invariance.py``),
at batch speed. Same maths as the Hugging Face forward (absolute positions, token type 0, post-LayerNorm).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from monitor.stages.model.quant import RowInt8Linear


def supports_packing(model: nn.Module) -> bool:
    """True for a :class:`TwoHeadClassifier` over a BERT encoder with absolute positions (MiniLM, BERT, FinBERT)."""
    encoder = getattr(model, "encoder", None)
    config = getattr(encoder, "config", None)
    return (config is not None and getattr(config, "model_type", "") == "bert"
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and not getattr(config, "is_decoder", False) and hasattr(encoder, "embeddings"))


def fused_qkv(attention: Any) -> nn.Module:
    """One linear layer computing query, key and value side by side (built once, kept on the attention module).

    One product instead of three, and with row-wise int8 the shared input is quantised once; the integer product
    over concatenated weights is exactly the three products side by side. ``attention`` is a Hugging Face
    self-attention module, whose sub-modules are attributes the type checker cannot see (hence ``Any``).
    """
    fused: Any = getattr(attention, "bw_fused_qkv", None)
    if fused is not None:
        return fused
    parts: tuple[Any, Any, Any] = (attention.query, attention.key, attention.value)
    if all(isinstance(p, RowInt8Linear) for p in parts):
        fused = copy.copy(parts[0])
        fused._buffers = dict(parts[0]._buffers)
        fused.weight_q = torch.cat([p.weight_q for p in parts], dim=1).contiguous()
        fused.weight_scale = torch.cat([p.weight_scale for p in parts])
        fused.bias = torch.cat([p.bias for p in parts])
        fused.out_features = sum(p.out_features for p in parts)
    else:
        fused = nn.Linear(parts[0].in_features, sum(p.out_features for p in parts))
        with torch.no_grad():
            fused.weight.copy_(torch.cat([p.weight for p in parts]))
            fused.bias.copy_(torch.cat([p.bias for p in parts]))
    attention.bw_fused_qkv = fused
    return fused


def _groups(lengths: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """Per distinct length L: (text indices, token row indices in the packed matrix, L)."""
    offsets = [0]
    for length in lengths:
        offsets.append(offsets[-1] + length)
    by_length: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        by_length.setdefault(length, []).append(index)
    groups = []
    for length, texts in sorted(by_length.items()):
        rows = torch.cat([torch.arange(offsets[t], offsets[t] + length) for t in texts])
        groups.append((torch.tensor(texts), rows, length))
    return groups


def packed_logits(model: nn.Module, id_lists: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(topic_logits, sentiment_logits)`` for token id lists (each non-empty), rows in input order."""
    net: Any = model  # a TwoHeadClassifier over a Hugging Face BERT: attributes the type checker cannot see
    encoder = net.encoder
    embeddings = encoder.embeddings
    lengths = [len(ids) for ids in id_lists]
    ids = torch.tensor([token for seq in id_lists for token in seq], dtype=torch.long)
    positions = torch.cat([torch.arange(length) for length in lengths])
    hidden = embeddings.word_embeddings(ids) + embeddings.token_type_embeddings(torch.zeros_like(ids))
    hidden = embeddings.LayerNorm(hidden + embeddings.position_embeddings(positions))
    groups = _groups(lengths)
    single = len(groups) == 1
    for layer in encoder.encoder.layer:
        attention = layer.attention.self
        heads, size = attention.num_attention_heads, attention.attention_head_size
        qkv = fused_qkv(attention)(hidden)
        context = qkv.new_empty((qkv.shape[0], heads * size))
        for _, rows, length in groups:
            block = (qkv if single else qkv[rows]).view(-1, length, 3, heads, size).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(block[0], block[1], block[2], scale=attention.scaling)
            out = out.transpose(1, 2).reshape(-1, heads * size)
            if single:
                context = out
            else:
                context[rows] = out
        output = layer.attention.output
        attended = output.LayerNorm(output.dense(context) + hidden)
        inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(attended))
        hidden = layer.output.LayerNorm(layer.output.dense(inner) + attended)
    pooled = hidden.new_empty((len(lengths), hidden.shape[-1]))
    for texts, rows, length in groups:
        block = hidden[rows].view(-1, length, hidden.shape[-1])
        pooled[texts] = block[:, 0] if net.pooling == "cls" else block.mean(dim=1)
    return net.topic_head(pooled), net.sentiment_head(pooled)
