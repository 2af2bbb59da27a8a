"""The before/after quicklook: panel sizes, class colours on the after panel only, greyed and black
ground, the legend, the PNG round trip and the display stretch, on crops of the sample scene."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio

from lnet_edge.field.change import NODATA, Change
from lnet_edge.field.change_quicklook import (
    CLASS_RGB,
    GAP_PX,
    ChangeLegend,
    change_legend_lines,
    change_panels,
    display,
    write_png,
)
from lnet_edge.field.quicklook import MIN_SIDE

SAMPLE = Path(__file__).parents[2] / "lnet_edge/assets/samples/scene/sichuan_landslide003.tif"
H, W = 300, 400
# blocks of the change raster (rows, columns), clear of the titles at the top and the legend at the bottom
BLOCKS = {
    Change.new: (slice(60, 140), slice(60, 140)),
    Change.persisting: (slice(60, 140), slice(160, 240)),
    Change.gone: (slice(60, 140), slice(260, 340)),
    Change.no_before: (slice(160, 190), slice(60, 340)),
}
NODATA_COLUMNS = slice(370, 400)


@pytest.fixture(scope="module")
def scenes() -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(SAMPLE) as src:
        rgb = np.moveaxis(src.read((1, 2, 3)), 0, -1)
    return np.ascontiguousarray(rgb[100 : 100 + H, 100 : 100 + W]), np.ascontiguousarray(
        rgb[500 : 500 + H, 500 : 500 + W]
    )


def _change() -> np.ndarray:
    change = np.full((H, W), Change.none, np.uint8)
    for cls, (rows, cols) in BLOCKS.items():
        change[rows, cols] = cls
    change[:, NODATA_COLUMNS] = NODATA
    return change


LEGEND = ChangeLegend(
    counts={"new": 1, "persisting": 1, "gone": 1},
    areas={"new": 1600.0, "persisting": 1600.0, "gone": 25_000.0},
    metres_per_pixel=0.5,
    north_up=True,
    label="lnet-edge-s int8 | 2026-11-29",
    shift_text="shift 1.4 m (applied)",
)


def _zoomed(a: np.ndarray, zoom: int) -> np.ndarray:
    return np.repeat(np.repeat(a, zoom, 0), zoom, 1)


def _inside(cls: Change, zoom: int, margin: int = 4) -> tuple[slice, slice]:
    """A block's zoomed interior, clear of its outline."""
    rows, cols = BLOCKS[cls]
    return (
        slice((rows.start + margin) * zoom, (rows.stop - margin) * zoom),
        slice((cols.start + margin) * zoom, (cols.stop - margin) * zoom),
    )


def test_panels_colours_and_black_nodata(scenes) -> None:
    before, after = scenes
    out = change_panels(before, after, _change(), LEGEND, step=1.0)
    zoom = 2  # a 400 px long side is enlarged to at least MIN_SIDE = 512
    assert out.dtype == np.uint8 and out.shape == (H * zoom, 2 * W * zoom + GAP_PX, 3)
    panel_w = (out.shape[1] - GAP_PX) // 2
    assert max(out.shape[0], panel_w) >= MIN_SIDE
    left, gap, right = out[:, :panel_w], out[:, panel_w : panel_w + GAP_PX], out[:, panel_w + GAP_PX :]
    assert (gap == 255).all()
    before_z, after_z = _zoomed(before, zoom), _zoomed(after, zoom)

    def mean(panel: np.ndarray, cls: Change) -> np.ndarray:
        return panel[_inside(cls, zoom)].reshape(-1, 3).mean(0)

    r, g, b = mean(right, Change.new)
    assert r > g + 60 and r > b + 60  # reddish
    r, g, b = mean(right, Change.persisting)
    assert r > b + 60 and g > b + 60  # yellowish
    r, g, b = mean(right, Change.gone)
    assert b > r + 60 and b > g + 30  # bluish
    for cls in (Change.new, Change.persisting, Change.gone):
        assert (left[_inside(cls, zoom)] == before_z[_inside(cls, zoom)]).all()  # the before panel is not tinted
        # the outline runs in the class colour along the block's top edge
        rows, cols = BLOCKS[cls]
        edge = right[rows.start * zoom, (cols.start + 10) * zoom : (cols.stop - 10) * zoom]
        assert (edge == CLASS_RGB[cls]).all()
    # untouched ground (rows 195 to 225) is the after scene on the right, the before scene on the left
    assert (right[390:450, 100:600] == after_z[390:450, 100:600]).all()
    assert (left[390:450, 100:600] == before_z[390:450, 100:600]).all()
    # no before image: grey and darker than the after scene there
    greyed = right[_inside(Change.no_before, zoom, margin=2)].astype(int)
    assert (greyed[..., 0] == greyed[..., 1]).all() and (greyed[..., 1] == greyed[..., 2]).all()
    assert greyed.mean() < after_z[_inside(Change.no_before, zoom, margin=2)].mean() - 40
    # nodata black on both panels (rows clear of the label and the scale bar)
    cols = slice(NODATA_COLUMNS.start * zoom, NODATA_COLUMNS.stop * zoom)
    assert (left[100:400, cols] == 0).all() and (right[100:400, cols] == 0).all()


