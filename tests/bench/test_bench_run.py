"""A short bench of the CPU backends of the shipped checkpoint, end to end (real tiles, real
scene): the three files, every field filled and sane, unavailable backends with reasons.

Tiny on purpose (batch 1, 3 timed runs, 1 warm-up, 4 validation tiles): the numbers are not
the point, their consistency is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lnet_edge.bench.run import BenchOptions, bench_from_checkpoint
from lnet_edge.defaults import DEFAULT_CHECKPOINT, SAMPLE_SCENE

TINY = dict(batches=(1,), tiles=(256,), runs=3, warmup=1, val_cap=4, machine="test-machine")
ENTRY_FIELDS = (
    "size_bytes",
    "build_seconds",
    "load_seconds",
    "peak_rss_mib",
    "rss_before_load_mib",
    "accuracy_seconds",
    "artifact",
)
TIMING_FIELDS = (
    "batch",
    "tile",
    "mode",
    "runs",
    "warmup",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "mean_ms",
    "min_ms",
    "max_ms",
    "tiles_per_s",
    "km2_per_s",
)


@pytest.fixture(scope="module")
def cpu_run(shared_data: Path, bench_work: Path, tmp_path_factory) -> tuple[dict, dict]:
    options = BenchOptions(**TINY, backends=("torch", "onnxruntime/fp32", "tensorrt", "tensorrt-rtx", "torch-cuda"))
    return bench_from_checkpoint(
        DEFAULT_CHECKPOINT,
        [shared_data / "sichuan_aerial_atlan1024"],
        tmp_path_factory.mktemp("results"),
        bench_work,
        options,
        command="pytest",
    )


def test_all_three_files_are_written(cpu_run) -> None:
    report, paths = cpu_run
    assert {p.name for p in paths.values()} == {f"bench-test-machine.{x}" for x in ("json", "md", "png")}
    assert json.loads(paths["json"].read_text())["entries"] == json.loads(json.dumps(report["entries"]))
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths["png"].stat().st_size > 5000
    md = paths["md"].read_text()
    assert "| torch | fp32 | 1 | 256 | cpu | 3 |" in md and "| onnxruntime | fp32 | 1 | 256 | cpu | 3 |" in md
    assert "## Not available here" in md and "## Goals" in md


def test_every_field_is_filled_and_sane(cpu_run) -> None:
    report, _ = cpu_run
    on = [e for e in report["entries"] if e["available"]]
    assert [e["key"] for e in on] == ["torch/fp32", "onnxruntime/fp32"]
    for e in on:
        assert all(e[f] is not None for f in ENTRY_FIELDS), e
        assert e["size_bytes"] > 1e6 and e["peak_rss_mib"] > e["rss_before_load_mib"] > 0
        for t in e["timings"]:
            assert all(t[f] is not None for f in TIMING_FIELDS)
            assert t["runs"] == 3 and t["warmup"] == 1 and t["mode"] == "cpu"
            assert t["min_ms"] <= t["p50_ms"] <= t["p90_ms"] <= t["p99_ms"] <= t["max_ms"]
            assert t["tiles_per_s"] == pytest.approx(t["batch"] * 1e3 / t["mean_ms"])
            assert t["km2_per_s"] == pytest.approx(t["tiles_per_s"] * (t["tile"] * 0.5) ** 2 / 1e6)
        a = e["accuracy"]
        assert 0 <= a["f1"] <= 1 and 0 <= a["iou"] <= 1 and 0 <= a["flip_rate"] <= 1
    # torch fp32 against the ONNX Runtime fp32 reference: the same weights, so almost no pixel flips
    # (a flip rate taken against the wrong model, or inverted, is far from 0)
    assert report["entries"][0]["accuracy"]["flip_rate"] < 0.01
    assert report["validation"]["tiles"] == 4 and report["machine"]["cpu"]["logical_cores"] >= 1
    assert report["machine"]["versions"]["onnxruntime"]
    ort_vs_torch = report["goals"][0]
    rate = {e["key"]: next(t["tiles_per_s"] for t in e["timings"] if t["batch"] == 1 and t["tile"] == 256) for e in on}
    assert ort_vs_torch["value"] == pytest.approx(rate["onnxruntime/fp32"] / rate["torch/fp32"])
    assert ort_vs_torch["met"] is (ort_vs_torch["value"] >= ort_vs_torch["target"])


def test_unavailable_backends_are_listed_with_reasons(cpu_run) -> None:
    report, _ = cpu_run
    off = {e["key"]: e["reason"] for e in report["entries"] if not e["available"]}
    from lnet_edge.cuda import device_count

    if device_count():
        pytest.skip("this machine has a CUDA device: the GPU backends are available, not listed with reasons")
    assert {"tensorrt/fp32", "tensorrt-rtx/int8", "torch-cuda/fp16"} <= set(off)
    for reason in off.values():
        assert "pip install" in reason or "no CUDA device" in reason or "does not fit" in reason


def test_field_mode_on_the_sample_scene(shared_data: Path, bench_work: Path, tmp_path: Path) -> None:
    options = BenchOptions(**TINY, backends=("onnxruntime/fp32",), field_scene=SAMPLE_SCENE, field_repeats=1)
    report, paths = bench_from_checkpoint(
        DEFAULT_CHECKPOINT, [shared_data / "sichuan_aerial_atlan1024"], tmp_path, bench_work, options
    )
    (entry,) = [e for e in report["entries"] if e["available"]]
    f = entry["field"]
    assert f["tiles_run"] > 0 and f["area_from"] == "georeference" and f["scene_area_km2"] > 0
    assert f["km2_per_s"] == pytest.approx(f["scene_area_km2"] / f["median_seconds"])
    assert 0 < f["median_model_seconds"] < f["median_seconds"]
    assert f["model_tiles_per_s"] == entry["timings"][0]["tiles_per_s"]
    assert 0 < f["field_share_of_model"] < 5
    assert any(
        g["goal"].startswith("field pipeline") and g["value"] == f["field_share_of_model"] for g in report["goals"]
    )
    assert "## Field pipeline" in paths["md"].read_text()
