"""Options and inputs that used to give tracebacks or silent wrong answers: each is now a clear
error (exit 2, the option named) or a correct answer."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.defaults import SAMPLE_SCENE, SAMPLE_TILES
from tests.field.field_helpers import rgb_from_mask

runner = CliRunner()


def _text(result) -> str:
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["infer", "--scale", "nan"], "--scale 'nan'"),
        (["infer", "--scale", "-2"], "finite number above 0"),
        (["infer", "--scale", "inf"], "--scale 'inf'"),
        (["infer", "--min-area", "inf"], "--min-area inf"),
        (["infer", "--threshold", "1"], "--threshold 1.0"),
        (["infer", "--tile", "100"], "--tile 100: give a multiple of 16"),
        (["infer", "--tile", "0"], "--tile 0: give a multiple of 16"),
        (["infer", "--tile", "64", "--overlap", "64"], "--overlap 64 must be smaller than --tile 64"),
        (["train", "-d", str(SAMPLE_TILES), "--batch", "0"], "--batch 0"),
        (["train", "-d", str(SAMPLE_TILES), "--epochs", "0"], "--epochs 0"),
        (["train", "-d", str(SAMPLE_TILES), "--lr", "nan"], "--lr nan"),
        (["train", "-d", str(SAMPLE_TILES), "--freeze-encoder"], "--freeze-encoder needs --init"),
        (["train", "-d", str(SAMPLE_TILES), "--ema", "1"], "--ema 1.0: give a decay per step in [0, 1)"),
        (["train", "-d", str(SAMPLE_TILES), "--ema", "nan"], "--ema nan"),
    ],
)
def test_bad_options_are_one_clear_error(tmp_path: Path, args: list[str], words: str) -> None:
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and words in _text(result), result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", ["--loss", "--optimizer", "--schedule", "--balance"])
def test_unknown_loss_optimizer_schedule_or_balance_is_refused(tmp_path: Path, flag: str) -> None:
    result = runner.invoke(app, ["train", "-d", str(SAMPLE_TILES), flag, "focal", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "focal" in result.output


def test_eval_o_pointing_at_a_file_fails_before_scoring(tmp_path: Path) -> None:
    target = tmp_path / "report"
    target.write_text("keep me")
    result = runner.invoke(app, ["eval", "-d", str(SAMPLE_TILES), "--split", "all", "-o", str(target)])
    assert result.exit_code == 2 and "is a file" in result.output and target.read_text() == "keep me"


def test_export_o_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = runner.invoke(app, ["export", "-o", str(tmp_path / "f" / "m.onnx")])
    assert result.exit_code == 2 and "is a file, not a folder" in _text(result)


def test_eval_scales_uint16_images_like_infer(tmp_path: Path) -> None:
    """12-bit values in uint16 files are scored after infer's percentile stretch: the same as the
    uint8 images that stretch makes (unscaled, the network saw values 16x too large)."""
    from lnet_edge.data.scaling import percentile_scaling

    scores = {}
    for kind in ("uint16", "stretched"):
        root = tmp_path / kind
        (root / "images").mkdir(parents=True)
        (root / "masks").mkdir()
        for img in sorted((SAMPLE_TILES / "images").iterdir()):
            arr = cv2.imread(str(img), cv2.IMREAD_UNCHANGED).astype(np.uint16) * 16 + 7
            if kind == "stretched":
                rgb = arr[..., ::-1].astype(np.float32)
                arr = np.round(percentile_scaling(np.moveaxis(rgb, -1, 0)).apply(rgb))[..., ::-1].astype(np.uint8)
            cv2.imwrite(str(root / "images" / img.name), arr)
            cv2.imwrite(str(root / "masks" / img.name), cv2.imread(str(SAMPLE_TILES / "masks" / img.name), -1))
        result = runner.invoke(app, ["eval", "-d", str(root), "--split", "all", "-o", str(tmp_path / f"e{kind}")])
        assert result.exit_code == 0, result.output
        scores[kind] = json.loads((tmp_path / f"e{kind}" / "eval.json").read_text())["overall"]["f1"]
    assert scores["uint16"] == pytest.approx(scores["stretched"], abs=0.02)


def test_a_crs_without_a_geotransform_is_mapped_in_pixels(tmp_path: Path) -> None:
    mask = np.zeros((300, 300), np.uint8)
    mask[100:200, 50:250] = 1
    scene = tmp_path / "nogt.tif"
    with rasterio.open(
        scene, "w", driver="GTiff", width=300, height=300, count=3, dtype="uint8", crs="EPSG:32648"
    ) as dst:
        dst.write(rgb_from_mask(mask))
    from lnet_edge.config import ModelConfig
    from lnet_edge.field.pipeline import InferOptions, run_scene
    from lnet_edge.field.synthetic import ThresholdRunner

    with ThresholdRunner() as r:
        summary = run_scene(scene, tmp_path / "out", r, ModelConfig(), InferOptions(min_area_m2=1), {})
    assert summary["georeference"] == "pixel" and summary["landslide_area_px2"] == 100 * 200
    assert "a CRS but no geotransform" in " ".join(summary["notes"])


def test_sample_scene_still_maps(tmp_path: Path) -> None:
    result = runner.invoke(app, ["infer", str(SAMPLE_SCENE), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
