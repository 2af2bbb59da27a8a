import pytest
import torch

from lnet_edge.model.blocks import MFF, CoordAttention, DUpsampling, ResidualNetworkA


def test_dupsampling_equals_explicit_rearrangement():
    torch.manual_seed(0)
    up = DUpsampling(6, 3, scale=2).eval()
    x = torch.randn(2, 6, 5, 7)
    with torch.no_grad():
        got = up(x)
        p = up.project(x)  # (N, C*s*s, H, W)
    n, _, h, w = p.shape
    # depth-to-space (CRD, as pixel_shuffle): out[c, y*s+i, x*s+j] = p[c*s*s + i*s + j, y, x]
    want = torch.empty(n, 3, 2 * h, 2 * w)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                want[:, c, i::2, j::2] = p[:, c * 4 + i * 2 + j]
    assert got.shape == (2, 3, 10, 14)
    torch.testing.assert_close(got, want)


def test_mff_branch_wiring_and_shapes():
    mff = MFF(8, 4, dilations=(2, 3, 5, 7))
    convs = [m[0] for m in mff.dilated]
    assert [m.dilation[0] for m in convs] == [2, 3, 5, 7]
    assert [m.padding[0] for m in convs] == [2, 3, 5, 7]  # same-size outputs
    # branch 2 sees the input alone; branches 3-5 see cat(previous dilated output, input)
    assert [m.in_channels for m in convs] == [8, 12, 12, 12]
    assert mff.branch1.kernel_size == (1, 1) and mff.branch1.in_channels == 8
    assert all(isinstance(p[1], torch.nn.BatchNorm2d) and p[0].kernel_size == (1, 1) for p in mff.project)
    assert mff.fuse.in_channels == 5 * 4 and mff.fuse.out_channels == 4
    seen = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[1])) for m in mff.dilated]
    y = mff(torch.randn(1, 8, 12, 9))
    assert y.shape == (1, 4, 12, 9)
    assert seen == [8, 12, 12, 12]
    for h in hooks:
        h.remove()


def test_mff_branch_three_depends_on_branch_two():
    torch.manual_seed(0)
    mff = MFF(4, 4).eval()
    x = torch.randn(1, 4, 16, 16)
    with torch.no_grad():
        a2 = mff.dilated[0](x)
        a3 = mff.dilated[1](torch.cat([a2, x], dim=1))
        base = mff(x)
        mff.dilated[0][0].weight.add_(0.5)  # change branch 2 only
        changed = mff(x)
    assert a3.shape == (1, 4, 16, 16)
    assert not torch.allclose(base, changed)


@pytest.mark.parametrize("shape", [(2, 16, 12, 20), (1, 16, 33, 7)])
def test_coord_attention_keeps_non_square_shape(shape):
    ca = CoordAttention(16)
    assert ca(torch.randn(*shape)).shape == shape
    assert ResidualNetworkA(16)(torch.randn(*shape)).shape == shape


def test_coord_attention_uses_no_adaptive_pool():
    ca = CoordAttention(16)
    assert not any("Adaptive" in type(m).__name__ for m in ca.modules())
