"""A worker whose backend refuses its artifact reports the refusal; it never takes the bench down."""

from __future__ import annotations

from pathlib import Path

from lnet_edge.bench.backends import Entry
from lnet_edge.bench.run import run_worker
from lnet_edge.config import rgb_config


def test_a_refused_artifact_becomes_the_entry_reason(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx model")
    spec = {
        "entry": Entry("onnxruntime", "fp32", "cpu", str(bad)).to_dict(),
        "config": rgb_config().to_dict(),
        "batches": [1],
        "tiles": [256],
        "runs": 2,
        "warmup": 0,
        "gsd": 0.5,
        "threads": 1,
        "work": str(tmp_path),
        "val_batch": str(tmp_path / "val.npy"),
        "logits": str(tmp_path / "l.npy"),
        "result": str(tmp_path / "result.json"),
    }
    result = run_worker(spec, tmp_path / "spec.json", timeout_s=120)
    assert result["ok"] is False and "broken.onnx is not an ONNX model" in result["error"]


def test_a_crashed_worker_is_reported_with_its_last_lines(tmp_path: Path) -> None:
    spec = {"entry": {"backend": "no-such-backend"}, "result": str(tmp_path / "result.json")}
    result = run_worker(spec, tmp_path / "spec.json", timeout_s=120)
    assert result["ok"] is False and "worker exited with code" in result["error"]
