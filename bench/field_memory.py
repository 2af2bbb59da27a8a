"""Peak resident memory of `lnet-edge infer`'s pipeline on a generated 20000 x 20000 RGB scene.

The scene (landslide-like blobs, UTM 48N, 0.5 m) is written strip by strip; the pipeline then
runs in a child process, with a pointwise stand-in runner by default (every other stage is the
real one: windowed reads, tiling, raised-cosine blending, block-row GeoTIFF writes, streamed
polygons, quicklook) or with a real model (``--model``, ONNX Runtime; minutes per scene on a
small CPU). The child's peak RSS plus its polygon process's (ru_maxrss each) is recorded in
bench/results/field_memory-<size>px[-<model>]-<date>.json.

Usage: python bench/field_memory.py [--size 20000] [--workers 2] [--model MODEL.onnx] [--workdir /tmp/field_memory]
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

from lnet_edge.field.synthetic import write_blob_scene
from lnet_edge.files import write_text_atomic


def child(scene: Path, out: Path, model: str, workers: int) -> None:
    from lnet_edge.config import ModelConfig
    from lnet_edge.field.pipeline import InferOptions, run_scene
    from lnet_edge.field.synthetic import ThresholdRunner
    from lnet_edge.runners.open import open_model

    runner, config = (ThresholdRunner(), ModelConfig()) if model == "-" else open_model(Path(model))
    with runner:
        s = run_scene(
            scene,
            out,
            runner,
            config,
            InferOptions(batch=4 if model != "-" else 8, overwrite=True, workers=workers),
            {},
        )
    keys = ("tiles", "landslide_count", "seconds", "model_seconds", "km2_per_second")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    polygons = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the polygon process, if any
    print(
        json.dumps(
            {
                **{k: s[k] for k in keys},
                "run_peak_rss_mib": round(own, 1),
                "polygon_process_peak_rss_mib": round(polygons, 1),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/field_memory"))
    ap.add_argument("--model", type=Path, help="run this model (ONNX) instead of the pointwise stand-in")
    ap.add_argument("--workers", type=int, default=2, help="the field run's --workers")
    ap.add_argument("--child", nargs=4)
    a = ap.parse_args()
    if a.child:
        return child(Path(a.child[0]), Path(a.child[1]), a.child[2], int(a.child[3]))
    a.workdir.mkdir(parents=True, exist_ok=True)
    scene = a.workdir / f"blobs_{a.size}.tif"
    if not scene.exists():
        t = time.perf_counter()
        write_blob_scene(scene, a.size, a.size)
        print(f"wrote {scene} in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    run = subprocess.run(
        [sys.executable, __file__, "--child", str(scene), str(a.workdir / "out"), str(a.model or "-"), str(a.workers)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    stats = json.loads(run.stdout.strip().splitlines()[-1])
    result = {
        "size": a.size,
        "workers": a.workers,
        # the run's process plus its polygon process, each at its own peak: an upper bound of the total
        "peak_rss_mib": round(stats["run_peak_rss_mib"] + stats["polygon_process_peak_rss_mib"], 1),
        "wall_s": round(wall, 1),
        **stats,
        "machine": platform.processor() or platform.machine(),
        "runner": f"onnxruntime: {a.model.name}" if a.model else "pointwise stand-in",
        "note": "shared 2-core machine",
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result, indent=2))
    tag = f"-{a.model.stem}" if a.model else ""
    dest = Path(__file__).parent / "results" / f"field_memory-{a.size}px{tag}-workers{a.workers}-{result['date']}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(dest, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
