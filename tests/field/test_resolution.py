"""Resolution-aware inference: pixel sizes from the georeference, the resampling decision, and
outputs on the scene's own grid whatever the model saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from typer.testing import CliRunner

from lnet_edge.cli.main import app
from lnet_edge.config import ModelConfig
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.errors import LnetError
from lnet_edge.field.pipeline import InferOptions, output_file, run_scene
from lnet_edge.field.resolution import parse_gsd, pixel_size_m, resample_factor
from tests.field.field_helpers import ThresholdRunner, rgb_from_mask, write_scene

MODEL = ModelConfig(gsd=(0.2, 1.0))


def _mask() -> np.ndarray:
    m = np.zeros((400, 500), np.uint8)
    m[100:260, 80:330] = 1
    m[300:340, 400:460] = 1
    return m


def test_pixel_size_from_projected_and_geographic_georeferences(tmp_path: Path) -> None:
    with rasterio.open(SAMPLE_SCENE) as src:  # 0.5 m of UTM grid: 0.50009 m of ground (scale factor 0.99982)
        assert pixel_size_m(src) == pytest.approx(0.5, rel=1e-3)
    deg = 1e-5
    geo = write_scene(
        tmp_path / "geo.tif", rgb_from_mask(_mask()), crs="EPSG:4326", transform=from_origin(104, 30, deg, deg)
    )
    with rasterio.open(geo) as src:  # about 0.96 m east x 1.11 m north at 30 deg N, never 1e-5 m
        assert pixel_size_m(src) == pytest.approx(np.sqrt(0.96486 * 1.10852), rel=1e-3)
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", driver="GTiff", width=8, height=8, count=3, dtype="uint8", crs="EPSG:32648") as dst:
        dst.write(np.zeros((3, 8, 8), np.uint8))
    with rasterio.open(bare) as src:  # a CRS but no geotransform: unknown, never 1 m
        assert pixel_size_m(src) is None


def test_resampling_decision() -> None:
    assert resample_factor(0.5, MODEL, "auto") == (1.0, "")  # inside the range
    f, note = resample_factor(3.0, MODEL, "auto")
    assert f == pytest.approx(3.0) and "resampled to 1 m" in note
    assert resample_factor(0.05, MODEL, "auto")[0] == pytest.approx(0.25)
    assert resample_factor(3.0, MODEL, "none") == (1.0, "")
    assert resample_factor(3.0, MODEL, 0.5)[0] == pytest.approx(6.0)
    assert resample_factor(3.0, ModelConfig(), "auto") == (1.0, "")  # a model that does not say
    assert "pixel size unknown" in resample_factor(None, MODEL, "auto")[1]
    with pytest.raises(LnetError, match="--pixel-size"):
        resample_factor(None, MODEL, 0.5)


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "1001", "fast"])
def test_bad_gsd_is_refused(text: str) -> None:
    with pytest.raises(LnetError, match="--gsd"):
        parse_gsd(text)


@pytest.mark.parametrize("option", ["--gsd", "--pixel-size"])
def test_bad_gsd_options_on_the_command_line(tmp_path: Path, option: str) -> None:
    result = CliRunner().invoke(app, ["infer", option, "0", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and option in result.output


@pytest.mark.parametrize("gsd", [3.0, 0.05])
def test_a_scene_outside_the_models_gsd_is_resampled_and_mapped_on_its_own_grid(tmp_path: Path, gsd: float) -> None:
    mask = _mask()
    transform = from_origin(366070.0, 3483660.0, gsd, gsd)
    scene = write_scene(tmp_path / "coarse.tif", rgb_from_mask(mask), transform=transform)
    with ThresholdRunner() as runner:
        summary = run_scene(scene, tmp_path / "out", runner, MODEL, InferOptions(min_area_m2=0, tile=256), {})
        calls = runner.calls
    assert summary["resample_factor"] == pytest.approx(gsd / min(max(gsd, 0.2), 1.0), rel=1e-3)  # ground metres
    with rasterio.open(output_file(summary, "mask")) as dst:
        assert dst.transform == transform and dst.shape == mask.shape and dst.crs.to_epsg() == 32648
        got = dst.read(1)
    assert np.mean(got != mask) < 0.005  # the pointwise stand-in survives the round trip
    with ThresholdRunner() as runner:  # and without resampling, a different number of model calls
        plain = run_scene(
            scene, tmp_path / "plain", runner, MODEL, InferOptions(gsd="none", min_area_m2=0, tile=256), {}
        )
        assert plain["resample_factor"] == 1.0 and runner.calls != calls


def test_tta_averages_four_flips_of_an_asymmetric_model(tmp_path: Path) -> None:
    from lnet_edge.runners.base import OUTPUT_NAME
    from lnet_edge.runners.tta import flip_logits

    class Ramp(ThresholdRunner):  # logit = column index: flips average it to the centre value
        def infer_impl(self, feed):
            n, _, h, w = feed["image"].shape
            return {OUTPUT_NAME: np.broadcast_to(np.arange(w, dtype=np.float32), (n, 1, h, w)).copy()}

    with Ramp() as r:
        x = np.zeros((2, 3, 16, 32), np.float32)
        assert (flip_logits(r, x, tta=True) == (32 - 1) / 2).all()
        assert (flip_logits(r, x, tta=False)[0, 0, 0] == np.arange(32)).all()


def test_the_georeference_wins_over_pixel_size_and_says_so(tmp_path: Path) -> None:
    """--pixel-size speaks for scenes without a georeference; a georeferenced scene keeps its own
    pixel size (for the resampling decision and the scale bar), and the run says what it ignored."""
    scene = write_scene(tmp_path / "geo.tif", rgb_from_mask(_mask()))  # 0.5 m, UTM 48N
    with ThresholdRunner() as runner:
        summary = run_scene(scene, tmp_path / "out", runner, MODEL, InferOptions(pixel_size=3.0), {})
    assert summary["pixel_size_m"] == pytest.approx(0.5, rel=1e-3) and summary["resample_factor"] == 1.0
    assert any("--pixel-size 3 ignored" in n for n in summary["notes"])


def test_a_stated_pixel_size_measures_a_scene_without_georeference_in_metres(tmp_path: Path) -> None:
    """--pixel-size on a scene without a georeference: polygons stay in pixel coordinates, but
    areas, the scene's km² and the minimum mapping unit are metres at that pixel size."""
    import json

    from rasterio.transform import Affine

    mask = np.zeros((300, 400), np.uint8)
    mask[40:140, 60:220] = 1  # 16,000 px
    mask[200:206, 300:306] = 1  # 36 px: 144 m² at 2 m, over the 100 m² unit; under 100 px without it
    scene = write_scene(tmp_path / "plain.tif", rgb_from_mask(mask), crs=None, transform=Affine.identity())
    runs = {}
    for name, size in (("pixels", None), ("metres", 2.0)):
        options = InferOptions(pixel_size=size, gsd="none", tile=256)
        with ThresholdRunner() as runner:
            runs[name] = run_scene(scene, tmp_path / name, runner, MODEL, options, {})
    px, m = runs["pixels"], runs["metres"]
    assert px["landslide_area_px2"] == pytest.approx(16_000, rel=0.01) and px["landslide_count"] == 1
    assert px["landslide_area_km2"] is None and px["scene_area_km2"] is None
    assert m["landslide_count"] == 2 and "landslide_area_px2" not in m
    assert m["landslide_area_m2"] == pytest.approx((16_000 + 36) * 4, rel=0.01)
    assert m["scene_area_km2"] == pytest.approx(300 * 400 * 4 / 1e6) and m["pixel_size_m"] == 2.0
    assert "--pixel-size" in m["area_method"] and any("areas in m^2 from --pixel-size 2" in n for n in m["notes"])
    features = json.loads(output_file(m, "polygons").read_text())["features"]
    assert sorted(round(f["properties"]["area_m2"]) for f in features) == [144, 64_000]
    xs = [x for f in features for x, _ in f["geometry"]["coordinates"][0]]
    assert max(xs) <= 400  # still pixel coordinates


def test_a_transform_without_a_crs_measures_in_pixels_or_at_the_stated_size() -> None:
    """A scene with a geotransform but no CRS (a PNG with a world file): its transform's units are
    unknown, so areas are pixels, or metres at --pixel-size, never transform units squared."""
    from shapely.geometry import box

    from lnet_edge.field.vectorize import Georef

    transform = (2.0, 0.0, 500.0, 0.0, -2.0, 900.0)  # 2 units a pixel
    square = box(0, 0, 10, 10)  # 100 px
    plain = Georef(transform, "pixel", size=(50, 50))
    stated = Georef(transform, "pixel", 0.5, size=(50, 50), stated=True)
    assert plain.metric(plain.to_map(square)) == pytest.approx((100.0, 40.0))
    assert stated.metric(stated.to_map(square)) == pytest.approx((25.0, 20.0))
    assert stated.min_pixels(100) == 400 and plain.min_pixels(100) == 100
