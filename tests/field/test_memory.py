"""Bounded memory: the real pipeline on a tall generated scene with a tiny pointwise runner.

Peak traced (NumPy) memory must stay a fraction of one full-scene float32 buffer: the pipeline
holds one tile row, never the scene. bench/field_memory.py measures peak RSS on 20000 x 20000.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import rasterio

from lnet_edge.field.pipeline import InferOptions, run_scene
from lnet_edge.model.config import ModelConfig
from tests.field.field_helpers import TRANSFORM, ThresholdRunner


def write_blobs(path: Path, h: int, w: int, strip: int = 512) -> None:
    """A scene of landslide-like blobs, written strip by strip (never whole in memory)."""
    yy, xx = np.mgrid[0:strip, 0:w]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=3,
        dtype="uint8",
        crs="EPSG:32648",
        transform=TRANSFORM,
        tiled=True,
        compress="deflate",
    ) as dst:
        for r in range(0, h, strip):
            n = min(strip, h - r)
            v = np.sin((yy[:n] + r) / 37.0) * np.cos(xx[:n] / 53.0) > 0.6
            band = np.where(v, 200, 40).astype(np.uint8)
            dst.write(np.stack([band] * 3), window=rasterio.windows.Window(0, r, w, n))


def test_peak_memory_is_bounded_by_a_strip_not_the_scene(tmp_path: Path) -> None:
    h, w = 32768, 1024  # tall and narrow: a strip is 1/128 of the scene, a vectorising band 1/32
    scene = tmp_path / "tall.tif"
    write_blobs(scene, h, w)
    full_float_scene = h * w * 4
    tracemalloc.start()
    try:
        with ThresholdRunner() as runner:
            summary = run_scene(scene, tmp_path / "out", runner, ModelConfig(), InferOptions(batch=8), {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"peak traced {peak / 2**20:.1f} MiB vs full-scene float32 {full_float_scene / 2**20:.0f} MiB")
    assert summary["landslide_count"] > 50
    assert peak < 0.75 * full_float_scene  # no full-scene buffer (measured about 78 MiB)
