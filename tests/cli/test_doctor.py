"""lnet-edge doctor on this machine: it says what runs and why not, and exits 0."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.doctor import backends


def test_doctor_json_describes_this_machine_and_every_backend():
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    names = [b["backend"] for b in info["backends"]]
    assert names == ["onnxruntime (CPU)", "onnxruntime (CUDA)", "torch", "tensorrt", "tensorrt-rtx"]
    by_name = {b["backend"]: b for b in info["backends"]}
    assert by_name["onnxruntime (CPU)"]["usable"]
    assert "CPUExecutionProvider" in info["onnxruntime_providers"]
    if not info["cuda"]["gpus"]:  # this machine and CI: no GPU, so no TensorRT runtime
        assert not by_name["tensorrt"]["usable"] and not by_name["tensorrt-rtx"]["usable"]
        assert by_name["tensorrt"]["fix"]  # says how to get it


def test_doctor_table_shows_the_fix_commands_verbatim():
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "backends" in text and "onnxruntime (CPU)" in text
    assert "'.[tensorrt" in text  # the extras survive the table (no markup eaten)


def test_reasons_for_a_gpu_the_rtx_runtime_does_not_run_on():
    info = {
        "cuda": {"gpus": [{"index": 0, "name": "NVIDIA H200", "compute_capability": "9.0", "memory_mib": 143000}]},
        "jetson": None, "cuda_python": "12.9", "pycuda": None, "onnxruntime": "1.22",
        "onnxruntime_providers": ["CPUExecutionProvider"], "torch": None, "tensorrt": None, "tensorrt_rtx": "1.7.1",
    }  # fmt: skip
    rtx = next(b for b in backends(info) if b.backend == "tensorrt-rtx")
    assert not rtx.usable and "9.0" in rtx.detail and "builds plans here" in rtx.detail
