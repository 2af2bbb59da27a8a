"""The summary JSON of a scene is a file format: its keys, their order and the unit in the name of
the landslide area are fixed by SceneSummary.to_json."""

from __future__ import annotations

from dataclasses import replace

from lnet_edge.field.summary import SceneSummary, SceneTiming, landslide_area

KEYS = [
    "scene", "scene_identity", "height", "width", "bands", "dtype", "crs", "georeference", "area_method",
    "scaling", "scene_area_km2", "valid_pixels", "nonfinite_pixels", "landslide_count", "landslide_area_m2",
    "landslide_area_km2", "polygons_below_mmu", "min_area", "threshold", "tiles", "tiles_run",
    "tiles_skipped_nodata", "pixel_size_m", "resample_factor", "tta", "seconds", "model_seconds",
    "km2_per_second", "model", "backend", "shaping_options", "notes", "folder", "outputs",
]  # fmt: skip


def _summary(**kw) -> SceneSummary:
    fields = {
        "scene": "s.tif",
        "scene_identity": {"size": 1},
        "height": 100,
        "width": 200,
        "bands": 3,
        "dtype": "uint8",
        "crs": "EPSG:32648",
        "georeference": "projected",
        "area_method": "ellipsoid",
        "scaling": "none",
        "scene_area_km2": 0.0123456789,
        "valid_pixels": 20000,
        "nonfinite_pixels": 0,
        "landslide_count": 2,
        "landslide_area": 1234.5678,
        "polygons_below_mmu": 1,
        "min_area": 100.0,
        "threshold": 0.5,
        "tiles": 4,
        "tiles_run": 3,
        "tiles_skipped_nodata": 1,
        "pixel_size_m": 0.7654321,
        "resample_factor": 1.0,
        "tta": False,
        "timing": SceneTiming(2.0, 1.23456),
        "model": {"model": "m.onnx", "backend": "onnxruntime"},
        "shaping_options": {"threshold": 0.5},
        "notes": [],
        "folder": "/out/s",
        "outputs": {"mask": "s_mask.tif"},
    }
    return SceneSummary(**{**fields, **kw})


def test_a_georeferenced_scene_writes_the_keys_in_order_with_the_area_in_m2() -> None:
    record = _summary().to_json()
    assert list(record) == KEYS
    assert record["landslide_area_m2"] == 1234.57 and record["landslide_area_km2"] == 0.001235
    assert record["scene_area_km2"] == 0.012346 and record["pixel_size_m"] == 0.765432
    assert record["km2_per_second"] == round(0.0123456789 / 2.0, 6) and record["model_seconds"] == 1.235
    assert landslide_area(record) == (1234.57, "m²")


def test_a_scene_without_a_georeference_writes_its_area_in_px2_under_its_own_key() -> None:
    record = _summary(georeference="pixel", crs=None, scene_area_km2=None, pixel_size_m=None).to_json()
    assert list(record) == [k if k != "landslide_area_m2" else "landslide_area_px2" for k in KEYS]
    assert record["landslide_area_px2"] == 1234.57 and record["landslide_area_km2"] is None
    assert record["km2_per_second"] is None and landslide_area(record) == (1234.57, "px²")


def test_a_banded_scene_adds_its_elapsed_time_and_its_bands_take_the_bands_key() -> None:
    """As written since banded scenes exist: the timing's ``bands`` (the row bands' tasks) takes
    the place and the value of the raster's band count."""
    bands = {"count": 3, "seconds": 5.0, "assemble_seconds": 1.0}
    record = replace(_summary(), timing=SceneTiming(6.0, 4.0, elapsed_seconds=4.5, bands=bands)).to_json()
    keys = list(record)
    assert keys == KEYS[: KEYS.index("model")] + ["elapsed_seconds"] + KEYS[KEYS.index("model") :]
    assert record["bands"] == bands and record["elapsed_seconds"] == 4.5
