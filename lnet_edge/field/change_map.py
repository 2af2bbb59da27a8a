"""The change stage of a before/after pair, once both scenes are mapped: the before map brought
onto the after scene's grid, the shift between the two measured (and, with ``--coregister``,
undone), and the change raster, its polygons and the two-panel quicklook written under ``.part``
names.

Both maps come from the probability GeoTIFFs the field run wrote: the before probabilities are
warped onto the after grid (bilinear, field/pairing.Warped) and thresholded there, so a before
scene of another resolution or CRS is compared pixel for pixel with the after map. Everything is
read in strips of about ``STRIP_PIXELS`` pixels, with the tolerance band's rows above and below,
so a pair costs the memory of a strip (about 35 bytes a pixel: 140 MB) whatever the scenes' size."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.errors import LnetError
from lnet_edge.field import io
from lnet_edge.field.change import DEFAULT_MARGIN, Change, change_classes, marked_before
from lnet_edge.field.change_polygons import ChangePolygons
from lnet_edge.field.coregister import Shift, estimate_shift
from lnet_edge.field.pairing import Grid, Pair, Warped
from lnet_edge.field.polygons import PolygonStats
from lnet_edge.field.vectorize import Georef

STRIP_PIXELS = 4_000_000  # pixels of the after grid compared at once
STRIP_ROWS = 512  # at most, for narrow scenes
COREGISTER_MAX_PX = 64  # --coregister undoes shifts up to this many after-scene pixels
DEFAULT_TOLERANCE_PX = 2  # --shift-tolerance when not given
SHIFT_SIDE = 2048  # the central window of the overlap the shift is measured on, px


@dataclass(frozen=True, kw_only=True)
class ChangeOptions:
    """How a pair is compared; saved as ``change_options.json`` beside the change outputs."""

    shift_tolerance_m: float | None = None  # None: DEFAULT_TOLERANCE_PX after-scene pixels
    coregister: bool = False
    pixel_pairs: bool = False
    margin: float = DEFAULT_MARGIN  # probability the before map must lie below the after map's for new

    def __post_init__(self) -> None:
        t = self.shift_tolerance_m
        if t is not None and (not math.isfinite(t) or t < 0):
            raise LnetError(f"--shift-tolerance {t}: give a distance in metres, 0 or more")
        if not math.isfinite(self.margin) or not 0 <= self.margin < 1:
            raise LnetError(f"--change-margin {self.margin}: give a probability difference from 0 to below 1")

    def tolerance_px(self, pixel_m: float | None, scene: Path) -> int:
        """The tolerance band in after-scene pixels."""
        if self.shift_tolerance_m is None:
            return DEFAULT_TOLERANCE_PX
        if not pixel_m:
            raise LnetError(
                f"--shift-tolerance {self.shift_tolerance_m:g} m: {scene} has no pixel size in metres: "
                "give --pixel-size, or leave --shift-tolerance out (2 pixels)"
            )
        return round(self.shift_tolerance_m / pixel_m)


@dataclass(frozen=True)
class MeasuredShift:
    shift: Shift
    applied: bool
    pixel_m: float | None

    def to_json(self, tolerance_px: int, transform) -> dict:
        s, m = self.shift, self.pixel_m
        east, north = transform.a * s.dx + transform.b * s.dy, transform.d * s.dx + transform.e * s.dy
        scale = m / math.hypot(transform.a, transform.d) if m else None  # map units -> metres
        return {
            "dy_px": round(s.dy, 3),
            "dx_px": round(s.dx, 3),
            "east_m": round(east * scale, 3) if scale else None,
            "north_m": round(north * scale, 3) if scale else None,
            "metres": round(s.metres(m), 3) if m else None,
            "pixels": round(s.pixels, 3),
            "response": round(s.response, 4),
            "reliable": s.reliable,
            "applied": self.applied,
            "exceeds_tolerance": bool(s.reliable and s.pixels > tolerance_px),
        }


def shift_text(shift: dict) -> str:
    """A measured shift (``MeasuredShift.to_json``) in words: metres, or pixels without a pixel size."""
    return f"{shift['metres']:.1f} m" if shift["metres"] is not None else f"{shift['pixels']:.1f} px"


def display_bands(src) -> list[int]:
    """The bands shown and correlated: the first three (one for a grey scene)."""
    return list(range(1, min(src.count, 3) + 1))


def measure_shift(after_src, before_src, pixel_pairs: bool) -> Shift:
    """Phase correlation of the two scenes over the central ``SHIFT_SIDE`` window of their
    overlap, the before scene warped onto the after grid (field/coregister.py)."""
    warped = Warped(before_src, Grid.of(after_src), pixel_pairs)
    try:
        rows, cols = _overlap_window(after_src, before_src, pixel_pairs)
        if rows.stop - rows.start < 32 or cols.stop - cols.start < 32:
            return Shift(0.0, 0.0, 0.0)
        from rasterio.windows import Window

        win = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
        a = np.moveaxis(after_src.read(display_bands(after_src), window=win), 0, -1)
        a_valid = after_src.dataset_mask(window=win) > 0
        b, b_valid = warped.read(display_bands(before_src), rows.start, win.height, cols.start, win.width)
        return estimate_shift(a, b, a_valid & b_valid)
    finally:
        warped.close()


def _overlap_window(after_src, before_src, pixel_pairs: bool) -> tuple[slice, slice]:
    """The central window (at most SHIFT_SIDE a side) of the before scene's footprint on the after grid."""
    h, w = after_src.height, after_src.width
    if pixel_pairs:
        r0, r1, c0, c1 = 0, h, 0, w
    else:
        from rasterio.warp import transform_bounds

        left, bottom, right, top = transform_bounds(before_src.crs, after_src.crs, *before_src.bounds, densify_pts=21)
        i = ~after_src.transform  # ground -> pixel; written out, as affine deprecates `transform * (x, y)`
        corners = [(x, y) for x in (left, right) for y in (bottom, top)]
        xs = [i.a * x + i.b * y + i.c for x, y in corners]
        ys = [i.d * x + i.e * y + i.f for x, y in corners]
        r0, r1 = max(0, math.floor(min(ys))), min(h, math.ceil(max(ys)))
        c0, c1 = max(0, math.floor(min(xs))), min(w, math.ceil(max(xs)))
    return _central(r0, r1), _central(c0, c1)


