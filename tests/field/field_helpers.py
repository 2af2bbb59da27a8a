"""Scene writers and a tiny fast runner shared by the field tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from lnet_edge.runners.base import OUTPUT_NAME, Runner

UTM48N = "EPSG:32648"
TRANSFORM = from_origin(366070.0, 3483660.0, 0.5, 0.5)


class ThresholdRunner(Runner):
    """Pixel-wise stand-in for a network: logit +10 where band 1 > 127.5, else -10.

    Pointwise, so tiling cannot change its output: what comes out is exactly the input's mask.
    """

    name = "threshold-stub"

    def activate_impl(self) -> None:
        self.calls = 0

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls += 1
        x = feed["image"][:, :1]
        return {OUTPUT_NAME: np.where(x > 0, 10.0, -10.0).astype(np.float32)}


def write_scene(path: Path, data: np.ndarray, crs=UTM48N, transform=TRANSFORM, nodata=None) -> Path:
    """Write a CxHxW array as a tiled GeoTIFF."""
    c, h, w = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=c,
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data)
    return path


def rgb_from_mask(mask: np.ndarray) -> np.ndarray:
    """3xHxW uint8: 200 where mask, 50 elsewhere (ThresholdRunner maps it back to the mask)."""
    v = np.where(mask > 0, 200, 50).astype(np.uint8)
    return np.stack([v, v, v])
