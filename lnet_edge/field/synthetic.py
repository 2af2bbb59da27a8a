"""Stand-ins for measuring the field pipeline without a network: a generated scene of
landslide-like blobs of any size, and a pointwise runner that maps it back to its own mask.

Used by the bounded-memory test and ``bench/field_memory.py``: everything but the network is
the real pipeline, and the expected output is known exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.runners.base import OUTPUT_NAME, Runner

UTM48N = "EPSG:32648"
ORIGIN = (366070.0, 3483660.0)  # west, north of the generated scenes (metres, UTM 48N)
GSD = 0.5


class ThresholdRunner(Runner):
    """Pixel-wise stand-in for a network: logit +10 where band 1 > 127.5, else -10 (with the
    default normalisation, band 1 > 0 after it). Pointwise, so tiling cannot change its output:
    what comes out is exactly the input's mask. Counts its calls."""

    name = "threshold-stub"

    def activate_impl(self) -> None:
        self.calls = 0

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls += 1
        x = feed["image"][:, :1]
        return {OUTPUT_NAME: np.where(x > 0, np.float32(10), np.float32(-10))}  # float32 in one pass


def blob_rows(row0: int, height: int, width: int) -> np.ndarray:
    """Rows [row0, row0 + height) of the blob pattern: uint8, 200 inside a blob, 40 outside."""
    yy = np.arange(row0, row0 + height)[:, None]
    xx = np.arange(width)[None, :]
    return np.where(np.sin(yy / 37.0) * np.cos(xx / 53.0) > 0.6, 200, 40).astype(np.uint8)


def write_blob_scene(path: Path, height: int, width: int, strip: int = 512) -> Path:
    """A 3-band uint8 GeoTIFF of blobs (UTM 48N, 0.5 m), written strip by strip so that a
    20000 x 20000 scene never sits in memory."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=3,
        dtype="uint8",
        crs=UTM48N,
        transform=from_origin(*ORIGIN, GSD, GSD),
        tiled=True,
        compress="deflate",
        BIGTIFF="IF_SAFER",
    ) as dst:
        for r in range(0, height, strip):
            n = min(strip, height - r)
            dst.write(np.stack([blob_rows(r, n, width)] * 3), window=Window(0, r, width, n))
    return path
