"""Overlapping tile layout for whole-scene inference."""

from __future__ import annotations

from typing import NamedTuple

from lnet_edge.data.tiles import tile_origins  # noqa: F401 - one home for the tile layout


class TileWindow(NamedTuple):
    """A window in scene pixels: rows [row, row + height), columns [col, col + width)."""

    row: int
    col: int
    height: int
    width: int


def tile_windows(h: int, w: int, tile: int, overlap: int) -> list[TileWindow]:
    """All tile windows of an h x w scene in row-major order (the order they are read in).

    Windows are ``tile`` x ``tile`` and inside the scene; along an axis shorter than a tile the
    window is the whole axis. Together they cover every pixel.
    """
    th, tw = min(tile, h), min(tile, w)
    return [TileWindow(y, x, th, tw) for y in tile_origins(h, tile, overlap) for x in tile_origins(w, tile, overlap)]
