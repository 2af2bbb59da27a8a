"""Tile layouts (one rule for training tiles and field scenes) and cutting images into tiles."""

from __future__ import annotations

import numpy as np

from lnet_edge.errors import LnetError


def tile_origins(length: int, tile: int, overlap: int = 0) -> list[int]:
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


def pad_to(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """Reflect-pad the bottom/right of an HxW[xC] array up to at least height x width."""
    ph, pw = max(0, height - arr.shape[0]), max(0, width - arr.shape[1])
    if ph == 0 and pw == 0:
        return arr
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (arr.ndim - 2)
    # reflect needs the pad smaller than the size; symmetric handles tiny images too
    return np.pad(arr, pad, mode="reflect" if ph < arr.shape[0] and pw < arr.shape[1] else "symmetric")


def cut_tiles(image: np.ndarray, mask: np.ndarray, tile: int = 256) -> list[tuple[np.ndarray, np.ndarray]]:
    """All tiles of an image/mask pair; images smaller than a tile are reflect-padded."""
    image, mask = pad_to(image, tile, tile), pad_to(mask, tile, tile)
    h, w = mask.shape
    return [
        (image[y : y + tile, x : x + tile], mask[y : y + tile, x : x + tile])
        for y in tile_origins(h, tile)
        for x in tile_origins(w, tile)
    ]
