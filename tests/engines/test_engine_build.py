"""Real TensorRT-RTX builds (ahead-of-time, no GPU) of the fp32, fp16 and int8-QDQ default model."""

from __future__ import annotations

import json

import pytest

from lnet_edge.engines.check import header_flavour, rtx_validity
from lnet_edge.engines.flavour import Flavour
from lnet_edge.engines.manifest import manifest_path, read_manifest
from lnet_edge.files import sha256_file

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_plan_is_plain_tensorrt_and_manifest_describes_it(rtx_plans, onnx_models, precision):
    plan = rtx_plans[precision]
    data = plan.read_bytes()
    assert header_flavour(data) is Flavour.tensorrt_rtx  # TensorRT's own header first: nothing prepended
    m = read_manifest(plan)
    assert m.platform == {"os": "Linux", "arch": "x86_64"}
    assert (m.flavour, m.precision, m.strongly_typed, m.build_gpu) == ("tensorrt-rtx", precision, True, None)
    assert m.plan_bytes == len(data) and m.plan_sha256 == sha256_file(plan)
    assert m.onnx_sha256 == sha256_file(onnx_models[precision])
    assert (m.calibration_sha256 is not None) == (precision == "int8")
    assert "8.6" in m.targets and "9.0" not in m.targets
    assert m.config.tile == 256 and 0 < m.config.threshold < 1 and len(m.config.norm.mean) == 3
    assert m.network["layers"] > 250 and m.build_seconds > 0
    assert json.loads(manifest_path(plan).read_text())["format"] == "lnet-edge-plan-manifest"


def test_layer_precisions_follow_the_onnx(rtx_plans):
    """The precision evidence available without a GPU: the parsed network's types and plan sizes."""
    net = {p: read_manifest(rtx_plans[p]).network for p in rtx_plans}
    convs = net["fp32"]["layer_types"]["CONVOLUTION"]
    assert set(net["fp32"]["tensor_types"]) <= {"FLOAT", "INT64", "INT32", "BOOL"}
    assert net["fp16"]["tensor_types"]["HALF"] > 10 * net["fp16"]["tensor_types"].get("FLOAT", 0)
    assert net["fp16"]["layer_types"]["CONVOLUTION"] == convs
    q = net["int8"]["layer_types"]
    assert q["CONVOLUTION"] == convs and q["DEQUANTIZE"] >= convs and q["QUANTIZE"] > 0
    assert net["int8"]["tensor_types"]["INT8"] >= q["QUANTIZE"]
    size = {p: rtx_plans[p].stat().st_size for p in rtx_plans}
    assert size["fp16"] < 0.7 * size["fp32"] and size["int8"] < 0.75 * size["fp32"]


def test_target_compute_capability_is_recorded(onnx_models, tmp_path):
    from lnet_edge.engines.build import plan_from_onnx
    from lnet_edge.engines.options import BuildOptions, Profile

    options = BuildOptions(flavour="tensorrt-rtx", profile=Profile(1, 1, 2, 128, 128, 256), targets=("8.6",))
    plan = plan_from_onnx(onnx_models["fp32"], tmp_path / "sm86.plan", options)
    assert read_manifest(plan).targets == ("8.6",)


def test_rtx_validity_reads_a_real_plan_header_and_flags_a_damaged_one(rtx_plans, tmp_path):
    """TensorRT-RTX's documented header check (get_engine_validity) on a real plan: the header of
    the built plan is well formed; a header cut short is MALFORMED_ENGINE, which check_plan refuses.
    (Without a GPU the verdict on a good header is INVALID with no diagnostic: the GPU is missing.)"""
    verdict, why = rtx_validity(rtx_plans["fp32"])
    assert verdict in ("valid", "suboptimal", "invalid") and "MALFORMED_ENGINE" not in why
    damaged = tmp_path / "damaged.plan"
    damaged.write_bytes(rtx_plans["fp32"].read_bytes()[:10])
    verdict, why = rtx_validity(damaged)
    assert verdict == "invalid" and "MALFORMED_ENGINE" in why
