"""Overlapping tile layout for whole-scene inference."""

from __future__ import annotations

from typing import NamedTuple

from lnet_edge.errors import LnetError


class TileWindow(NamedTuple):
    """A window in scene pixels: rows [row, row + height), columns [col, col + width)."""

    row: int
    col: int
    height: int
    width: int


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px along an axis of ``length`` px, overlapping by at
    least ``overlap`` px.

    n = ceil((length - tile) / (tile - overlap)) + 1 tiles, origins spread evenly from 0 to
    length - tile: origin_i = round(i * (length - tile) / (n - 1)). The spacing is at most the
    stride tile - overlap, so neighbours overlap by at least ``overlap`` and the last tile ends
    exactly at the far edge (no tile runs off the scene, none needs padding). An axis shorter
    than a tile gets one tile at 0 (the caller reflect-pads it).
    """
    if tile <= 0 or overlap < 0 or overlap >= tile:
        raise LnetError(f"overlap {overlap} must be in [0, tile) for tile {tile}: lower --overlap")
    if length <= 0:
        raise LnetError(f"an axis of {length} px has no pixels to tile")
    if length <= tile:
        return [0]
    stride = tile - overlap
    n = -(-(length - tile) // stride) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def tile_windows(h: int, w: int, tile: int, overlap: int) -> list[TileWindow]:
    """All tile windows of an h x w scene in row-major order (the order they are read in).

    Windows are ``tile`` x ``tile`` and inside the scene; along an axis shorter than a tile the
    window is the whole axis. Together they cover every pixel.
    """
    th, tw = min(tile, h), min(tile, w)
    return [TileWindow(y, x, th, tw) for y in tile_origins(h, tile, overlap) for x in tile_origins(w, tile, overlap)]
