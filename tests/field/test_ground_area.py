"""Areas are ground areas whatever the CRS: one crop of the sample scene, laid on the ground in
WGS 84 degrees and carried by GDAL onto the same footprint in UTM, Web Mercator and a State Plane
CRS in US survey feet, gives the same landslide m², scene km² and pixel size, each within 0.5 %
of the ellipsoid's exact area of the ground it covers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.transform import array_bounds, from_bounds, from_origin
from rasterio.warp import reproject, transform_bounds

from lnet_edge.config import ModelConfig
from lnet_edge.defaults import SAMPLE_SCENE
from lnet_edge.field.ground import METHOD
from lnet_edge.field.pipeline import InferOptions, output_file, run_scene, run_scenes
from lnet_edge.field.vectorize import Georef
from tests.field.field_helpers import ThresholdRunner, write_scene

A, E2 = 6378137.0, 0.00669437999014  # WGS 84 semi-major axis (m), first eccentricity squared
SIZE = 512  # px: the crop's side, about 256 m of ground
STEP = 0.5 / 111_000  # degrees of latitude per pixel: about 0.5 m
TOLERANCE = 0.005

# (place, north edge, west edge, the CRSs it is carried to): UTM on its zone's central meridian
# and the State Plane zone on its own, so the geographic footprint maps onto a north-up grid
PLACES = [
    ("equator", 0.0025, 2.9987, ["EPSG:32631", "EPSG:3857"]),
    ("31N", 31.48, 104.9985, ["EPSG:32648", "EPSG:3857"]),
    ("60N", 60.0, 8.997, ["EPSG:32632", "EPSG:3857"]),
    ("California", 37.5, -120.5015, ["EPSG:2227", "EPSG:3857"]),  # NAD83 / California zone 3 (ftUS)
]


def _q(lat_deg: np.ndarray) -> np.ndarray:
    """The authalic-latitude function: the area between two parallels of one radian of longitude
    is a² (1 - e²) / 2 (q(north) - q(south))."""
    e, s = np.sqrt(E2), np.sin(np.radians(lat_deg))
    return s / (1 - E2 * s**2) + np.log((1 + e * s) / (1 - e * s)) / (2 * e)


def _row_areas(north: float, lat_step: float, lon_step: float, rows: np.ndarray) -> np.ndarray:
    """Exact ellipsoidal m² of one latitude/longitude cell in each of ``rows`` (fractional ok)."""
    top, bottom = north - rows * lat_step, north - (rows + 1) * lat_step
    return np.radians(lon_step) * A**2 * (1 - E2) / 2 * (_q(top) - _q(bottom))


def _crop() -> np.ndarray:
    with rasterio.open(SAMPLE_SCENE) as src:
        return src.read(window=((256, 256 + SIZE), (256, 256 + SIZE)))


def _carried(rgb: np.ndarray, geo: rasterio.Affine, crs: str) -> tuple[np.ndarray, rasterio.Affine]:
    """The crop on a grid of the same size in ``crs`` whose bounds are its footprint (GDAL's
    nearest-neighbour reprojection: pixel values unchanged)."""
    bounds = array_bounds(SIZE, SIZE, geo)
    transform = from_bounds(*transform_bounds("EPSG:4326", crs, *bounds, densify_pts=51), SIZE, SIZE)
    out = np.zeros_like(rgb)
    reproject(
        rgb,
        out,
        src_transform=geo,
        src_crs="EPSG:4326",
        dst_transform=transform,
        dst_crs=crs,
        resampling=Resampling.nearest,
    )
    return out, transform


@pytest.mark.slow
@pytest.mark.parametrize(("place", "north", "west", "crss"), PLACES, ids=[p[0] for p in PLACES])
def test_the_same_ground_has_the_same_area_in_every_crs(
    tmp_path: Path, place: str, north: float, west: float, crss: list[str]
) -> None:
    rgb = _crop()
    lon_step = STEP / np.cos(np.radians(north))  # square-ish pixels on the ground
    geo = from_origin(west, north, lon_step, STEP)
    rows = np.arange(SIZE)
    cells = _row_areas(north, STEP, lon_step, rows)
    landslide = (rgb[0] > 127).sum(axis=1)  # what ThresholdRunner maps: band 1 above 127.5
    expected = {
        "landslide_area_m2": float((landslide * cells).sum()),
        "scene_area_km2": float(SIZE * cells.sum() / 1e6),
        "pixel_size_m": float(np.sqrt(_row_areas(north, STEP, lon_step, np.array([SIZE / 2 - 0.5]))[0])),
    }
    scenes = {"EPSG:4326": write_scene(tmp_path / "EPSG_4326.tif", rgb, crs="EPSG:4326", transform=geo)}
    for crs in crss:
        data, transform = _carried(rgb, geo, crs)
        scenes[crs] = write_scene(tmp_path / f"{crs.replace(':', '_')}.tif", data, crs=crs, transform=transform)
    with ThresholdRunner() as runner:
        for crs, scene in scenes.items():
            summary = run_scene(scene, tmp_path / "out", runner, ModelConfig(), InferOptions(min_area_m2=0), {})
            features = json.loads(output_file(summary, "polygons").read_text())["features"]
            polygons_m2 = sum(f["properties"]["area_m2"] for f in features)
            assert summary["area_method"] == METHOD
            assert polygons_m2 == pytest.approx(summary["landslide_area_m2"], abs=0.01 * len(features))
            for key, value in expected.items():
                got = summary[key]
                assert got == pytest.approx(value, rel=TOLERANCE), (
                    f"{place} {crs} {key}: {got} / {value} = {got / value:.4f}"
                )


def test_web_mercator_at_60n_measures_a_quarter_of_its_map_area(tmp_path: Path) -> None:
    """Web Mercator's metres are 1 / cos(latitude) ground metres: at 60° N a 1 m map pixel is
    about 0.5 m of ground, and the minimum mapping unit's pixel count follows the ground, never
    dropping a component that the largest pixel of the scene could carry above it."""
    y = 8_399_737.89  # 60° N in EPSG:3857
    scene = write_scene(
        tmp_path / "m.tif", np.zeros((3, 2000, 300), np.uint8), crs="EPSG:3857", transform=from_origin(0, y, 1, 1)
    )
    with rasterio.open(scene) as src:
        georef = Georef.from_dataset(src)
    assert georef.pixel_size_m() == pytest.approx(0.5, rel=0.01)
    area, _ = georef.metric(georef.to_map(shapely.box(0, 0, 300, 2000)))
    assert area == pytest.approx(300 * 2000 * 0.25, rel=0.01)
    bottom = georef.pixel_areas(np.array([0.0]), np.array([1999.0]))[0]  # the largest pixel: nearest the equator
    assert bottom > georef.pixel_areas(np.array([0.0]), np.array([0.0]))[0]
    for mmu in (10.0, 100.0, 1000.0):
        fewer = georef.min_pixels(mmu) - 1
        assert fewer * bottom < mmu  # fewer pixels than min_pixels: surely below the unit
        assert fewer >= 0.97 * mmu / bottom - 1  # and the shortcut still drops the specks


def test_a_crs_without_a_datum_keeps_its_units_and_says_so(tmp_path: Path) -> None:
    scene = write_scene(
        tmp_path / "local.tif",
        np.zeros((3, 20, 30), np.uint8),
        crs='LOCAL_CS["site grid",UNIT["metre",1]]',
        transform=from_origin(0, 100, 2, 2),
    )
    with rasterio.open(scene) as src:
        georef = Georef.from_dataset(src)
    assert georef.ground is None and "no geodetic datum" in georef.area_method
    assert georef.pixel_size_m() == 2.0 and georef.min_pixels(100) == 25


@pytest.mark.parametrize(
    ("crs", "transform"),
    [("EPSG:4326", from_origin(10, 95, 1e-4, 1e-4)), ("EPSG:3857", from_origin(0, 3e8, 1, 1))],
    ids=["beyond-the-pole", "web-mercator-off-the-map"],
)
def test_a_georeference_off_the_earth_fails_its_scene_with_one_clear_message(
    tmp_path: Path, crs: str, transform: rasterio.Affine
) -> None:
    scene = write_scene(tmp_path / "off.tif", np.zeros((3, 50, 50), np.uint8), crs=crs, transform=transform)
    with ThresholdRunner() as runner:
        (result,) = run_scenes([scene], tmp_path / "out", runner, ModelConfig(), InferOptions(), {})
    assert result.status == "failed" and "cannot be measured on the ground" in result.message
    assert "check that its CRS and geotransform" in result.message and "unexpected" not in result.message
