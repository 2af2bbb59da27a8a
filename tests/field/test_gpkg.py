"""The GeoPackage beside the GeoJSON: same polygons and attributes, in the scene's CRS, readable by GDAL."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import shapely

from lnet_edge.config import ModelConfig
from lnet_edge.field.gpkg import APPLICATION_ID, TABLE, USER_VERSION
from lnet_edge.field.pipeline import InferOptions, output_file, run_scene
from tests.field.field_helpers import ThresholdRunner, rgb_from_mask, write_scene

INFO = {"model": "test", "backend": "test", "precision": "fp32"}


@pytest.fixture(scope="module")
def mapped(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("gpkg")
    mask = np.zeros((700, 500), np.uint8)
    mask[10:210, 20:120] = 1  # 5000 m² at 0.5 m
    mask[300:650, 200:260] = 1  # spans two tile rows: 5250 m²
    mask[400:450, 220:240] = 0  # with a hole of 250 m²
    scene = write_scene(tmp / "s.tif", rgb_from_mask(mask))
    with ThresholdRunner() as runner:
        return run_scene(scene, tmp / "out", runner, ModelConfig(), InferOptions(), INFO)


def test_geopackage_holds_the_geojson_polygons(mapped: dict) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    meta, _, wkb, values = pyogrio.raw.read(output_file(mapped, "geopackage"))
    assert meta["crs"] == "EPSG:32648"
    fields = list(meta["fields"])
    assert fields == ["id", "area_m2", "perimeter_m", "mean_probability", "max_probability", "pixels"]
    geoms = shapely.from_wkb(wkb)
    features = json.loads(output_file(mapped, "polygons").read_text())["features"]
    assert len(geoms) == len(features) == mapped["landslide_count"] == 2
    for geom, area, feature in zip(geoms, values[fields.index("area_m2")], features):
        assert geom.equals(shapely.geometry.shape(feature["geometry"]))
        assert area == feature["properties"]["area_m2"] == pytest.approx(geom.area, rel=1e-3)  # ground m², UTM grid
    assert sorted(values[1]) == pytest.approx([5000.0, 5250.0 - 250.0], rel=1e-3)


def test_geopackage_metadata_follows_the_standard(mapped: dict) -> None:
    db = sqlite3.connect(output_file(mapped, "geopackage"))
    try:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == USER_VERSION
        srs = {r[0] for r in db.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
        assert {-1, 0, 4326, 32648} <= srs
        row = db.execute("SELECT data_type, srs_id, min_x, max_y FROM gpkg_contents WHERE table_name = ?", (TABLE,))
        data_type, srs_id, min_x, max_y = row.fetchone()
        assert (data_type, srs_id) == ("features", 32648)
        assert min_x == pytest.approx(366070.0 + 20 * 0.5) and max_y == pytest.approx(3483660.0 - 10 * 0.5)
        blob = db.execute(f'SELECT geom FROM "{TABLE}" LIMIT 1').fetchone()[0]
        assert blob[:2] == b"GP" and blob[2] == 0 and int.from_bytes(blob[4:8], "little") == 32648
    finally:
        db.close()


def test_geopackage_has_a_spatial_index_that_gdal_uses(mapped: dict) -> None:
    """GDAL reports a fast spatial filter only when the gpkg_rtree_index extension is in place;
    a bounding-box read returns the polygons whose extent meets the box, as a scan would."""
    pyogrio = pytest.importorskip("pyogrio")
    path = output_file(mapped, "geopackage")
    assert pyogrio.read_info(path)["capabilities"]["fast_spatial_filter"]
    _, _, wkb, _ = pyogrio.raw.read(path)
    geoms = shapely.from_wkb(wkb)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    box = (minx, (miny + maxy) / 2, (minx + maxx) / 2, maxy)  # the upper-left quarter: one of the two
    _, _, hit, _ = pyogrio.raw.read(path, bbox=box)
    expected = int(shapely.intersects(geoms, shapely.box(*box)).sum())
    assert len(hit) == expected == 1 < len(geoms)
    db = sqlite3.connect(path)
    (n,) = db.execute("SELECT count(*) FROM rtree_landslides_geom").fetchone()
    assert n == len(geoms)
