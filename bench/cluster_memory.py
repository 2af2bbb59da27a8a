"""Peak memory per worker when ``infer --cluster`` maps one large scene in row bands: a
generated SIZE x SIZE RGB scene (above the 64 Mpx band threshold) on a LocalCluster of 2
single-threaded worker processes, with the shipped fp32 ONNX model. Each worker's peak RSS
(ru_maxrss) is read from the worker after the run. Results: bench/results/cluster_memory.json.

Usage: python bench/cluster_memory.py [--size 9000]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import distributed

    from lnet_edge.field.bands import band_rows  # noqa: F401 - the band layout this measures
    from lnet_edge.field.cluster import BAND_PIXELS, ClusterSpec, band_count, run_on_cluster
    from lnet_edge.field.pipeline import InferOptions
    from lnet_edge.field.request import ModelRequest
    from lnet_edge.field.synthetic import write_blob_scene
    from lnet_edge.files import write_text_atomic

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=9000)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cluster_memory-"))
    scene = write_blob_scene(work / f"blobs_{a.size}.tif", a.size, a.size)
    model = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        t = time.perf_counter()
        (result,) = run_on_cluster(
            [scene],
            work / "out",
            ClusterSpec("tcp", address=cluster.scheduler_address),
            ModelRequest(model=model, threads=1),
            InferOptions(workers=1),
            {},
            say=lambda m: None,
        )
        wall = time.perf_counter() - t
        peaks = client.run(peak_rss_mib)
    assert result.status == "done", result.message
    out = {
        "command": "python bench/cluster_memory.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
        "date": datetime.date.today().isoformat(),
        "scene_px": [a.size, a.size],
        "bands": band_count(scene, BAND_PIXELS),
        "tiles": result.summary["tiles"],
        "wall_s": round(wall, 1),
        "worker_peak_rss_mib": sorted(round(v, 1) for v in peaks.values()),
        "landslide_count": result.summary["landslide_count"],
    }
    write_text_atomic(ROOT / "bench" / "results" / "cluster_memory.json", json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
