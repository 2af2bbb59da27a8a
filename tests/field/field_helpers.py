"""Scene writers shared by the field tests; the stand-in runner lives in lnet_edge.field.synthetic."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from lnet_edge.field.synthetic import ORIGIN, UTM48N, ThresholdRunner  # noqa: F401 - re-exported for the tests

TRANSFORM = from_origin(*ORIGIN, 0.5, 0.5)


def as_foreground_job() -> None:
    """``preexec_fn`` for a CLI process that a test sends Ctrl-C: SIGINT's default action, as a
    terminal's foreground job has it, even when the tests run as a background job (whose shell
    ignores SIGINT, and an ignored signal stays ignored across exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
