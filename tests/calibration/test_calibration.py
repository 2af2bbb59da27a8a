"""int8 calibration on real tiles: the TensorRT QDQ model, its calibration cache, the CPU model
and the accuracy gate (passes on a real calibration set, fails on a deliberately bad one)."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from lnet_edge.artifacts import Role
from lnet_edge.calibration.gate import GateOptions
from lnet_edge.calibration.pipeline import CalibrateOptions, artifact_paths, calibration_from_onnx, markdown_path
from lnet_edge.calibration.quantize import Method, QdqOptions
from lnet_edge.calibration.trt_cache import activation_scales, read_calibration_cache
from lnet_edge.errors import LnetError
from lnet_edge.export.tiles import Tile
from lnet_edge.onnx_meta import onnx_metadata

# Small and fast on 2 cores: 16 calibration tiles, 32 gate tiles of 128 px.
FAST = CalibrateOptions(
    tiles=16,
    qdq=QdqOptions(method=Method.minmax),
    gate=GateOptions(tiles=32, sensitivity_tiles=8, sensitivity_layers=4),
)


@pytest.fixture(scope="module")
def calibrated(trained_onnx: Path, rgb_folders: list[Path], tmp_path_factory) -> tuple[dict, dict[str, Path]]:
    out = tmp_path_factory.mktemp("calibration")
    report = calibration_from_onnx(trained_onnx, out, rgb_folders, options=FAST)
    return report, artifact_paths(trained_onnx, out)


def test_gate_passes_on_real_calibration(calibrated):
    report, paths = calibrated
    gate = report["gate"]
    print(json.dumps({k: {m: round(v, 4) for m, v in g.items() if isinstance(v, float)} for k, g in gate.items()}))
    assert gate["fp32"]["iou"] > 0.3  # a model that beats the all-landslide answer (~0.16)
    for name in ("int8-qdq", "int8-cpu"):
        assert gate[name]["passed"] and gate[name]["iou_drop_points"] <= 1.0
        assert gate[name]["flip_rate"] < 0.01  # and it really is the fp32 model's decisions
        assert onnx_metadata(paths[name])["precision"] == name
    assert report["sensitivity"] == {} and report["fallback"] == {}


def test_calibration_set_is_stratified_and_hashed(calibrated):
    report, paths = calibrated
    cal = report["calibration"]
    assert cal["tiles"] == 16 and cal["with_landslide"] == 8 and cal["without_landslide"] == 8
    meta = onnx_metadata(paths["int8-qdq"])
    assert meta["calibration"]["sha256"] == cal["sha256"] and len(cal["sha256"]) == 64
    assert json.loads(Path(f"{paths['int8-qdq']}.json").read_text()) == meta


def test_qdq_model_is_what_tensorrt_accepts(calibrated):
    _, paths = calibrated
    model = onnx.load(str(paths["int8-qdq"]))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    assert dq and all(inits[n.input[0]].dtype != np.int32 for n in dq if n.input[0] in inits)  # no int32 bias
    for n in (*dq, *(n for n in model.graph.node if n.op_type == "QuantizeLinear")):
        zp = inits[n.input[2]]
        assert zp.dtype == np.int8 and not zp.any()  # symmetric int8
    producer = {n.output[0]: n for n in dq}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    for conv in convs:  # every weight quantized per output channel
        w = producer[conv.input[1]]
        assert inits[w.input[1]].size == inits[w.input[0]].shape[0], conv.name


def test_cpu_model_is_u8s8(calibrated):
    _, paths = calibrated
    model = onnx.load(str(paths["int8-cpu"]))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    q = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert q and all(inits[n.input[2]].dtype == np.uint8 for n in q)
    weights = [
        n
        for n in model.graph.node
        if n.op_type == "DequantizeLinear" and inits.get(n.input[0]) is not None and inits[n.input[0]].ndim == 4
    ]
    assert weights and all(inits[n.input[0]].dtype == np.int8 for n in weights)


def test_calibration_cache_parses_and_covers_every_quantized_activation(calibrated):
    _, paths = calibrated
    header, scales = read_calibration_cache(paths[Role.calibration_cache])
    assert re.fullmatch(r"TRT-100300-MinMaxCalibration", header)  # JetPack 6 TensorRT 10.3 when none is installed
    model = onnx.load(str(paths["int8-qdq"]))
    expected = activation_scales(model)
    assert "image" in expected and set(scales) == set(expected)
    for name, scale in expected.items():
        assert scales[name] == pytest.approx(scale, rel=1e-7)
    line = next(ln for ln in paths[Role.calibration_cache].read_text().splitlines() if ln.startswith("image: "))
    assert struct.unpack(">f", bytes.fromhex(line.split(": ")[1]))[0] == pytest.approx(expected["image"])


def _zeros(n: int = 8) -> list[Tile]:
    return [Tile(f"zero/{i}", np.zeros((128, 128, 3), np.uint8), np.zeros((128, 128), np.uint8)) for i in range(n)]


def test_gate_fails_on_all_zero_calibration_and_names_layers(trained_onnx, rgb_folders, tmp_path):
    with pytest.raises(LnetError, match="accuracy gate failed.*layers most responsible") as err:
        calibration_from_onnx(trained_onnx, tmp_path, rgb_folders, options=FAST, calibration_tiles=_zeros())
    assert "--auto-fallback" in str(err.value)
    paths = artifact_paths(trained_onnx, tmp_path)
    report = json.loads(paths[Role.calibration_report].read_text())
    failed = [n for n, g in report["gate"].items() if not g["passed"]]
    assert failed and all(report["sensitivity"][n][0]["node"] in markdown_path(paths).read_text() for n in failed)
    assert not any(tmp_path.glob("*.onnx")) and not paths[Role.calibration_cache].exists()  # nothing half-written


def test_auto_fallback_records_layers_left_in_float(trained_onnx, rgb_folders, tmp_path):
    options = CalibrateOptions(
        tiles=16,
        qdq=QdqOptions(method=Method.minmax),
        gate=GateOptions(tiles=32, sensitivity_layers=2, auto_fallback=True, fallback_max_layers=4),
    )
    # An all-zero calibration is wrong everywhere: leaving 4 layers in float cannot save it, and
    # the error says so instead of shipping a model that is int8 in name only.
    with pytest.raises(LnetError, match="even with the worst layers left in float"):
        calibration_from_onnx(trained_onnx, tmp_path, rgb_folders, options=options, calibration_tiles=_zeros())
    report = json.loads(artifact_paths(trained_onnx, tmp_path)[Role.calibration_report].read_text())
    assert report["fallback"] and all(len(v) == 4 for v in report["fallback"].values())
    assert "gate_before_fallback" in report


def test_cpu_model_records_its_weight_range_and_the_cpu_its_gate_ran_on(calibrated, trained_onnx, tmp_path):
    from lnet_edge.bundle import pack_bundle
    from lnet_edge.cpu_int8 import SEVEN_BIT_MAX, cpu_kind, widest_weight

    report, paths = calibrated
    meta = onnx_metadata(paths["int8-cpu"])
    assert meta["weight_bits"] == 7 and meta["options"]["reduce_range"] is True
    assert meta["gate"]["cpu"] == report["gate"]["int8-cpu"]["cpu"] == cpu_kind()
    assert "weight_bits" not in onnx_metadata(paths["int8-qdq"])
    assert widest_weight(paths["int8-cpu"])[1] == SEVEN_BIT_MAX  # the 7-bit grid, used to its end
    cpu = pack_bundle({"fp32": trained_onnx, "int8-cpu": paths["int8-cpu"]}, tmp_path / "bundle").artifacts["int8-cpu"]
    assert cpu.weight_bits == 7 and cpu.gate["cpu"] == cpu_kind()
