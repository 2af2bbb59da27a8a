"""Field-run throughput outside the model: the pipelined run (``--workers 1`` and ``2``) against
the sequential run of an earlier commit, all with the pointwise stand-in runner (every stage but
the network is real), on the shipped sample scene and a generated 10000 x 10000 scene.

Each configuration runs in a fresh child process: one warm-up pass, then ``--repeats`` passes;
the median wall time gives scene megapixels/s and tiles/s (each commit at its own default field
tile: 256 px before 512), and the CPU seconds of all threads and the polygon process. The
stand-in is the same float32 one in every row. The earlier commit is checked out into a
temporary git worktree, so all rows come from one run on one machine. Results:
bench/results/field_pipeline.{json,md}.

Usage: python bench/field_pipeline.py [--baseline 4676218] [--size 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from lnet_edge.config import ModelConfig
from lnet_edge.field.pipeline import InferOptions, run_scene
from lnet_edge.field.synthetic import ThresholdRunner
import numpy as np

def stand_in(self, feed):  # the same stand-in in every row, whichever commit runs: float32, one pass
    self.calls += 1
    return {"logits": np.where(feed["image"][:, :1] > 0, np.float32(10), np.float32(-10))}

ThresholdRunner.infer_impl = stand_in

def cpu():  # user + system seconds of this process and its finished children (the polygon process)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

def main():
    scene, out, workers, repeats = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    kw = {} if workers == "-" else {"workers": int(workers)}
    options = InferOptions(batch=8, overwrite=True, **kw)
    walls, cpus = [], []
    with ThresholdRunner() as runner:
        for i in range(repeats + 1):
            t, c = time.perf_counter(), cpu()
            s = run_scene(scene, out, runner, ModelConfig(), options, {})
            if i:
                walls.append(time.perf_counter() - t)
                cpus.append(cpu() - c)
    print(json.dumps({"walls": walls, "cpus": cpus, "tiles": s["tiles"], "polygons": s["landslide_count"], "mpx": s["height"] * s["width"] / 1e6}))

if __name__ == "__main__":
    main()
"""


def run_child(code: Path, scene: Path, out: Path, workers: str, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(scene), str(out), workers, str(repeats)],
        cwd=code,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from lnet_edge.defaults import SAMPLE_SCENE
    from lnet_edge.field.synthetic import write_blob_scene
    from lnet_edge.files import write_text_atomic

    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="4676218", help="the commit of the sequential run to compare with")
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "field_pipeline")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    big = a.workdir / f"blobs_{a.size}.tif"
    if not big.exists():
        write_blob_scene(big, a.size, a.size)
    base = a.workdir / f"baseline-{a.baseline}"
    if not base.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(base), a.baseline], cwd=ROOT, check=True)
    rows = []
    for scene in (Path(SAMPLE_SCENE), big):
        for label, code, workers in (
            (f"sequential ({a.baseline})", base, "-"),
            ("pipelined, --workers 1", ROOT, "1"),
            ("pipelined, --workers 2", ROOT, "2"),
        ):
            t = time.perf_counter()
            r = run_child(code, scene, a.workdir / "out", workers, a.repeats)
            wall = statistics.median(r["walls"])
            rows.append(
                {
                    "scene": scene.name,
                    "run": label,
                    "tiles": r["tiles"],
                    "polygons": r["polygons"],
                    "median_s": round(wall, 3),
                    "seconds": [round(w, 3) for w in r["walls"]],
                    "cpu_s": round(statistics.median(r["cpus"]), 3),  # all threads and the polygon process
                    "tiles_per_s": round(r["tiles"] / wall, 1),
                    "mpx_per_s": round(r["mpx"] / wall, 2),
                }
            )
            print(rows[-1], f"({time.perf_counter() - t:.0f} s)", flush=True)
    for scene in {r["scene"] for r in rows}:
        mine = [r for r in rows if r["scene"] == scene]
        for r in mine:
            r["vs_sequential"] = round(mine[0]["median_s"] / r["median_s"], 2)  # same scene: wall-time ratios
            r["vs_workers_1"] = round(mine[1]["median_s"] / r["median_s"], 2)
    result = {
        "what": "the whole field run with a pointwise stand-in runner (the model's cost ~0): scene megapixels/s "
        "and tiles/s (each commit at its own default field tile); ratios are of wall times",
        "command": "python bench/field_pipeline.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
        "date": datetime.date.today().isoformat(),
        "rows": rows,
    }
    dest = ROOT / "bench" / "results" / "field_pipeline.json"
    write_text_atomic(dest, json.dumps(result, indent=2) + "\n")
    lines = [
        f"Command: `{result['command']}` on {result['machine']}, {result['date']}",
        "",
        "| scene | run | tiles | median s | CPU s | scene Mpx/s | tiles/s | vs sequential | vs --workers 1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['scene']} | {r['run']} | {r['tiles']} | {r['median_s']} | {r['cpu_s']} | {r['mpx_per_s']} | {r['tiles_per_s']} | "
        f"{r['vs_sequential']}x | {r['vs_workers_1']}x |"
        for r in rows
    ]
    write_text_atomic(dest.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
