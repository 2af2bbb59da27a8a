"""A small L-Net trained for a few seconds on real tiles, so int8 accuracy means something.

The shipped default checkpoint is an untrained placeholder that marks every pixel as
landslide: its IoU cannot move under quantization, so a gate test on it proves nothing. This
model (edge-xs, 128 px tiles; 60 Adam steps on 64 px crops from a fixed seed, ~15 s on one
core) reaches a landslide IoU of about 40 % on the validation tiles, well above the ~16 % of
the all-landslide answer, so a bad calibration shows up as lost IoU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

RGB_SETS = ("bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")
STEPS, CROP, BATCH = 60, 64, 16


@pytest.fixture(scope="session")
def rgb_folders(shared_data: Path) -> list[Path]:
    return [shared_data / name for name in RGB_SETS]


@pytest.fixture(scope="session")
def trained_onnx(rgb_folders: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from lnet_edge.config import ModelConfig
    from lnet_edge.export.onnx_export import ExportOptions, onnx_from_checkpoint
    from lnet_edge.export.tiles import batch_of, tiles_from_folders
    from lnet_edge.model.checkpoint import save_checkpoint
    from lnet_edge.model.lnet import LNet

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared: one core, and faster than two here
    config = ModelConfig(preset="edge-xs", tile=128)
    tiles = tiles_from_folders(rgb_folders, config, "train", limit=512)
    x = torch.from_numpy(batch_of(tiles, config))
    y = torch.from_numpy(np.stack([t.mask for t in tiles])[:, None].astype(np.float32))
    model = LNet(config)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        idx = torch.randint(len(x), (BATCH,), generator=gen)
        o = int(torch.randint(0, config.tile - CROP + 1, (1,), generator=gen))
        crop = (slice(None), slice(None), slice(o, o + CROP), slice(o, o + CROP))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(x[idx][crop]),
            y[idx][crop],
            pos_weight=torch.tensor(4.0),  # ~16 % landslide pixels
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    _settle_batchnorm(model, x[:256, :, :CROP, :CROP])
    torch.set_num_threads(threads)
    model.eval()
    out = tmp_path_factory.mktemp("trained")
    ckpt = out / "tiny.pt"
    save_checkpoint(ckpt, {"config": config.to_dict(), "state_dict": model.state_dict(), "epoch": 0, "metrics": {}})
    return onnx_from_checkpoint(ckpt, out / "tiny.onnx", rgb_folders, ExportOptions(parity_tiles=2))


def _settle_batchnorm(model, x) -> None:
    """Replace the BatchNorm running statistics, which 60 steps at momentum 0.1 leave far from
    the trained weights' (eval activations then reach the thousands and the logit is a small
    difference of large numbers, which no 8-bit grid keeps), with their exact averages over
    training crops. Without it, whether int8 survives depended on the CPU's float rounding."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), 32):
            model(x[i : i + 32])
