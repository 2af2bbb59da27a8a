"""fp32 / fp16 / int8-QDQ ONNX of the shipped default model, and real TensorRT-RTX plans of them.

Made here, independently of lnet_edge.export / lnet_edge.calibration (whose parity and accuracy
gates are their own tests' business): torch.onnx.export opset 17, onnxconverter-common fp16 with
fp32 I/O, ONNX Runtime QDQ with symmetric int8 and a few real tiles as calibration data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from lnet_edge.defaults import DEFAULT_CHECKPOINT
from tests.conftest import tensorrt_rtx_present

SHARED_DATA = Path(
    os.environ.get("LNET_SHARED_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
).resolve()


def _stamp(path: Path, config, precision: str, **extra) -> Path:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "lnet_edge", json.dumps({"config": config.to_dict(), "precision": precision, **extra})
    onnx.save(model, str(path))
    return path


def _fp32(out: Path) -> Path:
    import torch

    from lnet_edge.model.checkpoint import load_model

    model, _ = load_model(DEFAULT_CHECKPOINT)
    x = torch.zeros(1, model.config.in_channels, 256, 256)
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        model,
        x,
        str(out),
        opset_version=17,
        dynamo=False,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": axes, "logits": axes},
    )
    return _stamp(out, model.config, "fp32")


def _fp16(src: Path, out: Path, config) -> Path:
    import warnings

    import onnx
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # "float32 number ... will be truncated": tiny weights, expected
        warnings.simplefilter("ignore", UserWarning)
        model = float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(out))
    return _stamp(out, config, "fp16")


def calibration_tiles(config, count: int = 4, size: int = 256) -> list[np.ndarray]:
    """A few real tiles (Sichuan aerial, then Bijie) normalised as the model expects, NCHW float32."""
    import cv2

    files = sorted((SHARED_DATA / "sichuan_aerial_atlan1024" / "images").glob("*.png"))[:count]
    files = files or sorted((SHARED_DATA / "bijie_atlan_upscaled" / "images").glob("*.png"))[:count]
    if not files:
        pytest.skip(f"no calibration tiles under {SHARED_DATA}")
    norm = config.norm
    tiles = []
    for f in files:
        rgb = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
        x = (rgb * norm.scale - np.array(norm.mean, np.float32)) / np.array(norm.std, np.float32)
        tiles.append(x.transpose(2, 0, 1)[None].copy())
    return tiles


def _qdq(src: Path, out: Path, config) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"image": t} for t in calibration_tiles(config)])

        def get_next(self):
            return next(self.items, None)

    quantize_static(
        str(src),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        extra_options={"QuantizeBias": False, "ActivationSymmetric": True},
    )
    # as lnet_edge.calibration records it: precision "int8-qdq" plus the calibration set's hash
    return _stamp(out, config, "int8-qdq", calibration={"tiles": 4, "sha256": "c0ffee" * 10 + "beef"})


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory) -> dict[str, Path]:
    """{"fp32": path, "fp16": path, "int8": path} with lnet-edge metadata."""
    from lnet_edge.config import ModelConfig
    from lnet_edge.model.checkpoint import read_checkpoint

    root = tmp_path_factory.mktemp("onnx")
    config = ModelConfig.from_dict(read_checkpoint(DEFAULT_CHECKPOINT)["config"])
    fp32 = _fp32(root / "model-fp32.onnx")
    fp16 = _fp16(fp32, root / "model-fp16.onnx", config)
    return {"fp32": fp32, "fp16": fp16, "int8": _qdq(fp32, root / "model-int8.onnx", config)}


@pytest.fixture(scope="session")
def rtx_plans(onnx_models, tmp_path_factory) -> dict[str, Path]:
    """Real TensorRT-RTX ahead-of-time plans of the three precisions (no GPU needed)."""
    if not tensorrt_rtx_present():
        pytest.skip("needs tensorrt-rtx (pip install tensorrt-rtx)")
    from lnet_edge.engines.build import plan_from_onnx
    from lnet_edge.engines.options import BuildOptions, Profile

    root = tmp_path_factory.mktemp("plans")
    options = BuildOptions(flavour="tensorrt-rtx", profile=Profile(1, 2, 4, 128, 256, 512))
    return {p: plan_from_onnx(onnx_models[p], root / f"model-{p}.plan", options) for p in ("fp32", "fp16", "int8")}
