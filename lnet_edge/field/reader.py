"""Reading a scene for the field run: what it needs before its tiles run (``scene_setup``:
bands, scaling, georeference, pixel size, resampling, notes for the user), then its tile rows'
strips in order (``StripReader``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.scaling import Scaling
from lnet_edge.field import io
from lnet_edge.field.grid import Grid
from lnet_edge.field.options import InferOptions
from lnet_edge.field.resolution import parse_gsd, pixel_size_m, resample_factor
from lnet_edge.field.vectorize import Georef

GDAL_CACHE_MB = 256  # GDAL's block cache defaults to 5 % of RAM: 1+ GB on a 24 GB laptop
# a gate fitted on whole images judges each tile on its own (docs/accuracy.md, false alarms)
GATED_TILES = (
    "mapped by a model with a scene gate, which judges each tile whole: a tile that holds only part of a "
    "landslide can be left empty (see the tile sizes measured in docs/accuracy.md)"
)


@dataclass
class SceneSetup:
    """What a scene needs before its tiles run: bands, scaling, georeference, pixel size, the
    resampling factor, and the notes for the user."""

    indexes: list[int]
    scaling: Scaling
    georef: Georef
    scene_m: float | None
    factor: float
    notes: list[str]


def scene_setup(src, scene: Path, config: ModelConfig, options: InferOptions) -> SceneSetup:
    """The setup of the open scene ``src``; its notes say what the run assumes or changes."""
    indexes = io.check_bands(src, config, scene)
    scaling = io.choose_scaling(src, indexes, config, options.scale)
    georef = Georef.from_dataset(src, options.pixel_size)
    notes = []
    if georef.kind == "pixel":
        what = "a CRS but no geotransform" if src.crs else "no georeference"
        if georef.stated:
            notes.append(
                f"{scene.name} has {what}: outputs are in pixel coordinates, areas in m^2 from --pixel-size "
                f"{options.pixel_size:g} m (MMU in m^2)"
            )
        else:
            notes.append(f"{scene.name} has {what}: outputs are in pixel units (areas in px^2, MMU in px)")
    elif georef.ground is None:
        notes.append(f"{scene.name}: its CRS has no geodetic datum: areas in map units x {georef.unit_m:g} m")
    if scaling.method != "none":
        notes.append(f"{scene.name} is {src.dtypes[indexes[0] - 1]}: scaled to 0..255 by {scaling.method}")
    scene_m = pixel_size_m(src)  # the georeference wins; --pixel-size speaks for scenes without one
    if scene_m is None:
        scene_m = options.pixel_size
    elif options.pixel_size is not None and abs(options.pixel_size - scene_m) > 0.01 * scene_m:
        notes.append(
            f"{scene.name}: --pixel-size {options.pixel_size:g} ignored, its georeference gives {scene_m:.3g} m"
        )
    factor, gsd_note = resample_factor(scene_m, config, parse_gsd(options.gsd))
    if gsd_note:
        notes.append(f"{scene.name}: {gsd_note}")
    if config.scene_gate is not None:  # a scene note, so the summary says it and cluster workers relay it
        notes.append(f"{scene.name}: {GATED_TILES}")
    return SceneSetup(indexes, scaling, georef, scene_m, factor, notes)


class StripReader:
    """Tile rows' strips of a scene, read in order: rows the previous strip already read (tile
    rows overlap by ``overlap``) are taken from it, so each scene row is decoded about once."""

    def __init__(self, src, setup: SceneSetup, config: ModelConfig, grid: Grid) -> None:
        self.src, self.setup, self.grid = src, setup, grid
        self.fill = np.asarray(config.norm.mean, dtype=np.float32) / np.float32(config.norm.scale)
        self.last: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None  # row0, raw, valid, nonfinite

    def _raw(self, y: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        th, path = self.grid.th, Path(self.src.name)
        last = self.last
        if last is not None and last[0] < y < last[0] + th:
            y0, raw0, valid0, nonfinite0 = last
            start = y0 + th  # the first row not read yet
            raw1, valid1, nonfinite1 = io.read_strip(self.src, self.setup.indexes, start, y + th - start, path)
            k = y - y0
            raw = np.concatenate([raw0[k:], raw1])
            valid = np.concatenate([valid0[k:], valid1])
            nonfinite = np.concatenate([nonfinite0[k:], nonfinite1])
        else:
            raw, valid, nonfinite = io.read_strip(self.src, self.setup.indexes, y, th, path)
        self.last = (y, raw, valid, nonfinite)  # shared with the strip: only its non-finite pixels
        return raw, valid, nonfinite  # are ever written, to the same fill value each time

    def strip(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Tile row ``i``'s rows of the scene in the model's range, its valid mask, and the count of
        non-finite pixels among its final rows (their values set to the normalisation mean)."""
        y = self.grid.ys[i]
        raw, valid, nonfinite = self._raw(y)
        image = self.setup.scaling.apply(raw)
        count = 0
        if nonfinite.any():  # absent pixels: the normalisation mean, which the network sees as 0
            image[nonfinite] = self.fill
            count = int(nonfinite[: self.grid.stop(i) - y].sum())
        return image, valid, count
