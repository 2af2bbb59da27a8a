"""Candidate entries: every backend listed, those that cannot run here with a reason and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lnet_edge.bench.artifacts import Artifacts
from lnet_edge.bench.backends import BACKENDS, candidates, known_keys, needed_sources
from lnet_edge.config import rgb_config
from lnet_edge.defaults import DEFAULT_CHECKPOINT


def _artifacts(tmp_path: Path, missing: dict | None = None) -> Artifacts:
    precisions = ("fp32", "fp16", "int8-cpu", "int8-qdq")
    onnx = {p: tmp_path / f"lnet.{p}.onnx" for p in precisions if p not in (missing or {})}
    return Artifacts(DEFAULT_CHECKPOINT, "0" * 64, rgb_config(), tmp_path, onnx, {}, missing or {})


def test_every_backend_and_precision_is_a_candidate(tmp_path: Path) -> None:
    entries = candidates(_artifacts(tmp_path))
    assert [e.key for e in entries] == known_keys()
    assert {e.backend for e in entries} == set(BACKENDS)
    for e in entries:
        assert e.reason is None or e.reason.strip()


def test_gpu_backends_are_unavailable_here_with_the_reason(tmp_path: Path) -> None:
    # This machine (and CI) has no CUDA device: TensorRT, TensorRT-RTX and PyTorch CUDA say why.
    from lnet_edge.cuda import device_count

    if device_count():
        pytest.skip("this machine has a CUDA device: the GPU backends are available here")
    gpu = ["tensorrt", "tensorrt-rtx", "torch-cuda", "torch-compile", "onnxruntime-cuda"]
    entries = candidates(_artifacts(tmp_path), gpu)
    assert {e.backend for e in entries} == set(gpu)
    for e in entries:
        assert e.reason and ("pip install" in e.reason or "no CUDA device" in e.reason), e
        assert e.device == "cuda"


def test_a_missing_int8_model_carries_the_gate_message(tmp_path: Path) -> None:
    art = _artifacts(tmp_path, {"int8-cpu": "no int8 model: accuracy gate failed"})
    (entry,) = candidates(art, ["onnxruntime/int8-cpu"])
    assert entry.reason == "no int8 model: accuracy gate failed" and entry.artifact is None


def test_only_the_needed_artifacts_are_made() -> None:
    assert needed_sources(["torch"]) == ("fp32",)
    assert set(needed_sources(["onnxruntime/int8-cpu"])) == {"fp32", "int8-cpu"}
