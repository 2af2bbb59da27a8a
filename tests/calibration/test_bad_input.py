"""Bad calibration input: a clear LnetError and nothing written."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lnet_edge.calibration.pipeline import CalibrateOptions, calibration_from_onnx
from lnet_edge.errors import LnetError


def _folder(root: Path, n: int, size: int = 128, grey: bool = False) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(0, 255, (size, size) if grey else (size, size, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"{i}.png"), img)
        cv2.imwrite(str(root / "masks" / f"{i}.png"), (img[..., 0] if img.ndim == 3 else img) > 128)
    return root


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.glob("*.onnx"))


def test_folder_with_no_images(trained_onnx, tmp_path):
    data = _folder(tmp_path / "empty", 0)
    with pytest.raises(LnetError, match="holds no images"):
        calibration_from_onnx(trained_onnx, tmp_path / "out", [data])
    assert _nothing_written(tmp_path / "out")


def test_images_of_the_wrong_band_count(trained_onnx, tmp_path):
    data = _folder(tmp_path / "grey", 20, grey=True)
    with pytest.raises(LnetError, match="has 1 bands"):
        calibration_from_onnx(trained_onnx, tmp_path / "out", [data])
    assert _nothing_written(tmp_path / "out")


def test_too_few_tiles(trained_onnx, tmp_path):
    data = _folder(tmp_path / "few", 6)  # 6 images of one tile: ~5 on the training side, under 16
    with pytest.raises(LnetError, match="fewer than the 16 needed"):
        calibration_from_onnx(trained_onnx, tmp_path / "out", [data])
    with pytest.raises(LnetError, match="below the minimum"):
        calibration_from_onnx(trained_onnx, tmp_path / "out", [data], options=CalibrateOptions(tiles=4))
    assert _nothing_written(tmp_path / "out")


def test_onnx_that_is_not_an_lnet_edge_export(tmp_path, rgb_folders):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["image"], ["logits"])],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3, "h", "w"])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    with pytest.raises(LnetError, match="not an lnet-edge export"):
        calibration_from_onnx(foreign, tmp_path / "out", rgb_folders)
    assert _nothing_written(tmp_path / "out")


def test_missing_folder(trained_onnx, tmp_path):
    with pytest.raises(LnetError, match="does not exist"):
        calibration_from_onnx(trained_onnx, tmp_path / "out", [tmp_path / "nope"])
