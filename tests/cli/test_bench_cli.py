"""lnet-edge bench through typer's CliRunner: a short CPU run, and bad input refused up front."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app

runner = CliRunner()


@pytest.fixture
def data_args(shared_data: Path) -> list[str]:
    return ["--data", str(shared_data / "sichuan_aerial_atlan1024")]


@pytest.fixture(scope="module")
def short_bench(shared_data: Path, tmp_path_factory) -> tuple[str, Path]:
    """A short CPU run asking for ONNX Runtime fp32 and TensorRT: (its output, its --out folder)."""
    out_dir = tmp_path_factory.mktemp("bench-out")
    work = tmp_path_factory.getbasetemp() / "bench-work"  # shared with tests/bench: the export is made once
    args = [
        "bench",
        "--data",
        str(shared_data / "sichuan_aerial_atlan1024"),
        "--backends",
        "onnxruntime/fp32,tensorrt",
        "--batch",
        "1",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--val-tiles",
        "4",
        "--out",
        str(out_dir),
        "--work",
        str(work),
        "--machine",
        "ci",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split()), out_dir


def test_short_cpu_bench(short_bench: tuple[str, Path]) -> None:
    out, out_dir = short_bench
    assert "onnxruntime/fp32" in out and "tensorrt/fp32: unavailable" in out
    report = json.loads((out_dir / "bench-ci.json").read_text())
    assert report["command"].startswith("lnet-edge bench ")
    assert "--backends onnxruntime/fp32,tensorrt" in report["command"]
    assert (out_dir / "bench-ci.md").is_file() and (out_dir / "bench-ci.png").is_file()


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is installed here")
def test_a_missing_tensorrt_is_listed_with_its_pip_install(short_bench: tuple[str, Path]) -> None:
    out, _ = short_bench
    assert "tensorrt is not installed" in out
    assert "[tensorrt]'" in out  # the extra in the pip hint survives rich's markup


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--backends", "openvino"], "unknown; choose from"),
        (["--tile", "250"], "multiples of 16"),
        (["--batch", "1,x"], "comma-separated integers"),
        (["--batch", "1,100000"], "give smaller --batch or --tile"),
        (["--runs", "1"], "--runs must be >= 2"),
        (["--field", "missing.tif"], "does not exist"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(data_args: list[str], tmp_path: Path, extra, message) -> None:
    result = runner.invoke(app, ["bench", *data_args, "--out", str(tmp_path), "--work", str(tmp_path / "w"), *extra])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "w").exists()  # refused before any artifact was made


def test_missing_checkpoint(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", str(tmp_path / "none.pt"), "--data", str(tmp_path)])
    assert result.exit_code == 2 and "does not exist" in result.output
