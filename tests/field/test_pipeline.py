"""The whole-scene pipeline on real and generated scenes: seams, georeference, resume."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio

from lnet_edge.defaults import DEFAULT_ONNX
from lnet_edge.eval.predict import predict_logits
from lnet_edge.field.pipeline import InferOptions, output_file, run_scene, run_scenes, scene_outputs
from lnet_edge.model.config import ModelConfig
from lnet_edge.runners.open import open_model
from tests.field.field_helpers import TRANSFORM, UTM48N, ThresholdRunner, rgb_from_mask, write_scene

INFO = {"model": "test", "backend": "test", "precision": "fp32"}


@pytest.fixture(scope="module")
def onnx():
    runner, config = open_model(DEFAULT_ONNX, threads=2)
    with runner:
        yield runner, config


@pytest.mark.xfail(
    strict=True,
    reason="the shipped L-Net sees context beyond a 256 px tile (coordinate attention pools whole rows and "
    "columns; the MFF bottleneck's dilated convolutions reach about 270 px): 3.6 % of mask pixels differ here, "
    "3.3-4.5 % on three crops, as often near tile seams as away from them (bench/tiled_vs_whole.py); even a "
    "trained variant without attention differs by 0.3-2.7 %. Tiling and blending are exact on their own (test_tiling.py)",
)
def test_tiled_prediction_matches_whole_image_prediction(onnx, shared_data: Path, tmp_path: Path) -> None:
    runner, config = onnx
    rgb = cv2.imread(str(shared_data / "sichuan_aerial_atlan1024/images/Landslide002.png"))[..., ::-1]
    crop = np.ascontiguousarray(rgb[100:740, 200:840])  # 640 x 640: 3 x 3 tiles of 256, overlap >= 64
    scene = write_scene(tmp_path / "crop.tif", np.moveaxis(crop, -1, 0))
    summary = run_scene(scene, tmp_path / "out", runner, config, InferOptions(batch=3), INFO)
    assert summary["tiles"] == 9
    whole = 1 / (1 + np.exp(-predict_logits(runner, crop, config)))
    with rasterio.open(output_file(summary, "mask")) as m, rasterio.open(output_file(summary, "probability")) as p:
        tiled_mask, tiled_pct = m.read(1), p.read(1).astype(np.float64)
    disagree = float(np.mean(tiled_mask != (whole > config.threshold)))
    mean_abs = float(np.mean(np.abs(tiled_pct / 100 - whole)))
    print(f"tiled vs whole: {disagree:.5%} of mask pixels differ, mean |dp| {mean_abs:.4f}")
    assert disagree < 0.001
    assert mean_abs < 0.01  # includes the 0.005 of rounding p to whole percent


def test_crs_and_transform_are_preserved(tmp_path: Path) -> None:
    mask = np.zeros((300, 500), np.uint8)
    mask[50:150, 100:300] = 1
    scene = write_scene(tmp_path / "s.tif", rgb_from_mask(mask))
    with ThresholdRunner() as runner:
        summary = run_scene(scene, tmp_path / "out", runner, ModelConfig(), InferOptions(), INFO)
    for key in ("probability", "mask"):
        with rasterio.open(output_file(summary, key)) as dst:
            assert dst.crs.to_string() == UTM48N
            assert dst.transform == TRANSFORM
            assert (dst.height, dst.width, dst.dtypes[0]) == (300, 500, "uint8")
            assert dst.profile["tiled"] and dst.profile["compress"] == "deflate"
    with rasterio.open(output_file(summary, "mask")) as dst:
        np.testing.assert_array_equal(dst.read(1), mask)
    assert summary["crs"] == UTM48N and summary["scene_area_km2"] == pytest.approx(300 * 500 * 0.25 / 1e6)


def test_polygon_areas_on_a_mask_of_known_area(tmp_path: Path) -> None:
    mask = np.zeros((900, 700), np.uint8)
    mask[10:210, 20:120] = 1  # 200 x 100 px = 5000 m² at 0.5 m
    mask[300:800, 400:410] = 1  # a thin 10 x 500 px strip across two tile rows: 1250 m²
    mask[400:700, 405:600] = 1  # joined to the strip (300 x 195 px, 300 x 5 shared) ...
    mask[500:550, 500:560] = 0  # ... with a hole of 50 x 60 px; all spans four strips
    mask[850:855, 10:15] = 1  # 25 px = 6.25 m²: below the default 100 m² minimum mapping unit
    scene = write_scene(tmp_path / "s.tif", rgb_from_mask(mask))
    with ThresholdRunner() as runner:
        summary = run_scene(scene, tmp_path / "out", runner, ModelConfig(), InferOptions(), INFO)
    features = json.loads(output_file(summary, "polygons").read_text())["features"]
    assert summary["landslide_count"] == 2 and summary["polygons_below_mmu"] == 1
    areas = sorted(f["properties"]["area_m2"] for f in features)
    big = (10 * 500 + 300 * 195 - 300 * 5 - 50 * 60) * 0.25
    assert areas == pytest.approx([5000.0, big])
    rect = next(f for f in features if f["properties"]["area_m2"] == pytest.approx(5000.0))
    assert rect["properties"]["perimeter_m"] == pytest.approx(2 * (100 + 50))
    assert rect["properties"]["mean_probability"] == pytest.approx(1.0, abs=1e-3)
    assert rect["geometry"]["coordinates"][0][0][0] >= TRANSFORM.c  # map coordinates, not pixels


def test_rerun_skips_complete_scenes_and_overwrite_redoes_them(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "s.tif", rgb_from_mask(np.eye(300, dtype=np.uint8)))
    out = tmp_path / "out"
    with ThresholdRunner() as runner:
        first = run_scenes([scene], out, runner, ModelConfig(), InferOptions(), INFO)
        calls = runner.calls
        again = run_scenes([scene], out, runner, ModelConfig(), InferOptions(), INFO)
        assert runner.calls == calls
        redo = run_scenes([scene], out, runner, ModelConfig(), InferOptions(overwrite=True), INFO)
        assert runner.calls > calls
    assert [r.status for r in first + again + redo] == ["done", "skipped", "done"]
    paths = scene_outputs(out, scene)
    paths["quicklook"].unlink()  # an output lost since: no longer complete, redone
    with ThresholdRunner() as runner:
        (lost,) = run_scenes([scene], out, runner, ModelConfig(), InferOptions(), INFO)
    assert lost.status == "done" and "outputs missing" in lost.message and paths["quicklook"].is_file()
    options = json.loads(paths["options"].read_text())
    assert options["overlap"] == 64 and options["min_area_m2"] == 100.0


def test_polygon_areas_in_a_geographic_crs_match_the_ellipsoid(tmp_path: Path) -> None:
    """WGS 84 degrees: a 200 x 200 px rectangle against the exact area of a latitude/longitude
    rectangle on the ellipsoid (the authalic-latitude formula), at 30° N and near the equator."""
    a, e2 = 6378137.0, 0.00669437999014
    e = np.sqrt(e2)

    def q(lat_deg: float) -> float:
        s = np.sin(np.radians(lat_deg))
        return s / (1 - e2 * s**2) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)

    deg = 1e-5  # ~1.1 m pixels
    mask = np.zeros((400, 300), np.uint8)
    mask[100:300, 50:250] = 1
    for north in (30.004, 0.5):
        transform = rasterio.transform.from_origin(104.0, north, deg, deg)
        scene = write_scene(tmp_path / f"geo{north}.tif", rgb_from_mask(mask), crs="EPSG:4326", transform=transform)
        with ThresholdRunner() as runner:
            summary = run_scene(scene, tmp_path / "out", runner, ModelConfig(), InferOptions(), INFO)
        (feature,) = json.loads(output_file(summary, "polygons").read_text())["features"]
        top, bottom = north - 100 * deg, north - 300 * deg
        exact = np.radians(200 * deg) * a**2 * (1 - e2) / 2 * (q(top) - q(bottom))
        assert feature["properties"]["area_m2"] == pytest.approx(exact, rel=1e-4)
        assert summary["crs"] == "EPSG:4326" and summary["georeference"] == "geographic"
