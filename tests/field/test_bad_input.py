"""Each bad input fails its own scene with a clear message; the rest of the batch runs."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio

from lnet_edge.config import ModelConfig
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.field import io
from lnet_edge.field.gpkg import GeoPackageWriter
from lnet_edge.field.pipeline import InferOptions, output_file, run_scenes, scene_outputs
from tests.field.field_helpers import ThresholdRunner, rgb_from_mask, write_scene

INFO = {"model": "test", "backend": "test", "precision": "fp32"}


def _run(scenes: list[Path], out: Path, **kw):
    with ThresholdRunner() as runner:
        return run_scenes(
            scenes, out, runner, ModelConfig(), InferOptions(**{"tile": 256, **kw}), INFO
        )  # 256 px tiles: several per scene


@pytest.fixture
def good(tmp_path: Path) -> Path:
    mask = np.zeros((300, 300), np.uint8)
    mask[100:200, 50:250] = 1
    return write_scene(tmp_path / "good.tif", rgb_from_mask(mask))


def test_corrupt_and_truncated_files_fail_alone(tmp_path: Path, good: Path) -> None:
    corrupt = tmp_path / "corrupt.tif"
    corrupt.write_bytes(b"II*\x00" + bytes(range(256)) * 8)
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(SAMPLE_SCENE.read_bytes()[: SAMPLE_SCENE.stat().st_size // 3])
    results = _run([corrupt, truncated, good], tmp_path / "out")
    assert [r.status for r in results] == ["failed", "failed", "done"]
    assert "cannot read" in results[0].message and "corrupt" in results[0].message
    assert "cannot read" in results[1].message
    assert not (tmp_path / "out" / "truncated" / "truncated_summary.json").exists()


def test_too_few_bands_names_the_bands_needed(tmp_path: Path, good: Path) -> None:
    grey = write_scene(tmp_path / "grey.tif", np.zeros((1, 300, 300), np.uint8))
    results = _run([grey, good], tmp_path / "out")
    assert [r.status for r in results] == ["failed", "done"]
    assert "1 band(s)" in results[0].message and "red, green, blue" in results[0].message


def test_scene_smaller_than_a_tile_is_padded_not_refused(tmp_path: Path) -> None:
    mask = np.zeros((40, 170), np.uint8)
    mask[10:30, 20:100] = 1
    scene = write_scene(tmp_path / "tiny.tif", rgb_from_mask(mask))
    (result,) = _run([scene], tmp_path / "out")
    assert result.status == "done" and result.summary["tiles"] == 1
    with rasterio.open(output_file(result.summary, "mask")) as dst:
        np.testing.assert_array_equal(dst.read(1), mask)


def test_16_bit_scene_is_stretched_by_percentiles(tmp_path: Path) -> None:
    mask = np.zeros((300, 260), np.uint8)
    mask[:, :130] = 1
    data = (rgb_from_mask(mask).astype(np.uint16) * 16 + 100).astype(np.uint16)  # 12-bit-like values
    scene = write_scene(tmp_path / "u16.tif", data)
    (result,) = _run([scene], tmp_path / "out")
    assert result.status == "done"
    assert result.summary["scaling"].startswith("percentile") and result.summary["dtype"] == "uint16"
    with rasterio.open(output_file(result.summary, "mask")) as dst:
        np.testing.assert_array_equal(dst.read(1), mask)


def test_nodata_tiles_are_skipped_and_marked(tmp_path: Path) -> None:
    data = np.full((3, 600, 300), 200, np.uint8)
    data[:, 300:] = 0  # bottom half nodata
    scene = write_scene(tmp_path / "nd.tif", data, nodata=0)
    (result,) = _run([scene], tmp_path / "out")
    assert result.summary["tiles_skipped_nodata"] >= 1
    with rasterio.open(output_file(result.summary, "probability")) as dst:
        prob = dst.read(1)
    assert (prob[400:] == io.NODATA).all() and (prob[:250] == 100).all()


def test_png_without_georeference_runs_in_pixel_units(tmp_path: Path) -> None:
    png = tmp_path / "photo.png"
    mask = np.zeros((200, 300), np.uint8)
    mask[50:150, 50:150] = 1
    cv2.imwrite(str(png), np.moveaxis(rgb_from_mask(mask), 0, -1))
    warnings: list[str] = []
    with ThresholdRunner() as runner:
        (result,) = run_scenes(
            [png], tmp_path / "out", runner, ModelConfig(), InferOptions(), INFO, warn=warnings.append
        )
    assert result.status == "done" and result.summary["georeference"] == "pixel"
    assert any("pixel units" in w for w in warnings)
    assert result.summary["landslide_area_px2"] == 100 * 100


def test_unwritable_output_folder_fails_each_scene(tmp_path: Path, good: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    results = _run([good], blocker)
    assert results[0].status == "failed" and "cannot write" in results[0].message


def test_disk_full_mid_run_leaves_nothing_that_looks_complete(tmp_path: Path, good: Path, monkeypatch) -> None:
    second = write_scene(tmp_path / "second.tif", rgb_from_mask(np.ones((300, 300), np.uint8)))
    real_write = io.BlockRowWriter._write
    state = {"writes": 0}

    def failing_write(self, data, row):
        state["writes"] += 1
        if state["writes"] == 2:  # the second block row of the first scene
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real_write(self, data, row)

    monkeypatch.setattr(io.BlockRowWriter, "_write", failing_write)
    out = tmp_path / "out"
    results = _run([good, second], out)
    assert [r.status for r in results] == ["failed", "done"]
    assert "disk full" in results[0].message
    assert sorted(p.name for p in scene_outputs(out, good)["summary"].parent.iterdir()) == []


def test_geopackage_filling_the_disk_fails_the_scene_cleanly(tmp_path: Path, good: Path, monkeypatch) -> None:
    """SQLite's own 'database or disk is full' (a page limit makes it real), reported like any full disk."""
    dots = np.zeros((600, 600), np.uint8)
    dots[5::20, 5::20] = 1
    dots = cv2.dilate(dots, np.ones((8, 8), np.uint8))  # 900 squares of 8 x 8 px = 16 m²
    many = write_scene(tmp_path / "many.tif", rgb_from_mask(dots))
    real_create = GeoPackageWriter._create

    def small_disk(self, crs):
        real_create(self, crs)
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages + 4}")

    monkeypatch.setattr(GeoPackageWriter, "_create", small_disk)
    out = tmp_path / "out"
    results = _run([many, good], out, min_area_m2=10.0)
    assert [r.status for r in results] == ["failed", "done"]
    assert "disk full" in results[0].message and "many_landslides.gpkg" in results[0].message
    assert list(scene_outputs(out, many)["summary"].parent.iterdir()) == []


