"""Before/after pairs: which scenes go together, whether they can be compared, and the before
scene's rasters brought onto the after scene's grid.

The after scene's grid is the map's grid: its CRS, transform and pixel size. A before raster is
warped onto it with GDAL (rasterio's ``WarpedVRT``, bilinear, the source nodata kept as nodata)
and read back one strip of rows at a time, so a pair costs the memory of a strip, not a scene."""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.errors import LnetError
from lnet_edge.field.vectorize import georeferenced

MIN_OVERLAP = 0.10  # share of the after scene the before scene must cover


@dataclass(frozen=True)
class Pair:
    after: Path
    before: Path


def pairs_from_lists(afters: list[Path], befores: list[Path]) -> list[Pair]:
    """Scenes paired by position: the n-th ``--before`` goes with the n-th after scene."""
    if len(afters) != len(befores):
        raise LnetError(
            f"{len(afters)} after scene(s) but {len(befores)} --before scene(s): give one --before per after "
            "scene, in the same order, or pair them in a CSV with --pairs"
        )
    for p in [*afters, *befores]:
        if not p.is_file():
            raise LnetError(f"scene {p} does not exist or is not a file: give GeoTIFF/JPEG2000/PNG/JPEG files")
    return [Pair(a, b) for a, b in zip(afters, befores)]


def pairs_from_csv(path: Path) -> list[Pair]:
    """Pairs listed in a CSV with the columns ``after`` and ``before`` (paths relative to the CSV's
    folder, or absolute). An error names the line of a missing column, cell or file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LnetError(f"--pairs {path} cannot be read ({exc}): give a UTF-8 CSV with columns after,before") from None
    reader = csv.DictReader(text.splitlines())
    missing = {"after", "before"} - set(reader.fieldnames or ())
    if missing:
        raise LnetError(
            f"--pairs {path}, line 1: no column {', '.join(sorted(missing))} (found: {', '.join(reader.fieldnames or ()) or 'none'}): "
            "the first line must name the columns after,before"
        )
    pairs = []
    for line, row in enumerate(reader, start=2):
        paths = []
        for column in ("after", "before"):
            cell = (row.get(column) or "").strip()
            if not cell:
                raise LnetError(f"--pairs {path}, line {line}: the '{column}' cell is empty: give a scene path")
            p = Path(cell) if Path(cell).is_absolute() else path.parent / cell
            if not p.is_file():
                raise LnetError(f"--pairs {path}, line {line}: {column} scene {p} does not exist: fix the path")
            paths.append(p)
        pairs.append(Pair(*paths))
    if not pairs:
        raise LnetError(f"--pairs {path} lists no pair: add lines of after,before paths below the header")
    return pairs


def check_pair(after, before, pair: Pair, pixel_pairs: bool) -> float:
    """The share of the after scene the before scene covers, or an LnetError when the pair cannot
    be compared: one scene in pixels and the other on the ground, or an overlap under 10 %.
    ``pixel_pairs``: both are taken pixel for pixel, which needs the same size."""
    if pixel_pairs:
        if (after.height, after.width) != (before.height, before.width):
            raise LnetError(
                f"--pixel-pairs: {pair.after} is {after.width} x {after.height} px but {pair.before} is "
                f"{before.width} x {before.height} px: pixel-for-pixel pairs must be the same size"
            )
        return 1.0
    geo = georeferenced(after), georeferenced(before)
    if not all(geo):
        which = pair.before if geo[0] else pair.after
        raise LnetError(
            f"{which} has no georeference (CRS) but {pair.before if which == pair.after else pair.after} "
            f"{'has one' if any(geo) else 'neither'}: give both scenes a georeference, or, if both cover the "
            "same ground pixel for pixel, add --pixel-pairs"
        )
    share = overlap_share(after, before)
    if share < MIN_OVERLAP:
        raise LnetError(
            f"before scene {pair.before} covers {100 * share:.1f} % of after scene {pair.after} (at least "
            f"{100 * MIN_OVERLAP:.0f} % is needed): pair scenes of the same ground"
        )
    return share


def overlap_share(after, before) -> float:
    """The share of the after scene's bounding box inside the before scene's, in the after CRS."""
    from rasterio.warp import transform_bounds

    try:
        b = transform_bounds(before.crs, after.crs, *before.bounds, densify_pts=21)
    except Exception:  # noqa: BLE001 - GDAL raises several kinds for an impossible transformation
        return 0.0
    a = after.bounds
    w = max(0.0, min(a.right, b[2]) - max(a.left, b[0]))
    h = max(0.0, min(a.top, b[3]) - max(a.bottom, b[1]))
    area = (a.right - a.left) * (a.top - a.bottom)
    return float(w * h / area) if area > 0 else 0.0


@dataclass(frozen=True)
class Grid:
    """The after scene's grid, onto which before rasters are warped."""

    crs: object
    transform: object
    width: int
    height: int

    @classmethod
    def of(cls, src) -> Grid:
        return cls(src.crs, src.transform, src.width, src.height)

    def shifted(self, dy: float, dx: float) -> Grid:
        """The grid moved by (dy, dx) of its own pixels: warping onto it undoes a before scene
        that appears that far from the after scene."""
        from rasterio.transform import Affine

        return Grid(self.crs, self.transform @ Affine.translation(dx, dy), self.width, self.height)


class Warped:
    """A before raster seen on the after grid, read by windows (bilinear, nodata kept)."""

    def __init__(self, src, grid: Grid, pixel_pairs: bool = False, offset: tuple[int, int] = (0, 0)) -> None:
        from rasterio.enums import Resampling
        from rasterio.vrt import WarpedVRT

        self.src, self.offset = src, offset
        if pixel_pairs:  # pixel for pixel: no warp, the grids are the same by declaration
            self.vrt = None  # ``offset`` (rows, cols): where the before raster's content sits
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.vrt = WarpedVRT(
                src,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=Resampling.bilinear,
                src_nodata=src.nodata,
                nodata=src.nodata,
                add_alpha=src.nodata is None,
            )

    def read(self, indexes: list[int], row: int, height: int, col: int = 0, width: int | None = None):
        """(bands H x W x C, valid H x W) of rows [row, row + height) and columns [col, col + width)."""
        from rasterio.windows import Window

        ds = self.vrt or self.src
        width = ds.width - col if width is None else width
        if self.vrt is None and self.offset != (0, 0):
            return self._read_offset(indexes, row + self.offset[0], height, col + self.offset[1], width)
        win = Window(col, row, width, height)
        data = np.moveaxis(ds.read(indexes, window=win), 0, -1)
        valid = ds.dataset_mask(window=win) > 0
        return data, valid

    def _read_offset(self, indexes: list[int], row: int, height: int, col: int, width: int):
        """A window that may reach past the raster: what lies outside is invalid (zeros)."""
        from rasterio.windows import Window

        src = self.src
        data = np.zeros((height, width, len(indexes)), dtype=src.dtypes[0])
        valid = np.zeros((height, width), dtype=bool)
        r0, r1 = max(row, 0), min(row + height, src.height)
        c0, c1 = max(col, 0), min(col + width, src.width)
        if r1 > r0 and c1 > c0:
            win = Window(c0, r0, c1 - c0, r1 - r0)
            inside = np.s_[r0 - row : r1 - row, c0 - col : c1 - col]
            data[inside] = np.moveaxis(src.read(indexes, window=win), 0, -1)
            valid[inside] = src.dataset_mask(window=win) > 0
        return data, valid

    def close(self) -> None:
        if self.vrt is not None:
            self.vrt.close()
