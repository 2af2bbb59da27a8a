"""L-Net (Dong et al. 2022) and its Table 1 ablations as one configurable U-Net.

Encoder stage k (k=1..4): conv3x3-BN-ReLU to width w_k, then residual network A (ResNet
variants) or a second conv3x3-BN-ReLU (plain U-Net), whose output is the skip; then max-pool.
Bottleneck at 1/16: MFF (w_4 -> w_5) or, for plain U-Net, two conv3x3-BN-ReLU.
Decoder stage k (k=4..1): upsample (DUpsampling or bilinear + 1x1) to w_k, concat the skip,
conv3x3-BN-ReLU to w_k, then residual network B (ResNet variants) or a second conv.
Head: 1x1 conv to one channel of logits (sigmoid and BCE live outside the network, so the
exported model outputs logits). With ``config.scene_gate`` set, a scene gate
(lnet_edge.model.gate) empties the logits of a window it judges to hold no landslide.
"""

from __future__ import annotations

import torch
from torch import nn

from lnet_edge.config import ModelConfig, Variant
from lnet_edge.model.blocks import (
    MFF,
    BilinearUp,
    DUpsampling,
    ResidualNetworkA,
    ResidualNetworkB,
    conv_bn_relu,
)
from lnet_edge.model.gate import SceneGate, WindowDescriptor


class EncoderStage(nn.Sequential):
    def __init__(self, cin: int, cout: int, residual: bool) -> None:
        second = ResidualNetworkA(cout) if residual else conv_bn_relu(cout, cout)
        super().__init__(conv_bn_relu(cin, cout), second)


class DecoderStage(nn.Module):
    def __init__(self, cin: int, cout: int, residual: bool, dupsampling: bool) -> None:
        super().__init__()
        self.up = DUpsampling(cin, cout) if dupsampling else BilinearUp(cin, cout)
        self.fuse = conv_bn_relu(2 * cout, cout)
        self.refine = ResidualNetworkB(cout) if residual else conv_bn_relu(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.up(x), skip], dim=1)
        return self.refine(self.fuse(x))


class LNet(nn.Module):
    """L-Net or one of its ablations, chosen by ``config.variant``; outputs (N,1,H,W) logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        v = config.variant
        residual = v in (Variant.unet_mff_res, Variant.lnet)
        w = config.widths
        chans = (config.in_channels,) + w[:4]
        self.encoder = nn.ModuleList(EncoderStage(chans[i], chans[i + 1], residual) for i in range(4))
        self.pool = nn.MaxPool2d(2)
        if v == Variant.unet:
            self.bottleneck = nn.Sequential(conv_bn_relu(w[3], w[4]), conv_bn_relu(w[4], w[4]))
        else:
            self.bottleneck = MFF(w[3], w[4], config.dilations)
        self.decoder = nn.ModuleList(
            DecoderStage(w[i + 1], w[i], residual, v == Variant.lnet) for i in reversed(range(4))
        )
        self.head = nn.Conv2d(w[0], 1, 1)
        weighted = config.scene_gate_descriptor == "weighted"
        self.descriptor = WindowDescriptor(weighted)  # no weights: what a scene gate (or a scene loss) reads
        self.gate = (
            SceneGate(w, config.scene_gate, config.scene_gate_floor, config.threshold, weighted)
            if config.scene_gate is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is None:
            return self.ungated(x)[0]
        logits, descriptor = self.ungated(x, with_descriptor=True)
        return self.gate(descriptor, logits)

    def ungated(self, x: torch.Tensor, with_descriptor: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The head's logits before any gate, and with ``with_descriptor`` the window's
        descriptor that the gate reads (lnet_edge.model.gate.describe)."""
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
            x = self.pool(x)
        bottom = x = self.bottleneck(x)
        for stage, skip in zip(self.decoder, reversed(skips)):
            x = stage(x, skip)
        logits = self.head(x)
        if not with_descriptor:
            return logits, None
        return logits, self.descriptor([skips[2], skips[3], bottom, x], logits)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: int = 256) -> int:
    """Multiply-accumulates of one forward pass at size x size (convolutions only, which are
    all but a fraction of a percent of the work), counted with forward hooks."""
    total = 0

    def hook(mod: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
        total += out.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, model.config.in_channels, size, size))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total
