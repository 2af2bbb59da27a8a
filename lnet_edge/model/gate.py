"""The scene gate: one judgement of the whole window, "is there a landslide here at all?".

The pixel head marks bare fields, cut slopes and building sites because each looks like a fresh
scar at 0.8 m; whether a scene holds a landslide is better judged from all of it at once. The
gate reads a descriptor of the window from the network's own features (over the window, the mean,
the max and the mean weighted by the landslide probability of the last two encoder stages, the MFF
bottleneck and the last decoder stage, plus the logits' highest probability, mean probability and
share over 0.5) and scores it with one linear
layer (a logistic regression fitted after training: lnet_edge.train.scene_gate). Where the score
is under the cut stored in the configuration (``scene_gate``), the window is shut: every logit is
set to GATED_LOGIT, so the map is empty there, or, with a floor (``scene_gate_floor``), lowered so
that only pixels of at least that probability stay over the threshold. Elsewhere the logits pass
unchanged. It is part of the
network, so every exported model, int8 model and engine carries it, and a window is whatever the
network is given: a whole image in ``eval``, a tile in ``infer``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lnet_edge.config import GATED_LOGIT, logit

# The exported graph's node names of the gate and its descriptor (the modules' names below): int8
# calibration leaves them in float (lnet_edge.calibration.quantize.FLOAT_SCOPES), since one int8
# scale cannot carry pooled maxima and probabilities side by side, and the cut is sharp.


# where the gate's feature maps sit: encoder stages 3 and 4, bottleneck, last decoder stage
FEATURE_STRIDES = (4, 8, 16, 1)


def descriptor_size(widths: tuple[int, ...], weighted: bool = True) -> int:
    """Numbers in a window's descriptor for a network of these five widths."""
    return (3 if weighted else 2) * (widths[2] + widths[3] + widths[4] + widths[0]) + 3


def describe(features: list[torch.Tensor], logits: torch.Tensor, weighted: bool = True) -> torch.Tensor:
    """(N, descriptor_size) from the gate's feature maps (at FEATURE_STRIDES) and the (N,1,H,W)
    logits. Besides each map's mean and max, with ``weighted`` its mean weighted by the landslide
    probability (pooled to its grid) says what the marked ground looks like, which whole-window
    means dilute: a road or a roof, or a scar. (Gates fitted before it read mean and max only.)"""
    prob = torch.sigmoid(logits)
    pooled = []
    for f, stride in zip(features, FEATURE_STRIDES):
        pooled += [f.mean(dim=(2, 3)), f.amax(dim=(2, 3))]
        if weighted:
            p = F.avg_pool2d(prob, stride) if stride > 1 else prob
            pooled.append((f * p).sum(dim=(2, 3)) / (p.sum(dim=(2, 3)) + 1e-6))
    flat = logits.flatten(1)
    pooled += [torch.sigmoid(flat.amax(dim=1, keepdim=True)), prob.flatten(1).mean(dim=1, keepdim=True),
               (flat > 0).float().mean(dim=1, keepdim=True)]  # fmt: skip
    return torch.cat(pooled, dim=1)


class WindowDescriptor(nn.Module):
    """:func:`describe` as a module, so its exported nodes are named under ``/descriptor/``."""

    def __init__(self, weighted: bool = True) -> None:
        super().__init__()
        self.weighted = weighted

    def forward(self, features: list[torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
        return describe(features, logits, self.weighted)


class SceneGate(nn.Module):
    """A linear score of the window's descriptor (standardisation folded into the weights)."""

    def __init__(
        self,
        widths: tuple[int, ...],
        cut: float,
        floor: float | None = None,
        threshold: float = 0.5,
        weighted: bool = True,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(descriptor_size(widths, weighted), 1)
        self.cut_logit = logit(cut)
        # a shut window's logits are lowered by this much: logit(floor) then sits on the threshold
        self.shift = None if floor is None else logit(floor) - logit(threshold)

    def forward(self, descriptor: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        passes = self.linear(descriptor)[:, :, None, None] >= self.cut_logit
        shut = torch.full_like(logits, GATED_LOGIT) if self.shift is None else logits - self.shift
        return torch.where(passes, logits, shut)