def _central(start: int, stop: int) -> slice:
    n = stop - start
    if n <= SHIFT_SIDE:
        return slice(start, max(start, stop))
    first = start + (n - SHIFT_SIDE) // 2
    return slice(first, first + SHIFT_SIDE)


def coregistration(shift: Shift, options: ChangeOptions, pixel_m: float | None, pair: Pair) -> bool:
    """Whether the shift is undone: with --coregister and a reliable estimate within the bound;
    a larger one is refused with its size."""
    if not options.coregister or not shift.reliable:
        return False
    if shift.pixels > COREGISTER_MAX_PX:
        size = f"{shift.pixels:.1f} px" + (f" ({shift.metres(pixel_m):.1f} m)" if pixel_m else "")
        raise LnetError(
            f"--coregister: {pair.before} sits {size} from {pair.after}, more than the {COREGISTER_MAX_PX} px "
            "that are undone: check that the scenes cover the same ground, or compare them without --coregister"
        )
    return True


@dataclass
class ChangeInputs:
    """What a pair's comparison reads and how: the after map's probability and mask, the before
    map's probability (on its own grid) and threshold, the tolerance band, the minimum mapping
    unit, the margin, and the pixel size stated for a scene without a georeference."""

    after_prob: Path
    after_mask: Path
    before_prob: Path
    before_threshold: float
    tolerance_px: int
    min_area: float
    margin: float
    pixel_size_m: float | None = None  # of an after scene without a georeference, from --pixel-size


