"""Peak resident memory of `lnet-edge infer`'s pipeline on a generated 20000 x 20000 RGB scene.

The scene (landslide-like blobs, UTM 48N, 0.5 m) is written strip by strip; the pipeline then
runs in a child process with a pointwise stand-in runner (the real network would take hours on
2 CPU cores; every other stage is the real one: windowed reads, tiling, raised-cosine blending,
block-row GeoTIFF writes, streamed polygons, quicklook). The child's peak RSS (ru_maxrss) is
recorded in bench/results/field_memory-<date>.json.

Usage: python bench/field_memory.py [--size 20000] [--workdir /tmp/field_memory]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_scene(path: Path, size: int, strip: int = 512) -> None:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    xx = np.arange(size)[None, :]
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32648",
        transform=from_origin(366070.0, 3483660.0, 0.5, 0.5),
        tiled=True,
        compress="deflate",
        BIGTIFF="YES",
    ) as dst:
        for r in range(0, size, strip):
            n = min(strip, size - r)
            yy = np.arange(r, r + n)[:, None]
            band = np.where(np.sin(yy / 37.0) * np.cos(xx / 53.0) > 0.6, 200, 40).astype(np.uint8)
            dst.write(np.stack([band] * 3), window=Window(0, r, size, n))


def child(scene: Path, out: Path) -> None:
    from lnet_edge.field.pipeline import InferOptions, run_scene
    from lnet_edge.model.config import ModelConfig
    from lnet_edge.runners.base import OUTPUT_NAME, Runner

    class Pointwise(Runner):
        name = "pointwise-stub"

        def activate_impl(self) -> None: ...

        def infer_impl(self, feed):
            return {OUTPUT_NAME: np.where(feed["image"][:, :1] > 0, 10.0, -10.0).astype(np.float32)}

    with Pointwise() as runner:
        s = run_scene(scene, out, runner, ModelConfig(), InferOptions(batch=8, overwrite=True), {})
    print(json.dumps({k: s[k] for k in ("tiles", "landslide_count", "seconds", "km2_per_second")}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/field_memory"))
    ap.add_argument("--child", nargs=2, type=Path)
    a = ap.parse_args()
    if a.child:
        return child(*a.child)
    a.workdir.mkdir(parents=True, exist_ok=True)
    scene = a.workdir / f"blobs_{a.size}.tif"
    if not scene.exists():
        t = time.perf_counter()
        write_scene(scene, a.size)
        print(f"wrote {scene} in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    run = subprocess.run(
        [sys.executable, __file__, "--child", str(scene), str(a.workdir / "out")],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "size": a.size,
        "peak_rss_mib": round(peak_mib, 1),
        "wall_s": round(wall, 1),
        **json.loads(run.stdout.strip().splitlines()[-1]),
        "machine": platform.processor() or platform.machine(),
        "note": "pointwise stand-in runner; shared 2-core machine",
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result, indent=2))
    dest = Path(__file__).parent / "results" / f"field_memory-{result['date']}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
