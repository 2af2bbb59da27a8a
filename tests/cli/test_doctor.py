"""lnet-edge doctor on this machine: it says what runs and why not, and exits 0."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.doctor import backends
from lnet_edge.runners.registry import BACKENDS


@pytest.fixture(scope="module")
def doctor_json() -> dict:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_doctor_json_describes_this_machine_and_every_backend(doctor_json: dict):
    names = [b["backend"] for b in doctor_json["backends"]]
    assert names == list(BACKENDS)  # every registered backend, in the registry's order
    by_name = {b["backend"]: b for b in doctor_json["backends"]}
    assert by_name["onnxruntime"]["usable"] and by_name["onnxruntime"]["device"] == "cpu"
    assert "CPUExecutionProvider" in doctor_json["onnxruntime_providers"]


def test_without_a_gpu_no_tensorrt_runs_and_doctor_says_how_to_get_it(doctor_json: dict):
    if doctor_json["cuda"]["gpus"]:
        pytest.skip("a GPU is visible: whether TensorRT runs depends on what is installed here")
    by_name = {b["backend"]: b for b in doctor_json["backends"]}
    assert not by_name["tensorrt"]["usable"] and not by_name["tensorrt-rtx"]["usable"]
    assert by_name["tensorrt"]["fix"]


def test_doctor_table_shows_the_fix_commands_verbatim():
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "backends" in text and "onnxruntime-cuda" in text
    assert "pip install 'lnet-edge[tensorrt" in text  # the extras survive (no markup eaten)


def test_reasons_for_a_gpu_the_rtx_runtime_does_not_run_on(monkeypatch):
    from lnet_edge.cuda import Device

    monkeypatch.setattr("lnet_edge.runners.registry.missing_module", lambda module: None)  # both flavours "installed"
    monkeypatch.setattr("lnet_edge.runners.registry._gpu", lambda: Device(0, "NVIDIA H200", "9.0", 143000))
    by_name = {b.backend: b for b in backends()}
    rtx = by_name["tensorrt-rtx"]
    assert not rtx.usable and "9.0" in rtx.detail and "builds plans here" in rtx.detail
    assert by_name["tensorrt"].usable and "NVIDIA H200" in by_name["tensorrt"].detail
