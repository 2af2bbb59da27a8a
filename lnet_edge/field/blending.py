"""Smooth blending of overlapping tile predictions (a raised-cosine / Hann taper)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def taper(length: int, ramp: int, rise: bool, fall: bool) -> np.ndarray:
    """1-D weights of a tile axis: 1 in the middle, a raised-cosine ramp of ``ramp`` px at a
    side that has a neighbour (``rise`` at the start, ``fall`` at the end).

    ramp_i = 0.5 - 0.5 cos(pi (i + 0.5) / ramp), i = 0 .. ramp-1. The half-pixel offset keeps
    every weight strictly positive (no pixel is left with zero total weight) and makes a rising
    and a falling ramp that overlap by exactly ``ramp`` px sum to 1 (cos(a) + cos(pi - a) = 0):
    a partition of unity. No ramp on a side at the scene edge, where nothing else covers the
    pixels. Tile borders, where the network saw zero padding instead of context, are thereby
    weighted down smoothly, so seams do not show.
    """
    w = np.ones(length, dtype=np.float64)
    ramp = min(ramp, length // 2) if rise and fall else min(ramp, length)
    if ramp <= 0:
        return w
    r = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
    if rise:
        w[:ramp] = np.minimum(w[:ramp], r)
    if fall:
        w[length - ramp :] = np.minimum(w[length - ramp :], r[::-1])
    return w


@lru_cache(maxsize=64)  # a scene uses at most nine distinct windows (corners, edges, inside)
def blend_window(
    height: int,
    width: int,
    ramp: int,
    top: bool = True,
    bottom: bool = True,
    left: bool = True,
    right: bool = True,
) -> np.ndarray:
    """2-D float64 weights of one tile: the outer product of the row and column tapers.
    ``top``/``bottom``/``left``/``right`` say which sides have a neighbouring tile. Cached and
    read-only."""
    w = np.outer(taper(height, ramp, top, bottom), taper(width, ramp, left, right))
    w.flags.writeable = False
    return w


class StripAccumulator:
    """Weighted sums of tile predictions for a band of rows [row0, row0 + height) x width.

    p(x) = sum_t w_t(x) p_t(x) / sum_t w_t(x), accumulated in float64 so that a constant
    prediction blends back to exactly the same float32 constant. Only one tile row is held at a
    time: memory is O(tile x width), not O(scene).
    """

    def __init__(self, height: int, width: int, row0: int = 0) -> None:
        self.height, self.width, self.row0 = height, width, row0
        self.sum = np.zeros((height, width), dtype=np.float64)
        self.weight = np.zeros((height, width), dtype=np.float64)

    def add(self, pred: np.ndarray, weight: np.ndarray, row: int, col: int) -> None:
        """Add one tile's prediction (h x w) and weights at scene position (row, col)."""
        h, w = pred.shape
        r = row - self.row0
        self.sum[r : r + h, col : col + w] += weight * pred
        self.weight[r : r + h, col : col + w] += weight

    def rows(self, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Blended float32 rows [row0, stop) and a bool array of where any tile contributed."""
        n = stop - self.row0
        wsum = self.weight[:n]
        covered = wsum > 0
        out = np.divide(self.sum[:n], wsum, out=np.zeros_like(wsum), where=covered)
        return out.astype(np.float32), covered

    def advance(self, new_row0: int) -> None:
        """Drop rows before ``new_row0`` (they are final) and keep the overlap."""
        shift = new_row0 - self.row0
        for a in (self.sum, self.weight):
            a[: self.height - shift] = a[shift:].copy()
            a[self.height - shift :] = 0
        self.row0 = new_row0
