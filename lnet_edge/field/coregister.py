"""How far the before scene sits from the after scene on their common grid: phase correlation
of the two grey images over their overlap.

Phase correlation (the normalised cross-power spectrum's inverse peak) finds a translation to a
fraction of a pixel and ignores a change of brightness or contrast between the two images, which
is what a year between flights or two sensors bring. Landslides themselves change a small part
of the overlap, which lowers the peak but rarely moves it. The ``response`` (the peak's height, 0
to 1) says how sure the estimate is; below ``MIN_RESPONSE`` the shift is reported as unknown."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lnet_edge.errors import LnetError

MIN_RESPONSE = 0.05  # a peak lower than this is noise: textureless or unrelated images
MAX_SIDE = 2048  # the central window correlated, in pixels: enough for a sub-pixel peak


@dataclass(frozen=True)
class Shift:
    """The before scene's offset from the after scene, in after-scene pixels (``dy`` down,
    ``dx`` right: the before image's content appears this far from where the after image has it)."""

    dy: float
    dx: float
    response: float

    @property
    def reliable(self) -> bool:
        return self.response >= MIN_RESPONSE

    @property
    def pixels(self) -> float:
        """The shift's length in after-scene pixels."""
        return float(np.hypot(self.dy, self.dx))

    def metres(self, pixel_size_m: float) -> float:
        return self.pixels * pixel_size_m


def grey(image: np.ndarray) -> np.ndarray:
    """A float32 grey image (bands averaged) with its mean removed, NaN as 0."""
    g = np.nan_to_num(image.astype(np.float32).mean(axis=-1) if image.ndim == 3 else image.astype(np.float32))
    return g - g.mean()


def estimate_shift(after: np.ndarray, before: np.ndarray, valid: np.ndarray | None = None) -> Shift:
    """The translation of ``before`` relative to ``after`` (same grid, H x W or H x W x bands),
    over a central window of at most ``MAX_SIDE`` pixels. ``valid`` (H x W, optional) marks the
    pixels both scenes cover; the window is cut to its bounding box."""
    if after.shape[:2] != before.shape[:2]:
        raise LnetError(f"the two images differ in size ({after.shape[:2]} and {before.shape[:2]}): warp first")
    rows, cols = (slice(0, after.shape[0]), slice(0, after.shape[1]))
    if valid is not None:
        ys, xs = np.nonzero(valid)
        if ys.size == 0:
            return Shift(0.0, 0.0, 0.0)
        rows, cols = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
    rows, cols = _central(rows, MAX_SIDE), _central(cols, MAX_SIDE)
    a, b = grey(after[rows, cols]), grey(before[rows, cols])
    if min(a.shape) < 32:
        return Shift(0.0, 0.0, 0.0)
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(a, b, window)
    return Shift(float(dy), float(dx), float(response))


def _central(s: slice, side: int) -> slice:
    n = s.stop - s.start
    if n <= side:
        return s
    start = s.start + (n - side) // 2
    return slice(start, start + side)
