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
    before_near: np.ndarray | None = None,
) -> np.ndarray:
    """The uint8 change raster of two boolean landslide masks on one grid (values of ``Change``,
    ``NODATA`` where ``after_valid`` is false). ``before_valid`` is false where the before scene
    has no data; the tolerance band reaches across its edge only where it has data.
    ``before_near``: where the before map counts as a landslide within the tolerance (see
    ``marked_before``); default: a before landslide pixel within ``tolerance_px``."""
    after = after.astype(bool) & after_valid
    before = before.astype(bool) & before_valid
    out = np.full(after.shape, Change.none, dtype=np.uint8)
    if before_near is None:
        before_near = near(before, tolerance_px)
    after_near = near(after, tolerance_px)
    out[after & before_near] = Change.persisting
    out[after & ~before_near] = Change.new
    out[before & ~after_near & after_valid] = Change.gone
    out[after_valid & ~before_valid] = Change.no_before
    out[~after_valid] = NODATA
    return out


def marked_before(
    after_pct: np.ndarray,
    before_pct: np.ndarray,
    before_valid: np.ndarray,
    cut_pct: float,
    tolerance_px: int,
    margin_pct: float,
) -> np.ndarray:
    """Where an after landslide pixel is not new: the before map's highest probability within the
    tolerance (percent) is above its threshold ``cut_pct``, or less than ``margin_pct`` points
    below the after map's probability there. The margin keeps a before map that only just missed
    its threshold (a colour change between the dates moves probabilities) from calling unchanged
    ground new; see ``DEFAULT_MARGIN``."""
    top = before_pct.astype(np.float32)
    top = np.where(before_valid, top, np.float32(0))
    if tolerance_px > 0:
        top = cv2.dilate(top, disk(tolerance_px))
    return (top > cut_pct) | (top >= after_pct.astype(np.float32) - np.float32(margin_pct))


# On constructed pairs from validation-side images (a before scene with the ground-truth scars
# inpainted, a colour change and a 1-3 m offset; bench/change_margin.py), with a margin of 0.30
# `new` marked 2.13 % of the unchanged ground against 4.27 % with none (the single-image map:
# 14.11 %), for a new-landslide IoU of 24.2 against 25.5 (tolerance 2 px; 0.20: 3.45 % / 25.4,
# 0.40: 1.05 % / 20.8).
DEFAULT_MARGIN = 0.30


def class_counts(raster: np.ndarray) -> dict[str, int]:
    """Pixels of each change class in a change raster (nodata left out)."""
    values, counts = np.unique(raster, return_counts=True)
    found = dict(zip(values.tolist(), counts.tolist()))
    return {c.label: int(found.get(int(c), 0)) for c in Change}
