"""Smooth blending of overlapping tile predictions (a raised-cosine / Hann taper)."""

from __future__ import annotations

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


class BlendWeights:
    """Tile weights of a whole grid, normalised to sum to 1 at every pixel.

    Tile (i, j) weighs r_i(y) c_j(x) / (R(y) C(x)), where r_i and c_j are its row and column
    tapers and R = sum_i r_i, C = sum_j c_j over the grid: the tapers are separable, so R(y) C(x)
    is the sum of every tile's raw weight at (y, x), and the blend is a plain weighted sum with no
    division and no weight accumulator. (A tile skipped because all its pixels are nodata leaves
    weights short of 1 only on its own, all-nodata, pixels.) Windows are cached per distinct
    (row, column) weight profile: a scene has a handful. An overlap close to the tile size makes
    nearly every tile's profile its own (at --tile 256 --overlap 250, 109 a side: 6 GB of
    windows), so a grid whose windows would pass CACHE_BYTES computes each one as it is asked for.
    """

    CACHE_BYTES = 64 << 20

    def __init__(self, ys: list[int], xs: list[int], th: int, tw: int, ramp: int, height: int, width: int) -> None:
        self.rows, self._row_ids = self._axis(ys, th, ramp, height)
        self.cols, self._col_ids = self._axis(xs, tw, ramp, width)
        self._windows: dict[tuple[int, int], np.ndarray] = {}
        self._cached = len(set(self._row_ids)) * len(set(self._col_ids)) * th * tw * 8 <= self.CACHE_BYTES

    @staticmethod
    def _axis(origins: list[int], size: int, ramp: int, length: int) -> tuple[list[np.ndarray], list[int]]:
        raw = [taper(size, ramp, k > 0, k < len(origins) - 1) for k in range(len(origins))]
        total = np.zeros(length, dtype=np.float64)
        for o, r in zip(origins, raw):
            total[o : o + size] += r
        profiles: dict[bytes, int] = {}
        weights, ids = [], []
        for o, r in zip(origins, raw):
            w = r / total[o : o + size]
            ids.append(profiles.setdefault(w.tobytes(), len(profiles)))
            weights.append(w)
        return weights, ids

    def window(self, i: int, j: int) -> np.ndarray:
        """The float64 weights of tile (i, j); read-only, shared by tiles of the same profile."""
        key = (self._row_ids[i], self._col_ids[j])
        w = self._windows.get(key)
        if w is None:
            w = np.outer(self.rows[i], self.cols[j])
            w.flags.writeable = False
            if self._cached:
                self._windows[key] = w
        return w


class StripAccumulator:
    """Weighted sums of tile predictions for a band of rows [row0, row0 + height) x width.

    p(x) = sum_t w_t(x) p_t(x) with weights that sum to 1 (:class:`BlendWeights`), accumulated
    in float64 so that a constant prediction blends back to exactly the same float32 constant.
    Only one tile row is held at a time: memory is O(tile x width), not O(scene).
    """

    def __init__(self, height: int, width: int, row0: int = 0) -> None:
        self.height, self.width, self.row0 = height, width, row0
        self.sum = np.zeros((height, width), dtype=np.float64)

    def add(self, pred: np.ndarray, weight: np.ndarray, row: int, col: int) -> None:
        """Add one tile's prediction (h x w) times its weights at scene position (row, col)."""
        h, w = pred.shape
        r = row - self.row0
        self.sum[r : r + h, col : col + w] += weight * pred

    def rows(self, stop: int) -> np.ndarray:
        """Blended float32 rows [row0, stop)."""
        return self.sum[: stop - self.row0].astype(np.float32)

    def advance(self, new_row0: int) -> None:
        """Drop rows before ``new_row0`` (they are final) and keep the overlap."""
        shift = new_row0 - self.row0
        self.sum[: self.height - shift] = self.sum[shift:].copy()
        self.sum[self.height - shift :] = 0
        self.row0 = new_row0
