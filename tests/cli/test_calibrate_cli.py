"""lnet-edge calibrate through typer's CliRunner on the shipped model and real tiles.

The shipped checkpoint is an untrained placeholder that calls every pixel a landslide, so its
IoU cannot move; the meaningful check here is that each int8 model makes the fp32 model's
decisions (flip rate), besides the gate verdict. tests/calibration covers a trained model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnet_edge.cli.main import app

RGB_SETS = ("bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")
runner = CliRunner()


@pytest.fixture(scope="module")
def default_export(shared_data: Path, tmp_path_factory) -> Path:
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.export.onnx_export import onnx_from_checkpoint

    return onnx_from_checkpoint(
        DEFAULT_CHECKPOINT, tmp_path_factory.mktemp("exp") / "lnet-edge-s.onnx", [shared_data / RGB_SETS[0]]
    )


def _data_args(shared_data: Path) -> list[str]:
    return [a for name in RGB_SETS for a in ("--data", str(shared_data / name))]


def test_calibrate_default_model(default_export: Path, shared_data: Path, tmp_path: Path):
    args = [
        "calibrate",
        "--model",
        str(default_export),
        *_data_args(shared_data),
        "--out",
        str(tmp_path),
        "--method",
        "minmax",
        "--tiles",
        "16",
        "--gate-tiles",
        "16",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "lnet-edge-s.calibration.json").read_text())
    for name in ("int8-qdq", "int8-cpu"):
        assert report["gate"][name]["passed"]
        assert report["gate"][name]["flip_rate"] < 0.01
        assert (tmp_path / f"lnet-edge-s.{name}.onnx").is_file()
    assert (
        (tmp_path / "lnet-edge-s.int8-qdq.calibration.cache").read_text().startswith("TRT-100300-MinMaxCalibration\n")
    )
    assert "| int8-cpu |" in result.output


def test_calibrate_refuses_a_foreign_onnx(shared_data: Path, tmp_path: Path):
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"not onnx at all")
    args = ["calibrate", "--model", str(foreign), *_data_args(shared_data), "--out", str(tmp_path / "o")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "not a readable ONNX" in result.output
    assert not (tmp_path / "o").exists()


def test_calibrate_refuses_a_folder_without_images(default_export: Path, tmp_path: Path):
    (tmp_path / "d" / "images").mkdir(parents=True)
    (tmp_path / "d" / "masks").mkdir()
    result = runner.invoke(
        app, ["calibrate", "--model", str(default_export), "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "holds no images" in result.output
    assert not (tmp_path / "o").exists()
