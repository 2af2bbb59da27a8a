"""The tile grid of a scene: where its tile rows and columns start, in scene pixels."""

from __future__ import annotations

from dataclasses import dataclass

from lnet_edge.field.predict import scene_tiling
from lnet_edge.field.tiling import tile_origins


@dataclass(frozen=True)
class Grid:
    """The tile layout of a scene in scene pixels: tile rows start at ``ys``, columns at ``xs``."""

    tile: int
    overlap: int
    ys: list[int]
    xs: list[int]
    height: int
    width: int

    @property
    def th(self) -> int:
        return min(self.tile, self.height)

    @property
    def tw(self) -> int:
        return min(self.tile, self.width)

    def stop(self, i: int) -> int:
        """The end of the rows tile row ``i`` makes final: where the next tile row starts."""
        return self.ys[i + 1] if i + 1 < len(self.ys) else self.height

    def first_reaching(self, i: int) -> int:
        """The first tile row that covers any row of tile row ``i``'s final rows."""
        return next(j for j in range(len(self.ys)) if self.ys[j] + self.th > self.ys[i])


def scene_grid(height: int, width: int, tile: int, overlap: int, factor: float) -> Grid:
    """The grid of a scene for a field tile of ``tile`` model pixels (see options.field_tile)."""
    t, ov = scene_tiling(tile, overlap, factor)
    return Grid(t, ov, tile_origins(height, t, ov), tile_origins(width, t, ov), height, width)
