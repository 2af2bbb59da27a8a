import pytest
import torch

from lnet_edge.config import PRESETS, ModelConfig, Variant, l4s_config
from lnet_edge.model.lnet import LNet, count_macs, count_parameters


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("variant", list(Variant))
def test_every_ablation_and_preset_runs_at_256_and_512(variant, preset):
    torch.manual_seed(0)
    model = LNet(ModelConfig(variant=variant, preset=preset)).eval()
    with torch.inference_mode():
        for size in (256, 512):
            y = model(torch.randn(1, 3, size, size))
            assert y.shape == (1, 1, size, size)
            assert torch.isfinite(y).all()


def test_ablations_differ_as_table_1_says():
    kinds = {v: {type(m).__name__ for m in LNet(ModelConfig(variant=v, preset="edge-xs")).modules()} for v in Variant}
    assert "MFF" not in kinds[Variant.unet] and "MFF" in kinds[Variant.unet_mff]
    assert "ResidualNetworkA" not in kinds[Variant.unet_mff] and "ResidualNetworkA" in kinds[Variant.unet_mff_res]
    assert "DUpsampling" not in kinds[Variant.unet_mff_res] and "DUpsampling" in kinds[Variant.lnet]
    assert "BilinearUp" in kinds[Variant.unet] and "BilinearUp" not in kinds[Variant.lnet]


def test_fourteen_band_model_and_counts():
    model = LNet(l4s_config(preset="edge-xs")).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 14, 128, 128)).shape == (2, 1, 128, 128)
    small, big = LNet(ModelConfig(preset="edge-xs")), LNet(ModelConfig(preset="edge-s"))
    assert count_parameters(small) < count_parameters(big)
    assert 0 < count_macs(small) < count_macs(big)
