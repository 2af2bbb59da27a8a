"""False alarms: what a map marks where there is no landslide.

Detection scores (precision, recall, F1, IoU) are blind to scenes without landslides: a folder
of quiet scenes has no true positive, so its F1 is 0 whatever the map does. A field team judges a
map by how often it raises an alarm on quiet ground, so these are measured on their own:

- ``pixels``: the share of background pixels (mask 0) marked as landslide;
- ``images_over_1pct``: the share of images whose background is more than 1 % marked;
- ``polygons_per_km2``: false-alarm polygons per km² of background, where a false-alarm polygon is
  a 4-connected component of the marked pixels (as ``infer`` vectorises them) that shares no
  pixel with a landslide (one beside a landslide, overlapping none, counts: it maps ground that
  is not a scar) and is at least the minimum mapping unit. Only when the pixel size is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

IMAGE_SHARE = 0.01  # an image is a false alarm when more than this share of its background is marked
MIN_AREA_M2 = 100.0  # infer's default minimum mapping unit


@dataclass
class FalseAlarms:
    """Running totals over images; ``pixel_m`` is metres per pixel, or None when unknown."""

    pixel_m: float | None = None
    min_area_m2: float = MIN_AREA_M2
    images: int = 0
    images_over: int = 0
    background: int = 0
    marked: int = 0
    polygons: int = 0

    def add(self, pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Count one image's false alarms (``pred``, ``truth``, ``valid``: HxW bool-like; only
        ``valid`` pixels count, all of them when None)."""
        pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
        if valid is not None:
            pred, truth = pred & valid, truth | ~np.asarray(valid, bool)  # an invalid pixel is no background
        background = int(truth.size - np.count_nonzero(truth))
        marked = int(np.count_nonzero(pred & ~truth))
        self.images += 1
        self.background += background
        self.marked += marked
        self.images_over += int(background > 0 and marked > IMAGE_SHARE * background)
        if self.pixel_m is not None:
            self.polygons += false_alarm_polygons(pred, truth, self.min_pixels())

    def merge(self, other: FalseAlarms) -> None:
        for name in ("images", "images_over", "background", "marked", "polygons"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def min_pixels(self) -> int:
        return max(1, math.ceil(self.min_area_m2 / self.pixel_m**2 * (1 - 1e-9)))

    def to_dict(self) -> dict:
        km2 = None if self.pixel_m is None else self.background * self.pixel_m**2 / 1e6
        return {
            "pixels": self.marked / self.background if self.background else None,
            "images_over_1pct": self.images_over / self.images if self.images else 0.0,
            "polygons_per_km2": self.polygons / km2 if km2 else None,  # None: no pixel size, or no background
            "polygons": self.polygons if self.pixel_m is not None else None,
            "background_km2": km2,
            "min_area_m2": self.min_area_m2 if self.pixel_m is not None else None,
            "images": self.images,
            "images_over": self.images_over,
        }


def false_alarm_polygons(pred: np.ndarray, truth: np.ndarray, min_pixels: int) -> int:
    """Components of ``pred`` (4-connected) with at least ``min_pixels`` pixels and no pixel on
    ``truth``."""
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(pred.astype(np.uint8), connectivity=4)
    big = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    hit = np.zeros(n, bool)
    hit[np.unique(labels[truth & pred])] = True
    return int(np.count_nonzero(big & ~hit[1:]))


def markdown_alarms(rows: dict[str, dict]) -> str:
    """A table of false-alarm figures (percent, per km²), one row per set."""
    head = "| set | images | background pixels marked | images > 1 % marked | false-alarm polygons / km² |\n"
    head += "|---|---|---|---|---|\n"
    return head + "".join(
        f"| {name} | {r['images']} | {_share(r['pixels'], 2)} | {_share(r['images_over_1pct'], 1)} | {_per_km2(r)} |\n"
        for name, r in rows.items()
    )


def _share(value: float | None, digits: int) -> str:
    return "n/a (no background)" if value is None else f"{100 * value:.{digits}f} %"


def _per_km2(r: dict) -> str:
    if r["polygons_per_km2"] is not None:
        return f"{r['polygons_per_km2']:.1f}"
    return "n/a (give --pixel-size)" if r["background_km2"] is None else "n/a (no background)"