def write_change(inputs: ChangeInputs, paths: dict[str, Path], grid: Grid, pixel_pairs: bool, offset: tuple[int, int]):
    """The change raster and polygons under ``.part`` names; returns (pixels per class, tallies).
    ``grid``: the after grid, shifted when the shift is undone; ``offset`` (rows, cols): the
    whole-pixel shift undone for pixel-for-pixel pairs."""
    import rasterio

    with rasterio.open(inputs.after_prob) as ap, rasterio.open(inputs.after_mask) as am:
        with rasterio.open(inputs.before_prob) as bp:
            georef = Georef.from_dataset(ap, inputs.pixel_size_m)
            writer = io.BlockRowWriter(
                paths["change"], ap.width, ap.height, ap.crs, ap.transform, {"lnet_edge": CHANGE_TAG}
            )
            polys = ChangePolygons(
                io.part_path(paths["change_polygons"]),
                io.part_path(paths["change_geopackage"]),
                paths["change_polygons"].stem,
                ap.crs,
                georef,
                inputs.min_area,
            )
            warped = Warped(bp, grid, pixel_pairs, offset)
            try:
                pixels = _strips(inputs, ap, am, warped, writer, polys)
                tallies = polys.close()
            except BaseException:
                polys.abandon()
                raise
            finally:
                writer.close()
                warped.close()
    return pixels, tallies


CHANGE_TAG = "change: 0 none, 1 new, 2 persisting, 3 gone, 4 no-before, 255 nodata"


def _strips(inputs: ChangeInputs, ap, am, warped: Warped, writer, polys: ChangePolygons) -> dict[str, int]:
    from rasterio.windows import Window

    h, w, tol = ap.height, ap.width, inputs.tolerance_px
    before_cut = np.float32(100 * inputs.before_threshold)
    pixels = np.zeros(256, np.int64)
    rows = strip_rows(w, tol)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        r0, r1 = max(0, y0 - tol), min(h, y1 + tol)
        win = Window(0, r0, w, r1 - r0)
        mask = am.read(1, window=win)
        after_pct = ap.read(1, window=win)
        before_pct, before_ok = warped.read([1], r0, r1 - r0)
        before_pct = before_pct[..., 0].astype(np.float32)
        before_ok &= before_pct <= 100  # the probability raster's own nodata (255)
        near = marked_before(after_pct, before_pct, before_ok, before_cut, tol, 100 * inputs.margin)
        classes = change_classes(mask == 1, before_pct > before_cut, mask != io.NODATA, before_ok, tol, near)
        keep = slice(y0 - r0, y0 - r0 + (y1 - y0))
        classes = classes[keep]
        writer.write_rows(classes)
        pixels += np.bincount(classes.ravel(), minlength=256)
        polys.add(classes, after_pct[keep] / np.float32(100), before_pct[keep] / np.float32(100), y0)
    return {c.label: int(pixels[int(c)]) for c in Change}


def strip_rows(width: int, tolerance_px: int) -> int:
    """Rows a strip compares: about STRIP_PIXELS in all, at most STRIP_ROWS, and at least 16
    (and twice the tolerance band), however wide the scene."""
    return max(16, 2 * tolerance_px, min(STRIP_ROWS, STRIP_PIXELS // max(width, 1)))


def tally_json(pixels: dict[str, int], tallies: dict[str, PolygonStats], georef: Georef) -> dict:
    """Per class: polygons, their area and the class's pixels (no-before: pixels only)."""
    unit = "m2" if georef.in_metres else "px2"
    out = {}
    for c in Change:
        if c == Change.none:
            continue
        entry: dict = {"pixels": pixels[c.label]}
        if c.label in tallies:
            t = tallies[c.label]
            entry = {"polygons": t.count, f"area_{unit}": round(t.area, 2), "below_mmu": t.dropped, **entry}
        out[c.label] = entry
    return out
