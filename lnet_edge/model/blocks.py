"""L-Net building blocks (Dong et al. 2022, section 2), written to export cleanly to ONNX.

Export-friendly forms (see docs/design): coordinate attention pools with ``mean`` over one axis
(one ReduceMean each, never an adaptive pool whose kernel is baked from the traced size), and
DUpsampling rearranges with ``pixel_shuffle`` (one DepthToSpace node).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn_relu(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    """kxk convolution (same padding), BatchNorm, ReLU."""
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Basic residual block (He et al. 2016): relu(x + bn(conv(relu(bn(conv(x))))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class CoordAttention(nn.Module):
    """Coordinate attention (Hou et al. 2021) with ``mean`` reductions.

    x_h = mean_W(x) (N,C,H,1) and x_w = mean_H(x) (N,C,1,W) go through one shared 1x1
    conv-BN-hardswish, then separate 1x1 convs and sigmoids give a_h and a_w; out = x * a_h * a_w.
    The original concatenates x_h and x_w before the shared conv and splits after; applying the
    shared conv to each separately is the same function in eval mode (BN is per channel) and
    avoids a Split whose sizes depend on the input shape, which hurts dynamic-shape export.
    """

    def __init__(self, channels: int, reduction: int = 32) -> None:
        super().__init__()
        mip = max(8, channels // reduction)
        self.shared = nn.Sequential(nn.Conv2d(channels, mip, 1, bias=False), nn.BatchNorm2d(mip), nn.Hardswish())
        self.conv_h = nn.Conv2d(mip, channels, 1)
        self.conv_w = nn.Conv2d(mip, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a_h = torch.sigmoid(self.conv_h(self.shared(x.mean(dim=3, keepdim=True))))
        a_w = torch.sigmoid(self.conv_w(self.shared(x.mean(dim=2, keepdim=True))))
        return x * a_h * a_w


class ResidualNetworkA(nn.Module):
    """Encoder residual network A (paper Fig. 3a): z = two residual blocks(x); out = z + CA(z).

    The paper says the output of the two stacked residual blocks "is added with the output
    after the coordinate attention"; it does not say what the attention sees. We apply it to the
    residual-block output, so the attention re-weights the refined features and the sum keeps an
    identity path around it.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(ResidualBlock(channels), ResidualBlock(channels))
        self.attention = CoordAttention(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.blocks(x)
        return z + self.attention(z)


class ResidualNetworkB(nn.Sequential):
    """Decoder residual network B (paper Fig. 3b): two stacked residual blocks."""

    def __init__(self, channels: int) -> None:
        super().__init__(ResidualBlock(channels), ResidualBlock(channels))


class MFF(nn.Module):
    """Multi-scale feature fusion (paper eq. 1-3).

    A_2 = D_e2(I); A_i = D_ei(cat(A_{i-1}, I)) for i = 3..5;
    O_1 = 1x1(I); O_i = relu(bn(1x1(A_i))); Y = 1x1(cat(O_1..O_5)).
    Every branch has ``cout`` channels.

    D is a 3x3 dilated conv followed by BN and ReLU. Equation 1 shows the bare convolution; we
    normalise because the chain A_2 -> A_5 is four linear maps in a row whose scale nothing
    else pins (the BN inside O_i makes the loss blind to it): trained bare, its activations
    grew to ~1e6 (BN running variance 8e12, measured), which breaks fp16 and int8 export.
    """

    def __init__(self, cin: int, cout: int, dilations: tuple[int, ...] = (2, 3, 5, 7)) -> None:
        super().__init__()
        self.dilations = tuple(dilations)
        self.branch1 = nn.Conv2d(cin, cout, 1)
        self.dilated = nn.ModuleList()
        self.project = nn.ModuleList()
        for i, d in enumerate(self.dilations):
            din = cin if i == 0 else cout + cin
            self.dilated.append(conv_bn_relu(din, cout, kernel=3, dilation=d))
            self.project.append(conv_bn_relu(cout, cout, kernel=1))
        self.fuse = nn.Conv2d(cout * (len(self.dilations) + 1), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.branch1(x)]
        a = None
        for dilated, project in zip(self.dilated, self.project):
            a = dilated(x if a is None else torch.cat([a, x], dim=1))
            outs.append(project(a))
        return self.fuse(torch.cat(outs, dim=1))


class DUpsampling(nn.Module):
    """DUpsampling (Tian et al. 2019): learned 1x1 projection to cout*s*s channels, then
    depth-to-space by ``s``. ``pixel_shuffle`` exports as a single DepthToSpace (CRD) node."""

    def __init__(self, cin: int, cout: int, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.project = nn.Conv2d(cin, cout * scale * scale, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.project(x), self.scale)


class BilinearUp(nn.Module):
    """The U-Net baseline's upsampling: bilinear x2, then a 1x1 conv to ``cout`` channels."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.project(x)
