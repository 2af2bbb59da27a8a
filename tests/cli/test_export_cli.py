"""lnet-edge export through typer's CliRunner: real checkpoint, real tiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app

runner = CliRunner()


def test_export_writes_fp32_and_fp16_with_parity(shared_data: Path, tmp_path: Path):
    out = tmp_path / "export" / "lnet-edge-s.onnx"
    result = runner.invoke(app, ["export", "--data", str(shared_data / "bijie_atlan_upscaled"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "max |logit diff|" in result.output and "sign agreement" in result.output
    for name in ("lnet-edge-s.onnx", "lnet-edge-s.onnx.json", "lnet-edge-s.fp16.onnx", "lnet-edge-s.fp16.onnx.json"):
        assert (out.parent / name).is_file(), name
    meta = json.loads((out.parent / "lnet-edge-s.fp16.onnx.json").read_text())
    assert meta["precision"] == "fp16" and meta["parent"]["path"] == "lnet-edge-s.onnx"


def test_export_refuses_another_preset(shared_data: Path, tmp_path: Path):
    out = tmp_path / "x.onnx"
    result = runner.invoke(
        app, ["export", "--data", str(shared_data / "bijie_atlan_upscaled"), "--out", str(out), "--preset", "edge-m"]
    )
    assert result.exit_code == 2
    assert "preset edge-s but edge-m was asked for" in result.output
    assert list(tmp_path.iterdir()) == []


def test_export_without_data_uses_the_shipped_sample_tiles(tmp_path: Path):
    from lnet_edge.defaults import SAMPLE_TILES

    pytest.importorskip("torch", reason="export needs the [train] extra (torch)")
    assert (SAMPLE_TILES / "images").is_dir()  # package data: in the repository and the wheel
    result = runner.invoke(app, ["export", "--out", str(tmp_path / "x.onnx"), "--no-fp16"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.onnx").is_file() and not (tmp_path / "x.fp16.onnx").exists()
    meta = json.loads((tmp_path / "x.onnx.json").read_text())
    assert meta["parity"]["checks"]  # checked on the sample tiles


def test_export_without_data_or_sample_tiles_asks_for_data(tmp_path: Path, monkeypatch):
    import lnet_edge.defaults

    monkeypatch.setattr(lnet_edge.defaults, "SAMPLE_TILES", tmp_path / "no-tiles")
    result = runner.invoke(app, ["export", "--out", str(tmp_path / "x.onnx"), "--no-fp16"])
    assert result.exit_code == 2 and "--data" in result.output  # parity needs real tiles: nothing exported
    assert not (tmp_path / "x.onnx").exists()