def test_legend_lines_and_the_scale_bar(scenes) -> None:
    before, after = scenes
    lines = change_legend_lines(LEGEND, no_before=True)
    assert [t for t, _ in lines] == [
        "1 new, 1,600 m2",
        "1 persisting, 1,600 m2",
        "1 gone, 2.50 ha",
        "no before image",
        "shift 1.4 m (applied)",
    ]
    assert [rgb for _, rgb in lines[:3]] == [CLASS_RGB[c] for c in (Change.new, Change.persisting, Change.gone)]
    assert lines[-1][1] is None
    unreferenced = ChangeLegend({"new": 2}, {"new": 120.0}, None, False, "m")
    assert change_legend_lines(unreferenced)[0][0] == "2 new, 120 px2"
    assert len(change_legend_lines(unreferenced)) == 3  # no greyed ground, no shift

    change = np.zeros((H, W), np.uint8)
    with_bar = change_panels(before, after, change, LEGEND, step=1.0)
    without = change_panels(before, after, change, unreferenced, step=1.0)
    corner = (slice(-60, None), slice(-200, None))  # bottom right of the after panel
    assert (with_bar[corner] == 255).all(axis=-1).sum() > 100  # the white bar
    assert not (with_bar[corner] == without[corner]).all()
    # the legend box darkens the after panel's bottom left, the before panel's stays as it was
    assert with_bar[-30:, W * 2 + GAP_PX + 20 : W * 2 + GAP_PX + 60].mean() < after[-15:, 10:30].mean() * 0.6
    assert (with_bar[-30:, 20:60] == _zoomed(before, 2)[-30:, 20:60]).all()


def test_big_previews_are_not_enlarged_and_shapes_must_match(scenes) -> None:
    before, after = scenes
    big_b, big_a = _zoomed(before, 2)[:, :700], _zoomed(after, 2)[:, :700]  # 600 x 700
    out = change_panels(big_b, big_a, np.zeros((600, 700), np.uint8), LEGEND, step=4.0, max_side=1024)
    assert out.shape == (600, 2 * 700 + GAP_PX, 3)
    with pytest.raises(ValueError):
        change_panels(before, after[:-1], np.zeros((H, W), np.uint8), LEGEND, step=1.0)


def test_write_png_round_trip(tmp_path: Path, scenes) -> None:
    out = change_panels(*scenes, _change(), LEGEND, step=1.0)
    path = tmp_path / "change.png"
    write_png(path, out)
    back = cv2.imread(str(path))
    assert back is not None and back.shape == out.shape
    assert (back[..., ::-1] == out).all()  # lossless, and RGB written as BGR


def test_display_stretches_and_blacks_out_nan() -> None:
    rng = np.random.default_rng(0)
    u16 = rng.integers(1000, 40_000, size=(50, 60, 4), dtype=np.uint16)
    shown = display(u16)
    assert shown.shape == (50, 60, 3) and shown.dtype == np.uint8
    for b in range(3):
        assert shown[..., b].min() == 0 and shown[..., b].max() == 255
        # the 2nd to 98th percentile span of the band maps onto 0..255
        lo, hi = np.percentile(u16[..., b], (2, 98))
        mid = (u16[..., b] > lo + 0.45 * (hi - lo)) & (u16[..., b] < lo + 0.55 * (hi - lo))
        assert 100 < shown[..., b][mid].mean() < 155

    grey = rng.normal(0.1, 0.02, size=(40, 40, 1)).astype(np.float32)
    grey[5, 7] = np.nan
    shown = display(grey)
    assert shown.shape == (40, 40, 3) and (shown[5, 7] == 0).all()
    assert (shown[..., 0] == shown[..., 2]).all() and shown.max() == 255

    u8 = rng.integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    assert (display(u8) == u8).all()
