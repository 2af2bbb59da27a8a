"""``infer --cluster`` on this machine: 8 scenes (copies of the shipped sample scene) mapped with
the shipped fp32 ONNX model, one ONNX Runtime thread per worker, by the in-process run, by
``--cluster local:1`` and by ``--cluster local:2`` (single-threaded worker processes).

Two times per row: end to end (cluster start and stop included) and the scene phase (from the
first task to the last result, run_summary.json's ``seconds``; in process: the mapping loop).
Results: bench/results/cluster_scaling.{json,md}.

Usage: python bench/cluster_scaling.py [--scenes 8]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from lnet_edge.defaults import SAMPLE_SCENE
    from lnet_edge.field.cluster import RUN_SUMMARY, ClusterSpec, run_on_cluster
    from lnet_edge.field.pipeline import InferOptions, run_scenes
    from lnet_edge.field.request import ModelRequest
    from lnet_edge.files import write_text_atomic
    from lnet_edge.runners.open import open_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=8)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cluster_scaling-"))
    scenes = []
    for i in range(a.scenes):
        scenes.append(work / "scenes" / f"scene{i}.tif")
        scenes[-1].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_SCENE, scenes[-1])
    model = ROOT / "lnet_edge" / "assets" / "default" / "lnet-edge-s.onnx"
    options = InferOptions(workers=1)  # one thread of field work per scene, like one single-threaded worker
    rows = []
    t = time.perf_counter()
    runner, config = open_model(model, threads=1)
    with runner:
        t1 = time.perf_counter()
        results = run_scenes(scenes, work / "inprocess", runner, config, options, {"model": str(model)})
        phase = time.perf_counter() - t1
    rows.append({"run": "in process", "end_to_end_s": time.perf_counter() - t, "scene_phase_s": phase})
    assert all(r.status == "done" for r in results)
    for n in (1, 2):
        out = work / f"local{n}"
        t = time.perf_counter()
        results = run_on_cluster(
            scenes,
            out,
            ClusterSpec("local", workers=n),
            ModelRequest(model=model, threads=1),
            options,
            {},
            say=lambda m: None,
        )
        total = time.perf_counter() - t
        assert all(r.status == "done" for r in results)
        phase = json.loads((out / RUN_SUMMARY).read_text())["seconds"]
        rows.append({"run": f"--cluster local:{n}", "end_to_end_s": total, "scene_phase_s": phase})
    for r in rows:
        r["end_to_end_s"], r["scene_phase_s"] = round(r["end_to_end_s"], 2), round(r["scene_phase_s"], 2)
    ratios = {
        "local2_vs_local1_scene_phase": round(rows[1]["scene_phase_s"] / rows[2]["scene_phase_s"], 2),
        "local2_vs_local1_end_to_end": round(rows[1]["end_to_end_s"] / rows[2]["end_to_end_s"], 2),
        "local1_overhead_vs_in_process_scene_phase": round(rows[1]["scene_phase_s"] / rows[0]["scene_phase_s"] - 1, 3),
        "local1_overhead_vs_in_process_end_to_end": round(rows[1]["end_to_end_s"] / rows[0]["end_to_end_s"] - 1, 3),
    }
    result = {
        "command": "python bench/cluster_scaling.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
        "date": datetime.date.today().isoformat(),
        "scenes": a.scenes,
        "rows": rows,
        **ratios,
    }
    dest = ROOT / "bench" / "results" / "cluster_scaling.json"
    write_text_atomic(dest, json.dumps(result, indent=2) + "\n")
    lines = [f"Command: `{result['command']}` on {result['machine']}, {result['date']}, {a.scenes} scenes", ""]
    lines += ["| run | end to end s | scene phase s |", "|---|---|---|"]
    lines += [f"| {r['run']} | {r['end_to_end_s']} | {r['scene_phase_s']} |" for r in rows]
    lines += ["", *(f"- {k}: {v}" for k, v in ratios.items())]
    write_text_atomic(dest.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
