"""The README's main command, through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.field.pipeline import output_file


def test_readme_main_command_maps_the_sample_scene(tmp_path: Path) -> None:
    out = tmp_path / "field"
    result = CliRunner().invoke(app, ["infer", str(SAMPLE_SCENE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    scene_dir = out / "sichuan_landslide003"
    assert f"outputs in {scene_dir}" in " ".join(result.output.split())
    assert "areas: ellipsoid (WGS 84" in " ".join(result.output.split())  # how the m² were measured
    summary = json.loads((scene_dir / "sichuan_landslide003_summary.json").read_text())
    assert summary["backend"] == "onnxruntime" and summary["crs"] == "EPSG:32648"
    assert summary["scene_area_km2"] == pytest.approx(0.262144, rel=1e-3)  # ground km², within UTM's 0.1 %
    assert summary["tiles"] == 9  # 512 px field tiles
    with rasterio.open(output_file(summary, "probability")) as dst:
        assert dst.crs.to_epsg() == 32648 and dst.res == (0.5, 0.5)
    rerun = CliRunner().invoke(app, ["infer", str(SAMPLE_SCENE), "-o", str(out)])
    assert rerun.exit_code == 0 and "skipped" in rerun.output


def test_a_failed_scene_exits_non_zero_after_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    result = CliRunner().invoke(
        app, ["infer", str(bad), str(SAMPLE_SCENE), "-o", str(tmp_path / "o"), "--model", str(Path("missing.onnx"))]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(app, ["infer", str(bad), str(SAMPLE_SCENE), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "cannot read scene" in result.output and "done" in result.output


def test_a_gated_model_says_it_judges_each_tile_and_a_shut_tile_maps_nothing(tmp_path: Path) -> None:
    import torch

    from lnet_edge.config import PRESETS
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.model.checkpoint import read_checkpoint, save_checkpoint
    from lnet_edge.model.gate import descriptor_size

    ckpt = read_checkpoint(DEFAULT_CHECKPOINT)
    state = dict(ckpt["state_dict"])
    n = descriptor_size(PRESETS[ckpt["config"]["preset"]])
    state["gate.linear.weight"], state["gate.linear.bias"] = torch.zeros(1, n), torch.full((1,), -10.0)  # all shut
    save_checkpoint(
        tmp_path / "gated.pt",
        {
            **ckpt,
            "config": {**ckpt["config"], "scene_gate": 0.5, "scene_gate_descriptor": "weighted"},
            "state_dict": state,
        },
    )
    out = tmp_path / "field"
    result = CliRunner().invoke(app, ["infer", str(SAMPLE_SCENE), "-o", str(out), "-m", str(tmp_path / "gated.pt")])
    assert result.exit_code == 0, result.output
    assert "judges each tile whole" in " ".join(result.output.split())
    summary = json.loads((out / "sichuan_landslide003" / "sichuan_landslide003_summary.json").read_text())
    assert summary["landslide_count"] == 0 and summary["tiles"] == 9
    assert any("scene gate" in note for note in summary["notes"])  # what cluster workers relay
