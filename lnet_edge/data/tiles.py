"""Cutting images into fixed-size training tiles."""

from __future__ import annotations

import numpy as np


def tile_origins(length: int, tile: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of ``tile`` px: a regular grid whose last
    tile is aligned to the far edge (so it overlaps its neighbour instead of running off)."""
    if length <= tile:
        return [0]
    n = -(-length // tile)
    return sorted({round(i * (length - tile) / (n - 1)) for i in range(n)})


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
