"""The calibration set: real tiles, chosen deterministically and stratified.

From the training side of the split of the given image/mask folders (so no gate tile is ever
calibrated on), tiles are split into those with and without landslide pixels; each stratum is
ranked by the sha256 of the tile key and the set takes half from each (the shorter stratum is
used up and the other fills the rest). The set's digest (keys and pixels) goes into every
int8 manifest, so a model can be traced to the exact tiles that set its scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.export.tiles import Tile, tiles_from_folders, tiles_sha256

MIN_TILES = 16  # below this, per-tensor ranges of a ~90-layer network are too noisy to trust


@dataclass(frozen=True)
class CalibrationSet:
    tiles: list[Tile]
    with_landslide: int
    without_landslide: int
    sha256: str

    def summary(self) -> dict:
        return {
            "tiles": len(self.tiles),
            "with_landslide": self.with_landslide,
            "without_landslide": self.without_landslide,
            "sha256": self.sha256,
            "keys": [t.key for t in self.tiles],
        }


def stratified(tiles: list[Tile], count: int) -> list[Tile]:
    """Half with landslides, half without (tiles arrive ranked by key hash)."""
    pos = [t for t in tiles if t.has_landslide]
    neg = [t for t in tiles if not t.has_landslide]
    n_pos = min(len(pos), max(count - len(neg), count // 2))
    return pos[:n_pos] + neg[: count - n_pos]


def calibration_set_from_folders(
    folders: list[Path],
    config: ModelConfig,
    count: int = 32,
    batch: int = 8,
    minimum: int = MIN_TILES,
    side: str = "train",
) -> CalibrationSet:
    """``count`` stratified tiles of the config's tile size; too few tiles is an LnetError."""
    for f in folders:
        if not Path(f).is_dir():
            raise LnetError(f"calibration folder {f} does not exist: give a folder with images/ and masks/")
    need = max(batch, minimum)
    if count < need:
        raise LnetError(
            f"--tiles {count} is below the minimum of {need} (batch {batch}, minimum {minimum}): raise --tiles"
        )
    tiles = tiles_from_folders(folders, config, side)
    if len(tiles) < need:
        raise LnetError(
            f"the calibration folders give only {len(tiles)} tiles of {config.tile} px on the '{side}' side of "
            f"the split, fewer than the {need} needed (batch {batch}, minimum {minimum}): add images"
        )
    chosen = stratified(tiles, count)
    n_pos = sum(t.has_landslide for t in chosen)
    return CalibrationSet(chosen, n_pos, len(chosen) - n_pos, tiles_sha256(chosen))