def test_jpeg2000_scene_keeps_its_georeference(tmp_path: Path, good: Path) -> None:
    with rasterio.open(good) as src:
        profile, data = src.profile, src.read()
    jp2 = tmp_path / "good.jp2"
    profile.update(driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES")
    for key in ("tiled", "blockxsize", "blockysize", "compress", "interleave"):
        profile.pop(key, None)
    with rasterio.open(jp2, "w", **profile) as dst:
        dst.write(data)
    results = _run([jp2], tmp_path / "out")
    assert results[0].status == "done", results[0].message
    with rasterio.open(output_file(results[0].summary, "mask")) as m, rasterio.open(good) as src:
        assert m.crs == src.crs and m.transform.almost_equals(src.transform)
        np.testing.assert_array_equal(m.read(1), (src.read(1) > 127).astype(np.uint8))


def test_a_writer_failing_to_open_leaves_no_parts(tmp_path: Path, good: Path, monkeypatch) -> None:
    """The GeoTIFFs are open when the GeoPackage cannot be created: nothing of the scene stays."""

    def no_gpkg(self, crs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(GeoPackageWriter, "_create", no_gpkg)
    out = tmp_path / "out"
    results = _run([good], out)
    assert results[0].status == "failed" and "cannot write" in results[0].message
    assert list(scene_outputs(out, good)["summary"].parent.iterdir()) == []
