"""Bad input to ``lnet-edge build``: one clear message, exit code 2, nothing half-written."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.engines.build import decide_precision, plan_from_onnx
from lnet_edge.engines.flavour import Flavour
from lnet_edge.engines.onnx_info import read_onnx
from lnet_edge.engines.options import BuildOptions, HardwareCompat, Precision, Profile
from lnet_edge.errors import LnetError
from tests.conftest import needs_rtx

SMALL = Profile(1, 1, 2, 128, 128, 256)


def run(*args: str):
    return CliRunner().invoke(app, ["build", *map(str, args)])


def assert_refused(result, pattern: str, out_dir):
    import re

    assert result.exit_code == 2, result.output
    assert re.search(pattern, " ".join(result.output.split())), result.output
    assert "Traceback" not in result.output
    assert not list(out_dir.glob("*.plan*")), "a failed build left files behind"


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not protobuf at all \xff\xfe")
    assert_refused(run(bad, "--out", tmp_path / "m.plan"), "is not an ONNX model", tmp_path)


@needs_rtx
@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--int8"], "no int8 model made from.*lnet-edge calibrate -m"),
        (["--precision", "fp16"], "strongly typed.*fp32, not fp16"),
        (["--dla-core", "0"], "sees no DLA core.*Jetson"),
        (["--hardware-compat", "ampere-plus"], "does not support hardware-compatible"),
        (["--version-compatible"], "cannot build version-compatible"),
        (["--timing-cache", "tc.bin"], "has no timing cache"),
        (["--batch", "1,9,8"], r"profile batch min/opt/max = 1/9/8"),
        (["--tile", "128,200,512"], "not a multiple of 16"),
        (["--target", "9.0"], "--target 9.0"),
        (["--int8", "--precision", "fp16"], "contradict"),
    ],
)
def test_refused_options(onnx_models, tmp_path, args, pattern):
    assert_refused(
        run(onnx_models["fp32"], "--out", tmp_path / "m.plan", "--flavour", "tensorrt-rtx", *args), pattern, tmp_path
    )


@needs_rtx
def test_onnx_without_metadata_builds_with_a_warning(onnx_models, tmp_path):
    import onnx

    model = onnx.load(str(onnx_models["fp32"]))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    warnings = []
    plan = plan_from_onnx(bare, tmp_path / "bare.plan", BuildOptions(profile=SMALL), warn=warnings.append)
    assert plan.is_file() and "no lnet-edge metadata" in warnings[0] and "threshold 0.5" in warnings[0]
    result = CliRunner().invoke(app, ["inspect", str(plan), "--no-layers"])
    assert result.exit_code == 0 and "defaults" in result.output


def test_flag_path_of_older_tensorrt(onnx_models):
    """TensorRT < 10.12 (JetPack 6): int8 from an fp32 ONNX needs a calibration cache, and may use one."""
    from tests.engines.test_trt_docs import JETPACK6 as caps  # what TensorRT 10.3 on a Jetson can do

    info = read_onnx(onnx_models["fp32"])
    with pytest.raises(LnetError, match="--calibration-cache"):
        decide_precision(BuildOptions(precision=Precision.int8), info, caps)
    with_cache = BuildOptions(precision=Precision.int8, calibration_cache=onnx_models["fp32"])
    assert decide_precision(with_cache, info, caps) is Precision.int8
    assert decide_precision(BuildOptions(precision=Precision.fp16), info, caps) is Precision.fp16
    rtx = dataclasses.replace(caps, flavour=Flavour.tensorrt_rtx, strongly_typed=True)
    with pytest.raises(LnetError, match="cannot use a calibration cache"):
        decide_precision(with_cache, info, rtx)
    assert HardwareCompat("same-cc") is HardwareCompat.same_cc


def test_cpu_int8_model_is_refused(onnx_models, tmp_path):
    import json

    import onnx

    model = onnx.load(str(onnx_models["int8"]))
    meta = json.loads(model.metadata_props[0].value)
    model.metadata_props[0].value = json.dumps({**meta, "precision": "int8-cpu"})
    cpu = tmp_path / "cpu-int8.onnx"
    onnx.save(model, str(cpu))
    assert_refused(run(cpu, "--out", tmp_path / "m.plan"), "CPU int8 model.*int8-qdq", tmp_path)
