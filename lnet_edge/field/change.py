"""Change classes between an after and a before landslide mask on the after scene's grid.

A pixel mapped as landslide after the event is ``new`` unless the before map has a landslide
within the shift tolerance of it (a disk of ``tolerance_px`` pixels): the band absorbs a
misregistration of up to that many pixels, so a scar seen in both images a pixel or two apart is
``persisting``, not new. ``gone`` is the mirror image: landslide before, none within the
tolerance after (revegetated, or a false alarm of the before map). After-scene pixels that the
before scene does not cover, or covers with nodata, are ``no_before``: never called new."""

from __future__ import annotations

from enum import IntEnum

import cv2
import numpy as np


class Change(IntEnum):
    """Values of the change raster (``NODATA`` where the after scene has none)."""

    none = 0  # no landslide in either map
    new = 1
    persisting = 2
    gone = 3
    no_before = 4

    @property
    def label(self) -> str:
        return self.name.replace("_", "-")


NODATA = 255


def disk(radius_px: int) -> np.ndarray:
    """A filled disk of ``radius_px`` pixels (a 1 x 1 kernel for 0) for OpenCV's dilation."""
    r = max(int(radius_px), 0)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy * yy + xx * xx <= r * r).astype(np.uint8)


def near(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Pixels within ``radius_px`` of a true pixel of ``mask``."""
    if radius_px <= 0:
        return mask.astype(bool)
    return cv2.dilate(mask.astype(np.uint8), disk(radius_px)).astype(bool)


def change_classes(
    after: np.ndarray,
    before: np.ndarray,
    after_valid: np.ndarray,
    before_valid: np.ndarray,
    tolerance_px: int,
) -> np.ndarray:
    """The uint8 change raster of two boolean landslide masks on one grid (values of ``Change``,
    ``NODATA`` where ``after_valid`` is false). ``before_valid`` is false where the before scene
    has no data; the tolerance band reaches across its edge only where it has data."""
    after = after.astype(bool) & after_valid
    before = before.astype(bool) & before_valid
    out = np.full(after.shape, Change.none, dtype=np.uint8)
    before_near, after_near = near(before, tolerance_px), near(after, tolerance_px)
    out[after & before_near] = Change.persisting
    out[after & ~before_near] = Change.new
    out[before & ~after_near & after_valid] = Change.gone
    out[after_valid & ~before_valid] = Change.no_before
    out[~after_valid] = NODATA
    return out


def class_counts(raster: np.ndarray) -> dict[str, int]:
    """Pixels of each change class in a change raster (nodata left out)."""
    values, counts = np.unique(raster, return_counts=True)
    found = dict(zip(values.tolist(), counts.tolist()))
    return {c.label: int(found.get(int(c), 0)) for c in Change}
