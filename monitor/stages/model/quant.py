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

Activation smoothing (SmoothQuant, Xiao et al. 2023), when the model directory carries a calibration file
(``int8_calibration.safetensors``, written by ``python -m monitor.stages.model.calibrate``): a few input channels of
some layers carry values tens of times larger than the rest, so one scale per row spends most of the int8 range on
them and rounds the others coarsely. Each input channel ``j`` is divided by a fixed
``s_j = max|x_j|^a / max|W_j|^(1-a)`` (``max|x_j|`` measured once on training texts) and the weight column multiplied
by it — the product is unchanged in exact arithmetic, but both sides quantise with less error. The factors are
constants, so the result still depends on the row alone (batch-invariant).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: Symmetric int8 range; -128 is left out so that ``-x`` quantises to ``-q``.
QMAX = 127.0


#: Smoothing strength ``a``: 0 leaves activations alone, 1 moves all their range into the weights.
DEFAULT_ALPHA = 0.5


def smoothing_factors(act_max: torch.Tensor, weight: torch.Tensor, alpha: float = DEFAULT_ALPHA) -> torch.Tensor:
    """Per-input-channel divisors ``s`` for activations (weights are multiplied by them), from calibration maxima."""
    w_max = weight.detach().float().abs().amax(dim=0).clamp_min(1e-5)
    factors = act_max.float().clamp_min(1e-5).pow(alpha) / w_max.pow(1.0 - alpha)
    return factors.clamp_min(1e-5)


class RowInt8Linear(nn.Module):
    """``nn.Linear`` with int8 weights (per output channel) and int8 activations (per row), fp32 in and out;
    optionally with fixed per-input-channel smoothing (``smooth``: activations divided, weight columns multiplied)."""

    weight_q: torch.Tensor  # buffers, declared for the type checker (nn.Module's __getattr__ is untyped)
    weight_scale: torch.Tensor
    bias: torch.Tensor
    inverse_smooth: torch.Tensor | None

    def __init__(self, linear: nn.Linear, smooth: torch.Tensor | None = None) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        if smooth is not None:
            weight = weight * smooth[None, :]
            self.register_buffer("inverse_smooth", (1.0 / smooth).float().contiguous())
        else:
            self.inverse_smooth = None
        scale = weight.abs().amax(dim=1).clamp_min(1e-12) / QMAX
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight_q", torch.round(weight / scale[:, None]).clamp(-QMAX, QMAX)
                             .to(torch.int8).t().contiguous())
        self.register_buffer("weight_scale", scale.contiguous())
        bias = linear.bias.detach().float() if linear.bias is not None else torch.zeros(linear.out_features)
        self.register_buffer("bias", bias.contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).float()
        if self.inverse_smooth is not None:
            rows = rows * self.inverse_smooth
        scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12).div_(QMAX)
        quantised = torch.div(rows, scale).round_().clamp_(-QMAX, QMAX).to(torch.int8)
        out = torch._int_mm(quantised, self.weight_q).float()
        out.mul_(scale).mul_(self.weight_scale).add_(self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        smoothed = ", smoothed" if self.inverse_smooth is not None else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 rows x int8 channels{smoothed}"


#: Linear layers that read the same input (a BERT self-attention's query, key and value): they get one set of
#: smoothing factors, so that their quantised input is shared and they can be fused into one product.
SHARED_INPUT = ("query", "key", "value")


def _shared_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Layer name → the weights its smoothing factors are computed from (its own, or its input group's, stacked)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    weights = {name: m.weight for name, m in layers.items()}
    for name in layers:
        parent, _, leaf = name.rpartition(".")
        if leaf == SHARED_INPUT[0] and all(f"{parent}.{part}" in layers for part in SHARED_INPUT):
            stacked = torch.cat([layers[f"{parent}.{part}"].weight for part in SHARED_INPUT])
            weights.update({f"{parent}.{part}": stacked for part in SHARED_INPUT})
    return weights


def quantize_rows(model: nn.Module, skip: tuple[str, ...] = ("topic_head", "sentiment_head"),
                  act_max: dict[str, torch.Tensor] | None = None, alpha: float = DEFAULT_ALPHA) -> nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (in place) except those named in ``skip`` by :class:`RowInt8Linear`,
    smoothed where ``act_max`` (layer name → per-input-channel calibration maximum) has the layer."""
    weights = _shared_weights(model) if act_max else {}
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and full not in skip:
                seen = (act_max or {}).get(full)
                if seen is not None and seen.shape != (child.in_features,):
                    raise ValueError(f"layer {full} reads {child.in_features} channels but the calibration has "
                                     f"{tuple(seen.shape)}")
                smooth = smoothing_factors(seen, weights[full], alpha) if seen is not None else None
                setattr(module, child_name, RowInt8Linear(child, smooth))
    return model


@torch.no_grad()
def activation_maxima(model: nn.Module, id_lists: list[list[int]],
                      skip: tuple[str, ...] = ("topic_head", "sentiment_head")) -> dict[str, torch.Tensor]:
    """Per-input-channel max |x| of every ``nn.Linear`` input of the fp32 ``model`` over the token ids of each text.

    Each text runs alone (no padding), so padded positions cannot enter the maxima.
    """
    maxima: dict[str, torch.Tensor] = {}
    hooks = []

    def recorder(layer_name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            seen = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).abs().amax(dim=0).float()
            maxima[layer_name] = torch.maximum(maxima[layer_name], seen) if layer_name in maxima else seen
        return hook

    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name not in skip:
            hooks.append(module.register_forward_pre_hook(recorder(name)))
    try:
        for ids in id_lists:
            input_ids = torch.tensor([ids], dtype=torch.long)
            model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
    finally:
        for hook in hooks:
            hook.remove()
    return maxima


def int_mm_available() -> bool:
    """Whether this torch build runs ``torch._int_mm`` on CPU (it does from torch 2.3 on x86 and arm64)."""
    try:
        torch._int_mm(torch.ones(1, 8, dtype=torch.int8), torch.ones(8, 8, dtype=torch.int8))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    return True
