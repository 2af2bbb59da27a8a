"""One fp32 + fp16 export of the shipped checkpoint per test session (parity on real tiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

RGB_SETS = ("bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")


@pytest.fixture(scope="session")
def rgb_folders(shared_data: Path) -> list[Path]:
    return [shared_data / name for name in RGB_SETS]


@pytest.fixture(scope="session")
def exported(rgb_folders: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.export.onnx_export import onnx_from_checkpoint

    return onnx_from_checkpoint(DEFAULT_CHECKPOINT, tmp_path_factory.mktemp("export") / "m.onnx", rgb_folders)


@pytest.fixture(scope="session")
def exported_fp16(exported: Path, rgb_folders: list[Path]) -> Path:
    from lnet_edge.export.fp16 import fp16_from_onnx

    return fp16_from_onnx(exported, exported.with_name("m.fp16.onnx"), rgb_folders)
