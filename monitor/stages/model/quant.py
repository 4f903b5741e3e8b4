"""Row-wise int8 linear layers for CPU inference: fast, and a text's output never depends on its batch-mates.

Why not torch's dynamic quantisation (``quantize_dynamic``), which Bearwatch used before: it picks **one** activation
scale per input tensor, i.e. per micro-batch, so the same headline got different probabilities (and near a tie a
different label) depending on which other texts shared its batch — a replay could not reproduce live labels
(``bench/batch_invariance.py``: 12 sentiment and 18-27 topic flips of 300 texts).

Here every token row gets its own symmetric scale (``max|x| / 127``) and every weight output channel its own scale
(per-channel, computed once). The int8 × int8 → int32 product (``torch._int_mm``, oneDNN/AMX/VNNI where the CPU has
them) is exact integer arithmetic, and the rescale is element-wise, so each row's result is a function of that row
alone: batch-mates and padding rows cannot change it. Finer scales than per-tensor also keep it closer to fp32.
Only the encoder's linear layers are quantised; the two small heads stay fp32.
"""

from __future__ import annotations

import torch
from torch import nn

#: Symmetric int8 range; -128 is left out so that ``-x`` quantises to ``-q``.
QMAX = 127.0


class RowInt8Linear(nn.Module):
    """``nn.Linear`` with int8 weights (per output channel) and int8 activations (per row), fp32 in and out."""

    weight_q: torch.Tensor  # buffers, declared for the type checker (nn.Module's __getattr__ is untyped)
    weight_scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / QMAX
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_q", torch.round(weight / scale[:, None]).clamp(-QMAX, QMAX)
                             .to(torch.int8).t().contiguous())
        self.register_buffer("weight_scale", scale.contiguous())
        bias = linear.bias.detach().float() if linear.bias is not None else torch.zeros(linear.out_features)
        self.register_buffer("bias", bias.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12).div_(QMAX)
        quantised = torch.div(rows, scale).round_().clamp_(-QMAX, QMAX).to(torch.int8)
        out = torch._int_mm(quantised, self.weight_q).float()
        out.mul_(scale).mul_(self.weight_scale).add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 rows x int8 channels"


def quantize_rows(model: nn.Module, skip: tuple[str, ...] = ("topic_head", "sentiment_head")) -> nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (in place) except those named in ``skip`` by :class:`RowInt8Linear`."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and full not in skip:
                setattr(module, child_name, RowInt8Linear(child))
    return model


def int_mm_available() -> bool:
    """Whether this torch build runs ``torch._int_mm`` on CPU (it does from torch 2.3 on x86 and arm64)."""
    try:
        torch._int_mm(torch.ones(1, 8, dtype=torch.int8), torch.ones(8, 8, dtype=torch.int8))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    return True
