"""README command 1, timed: the shipped sample scene mapped with the shipped model's fp32 ONNX
against the shipped bundle's automatic choice, alternating, in one process per run (what a user
waits for: model load and the whole field pipeline).

Each run's landslide mask is scored against the scene's ground truth (the Sichuan set's
LandslideLabel003.png): the automatic choice must keep the IoU within 0.5 points of fp32.

Under scripts/as_avx2.sh (this CPU's AVX-512, VNNI and bf16 hidden, so ONNX Runtime runs its AVX2
kernels) the record says so and its name ends in -as-avx2: the AVX2 kernels' accuracy and their
speed on this machine's cores, which stand in for an AVX2 CPU's timing, not measure it.

Usage: python bench/sample_run.py [--repeats 3] [--truth MASK]
    -> bench/results/sample_run-<checkpoint sha256[:8]>-<CPU kind>[-as-avx2].json
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lnet_edge.cpu_int8 import cpu_kind, cpu_view
from lnet_edge.defaults import DEFAULT_CHECKPOINT, DEFAULT_MODEL_DIR, DEFAULT_ONNX, SAMPLE_SCENE
from lnet_edge.files import sha256_file, write_text_atomic

TRUTH = Path("../shared/data/sichuan_aerial_atlan1024/masks/LandslideLabel003.png")


def iou(out: Path, truth: Path) -> float | None:
    """Landslide IoU of the run's mask against the ground truth, or None without one."""
    if not truth.is_file():
        return None
    import cv2
    import rasterio

    with rasterio.open(next(out.glob("*/*_mask.tif"))) as src:
        pred = src.read(1) == 1
    gt = cv2.imread(str(truth), cv2.IMREAD_GRAYSCALE) > 0
    return round(100 * float((pred & gt).sum() / max((pred | gt).sum(), 1)), 2)


def run(model: Path | None, out: Path) -> tuple[float, dict]:
    args = [sys.executable, "-m", "lnet_edge.cli.main", "infer", str(SAMPLE_SCENE), "-o", str(out)]
    if model is not None:
        args += ["-m", str(model)]
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    seconds = time.perf_counter() - t0
    summary = json.loads(next(out.glob("*/*_summary.json")).read_text())
    return seconds, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--truth", type=Path, default=TRUTH, help="ground-truth mask of the sample scene")
    args = ap.parse_args()
    rows: dict[str, list] = {"fp32 ONNX": [], "bundle, automatic choice": []}
    facts, ious = {}, {name: [] for name in rows}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, model in (("fp32 ONNX", DEFAULT_ONNX), ("bundle, automatic choice", None)):
                folder = Path(tmp) / f"{r}-{len(rows[name])}-{name[:4]}"
                seconds, summary = run(model, folder)
                rows[name].append(round(seconds, 2))
                ious[name].append(iou(folder, args.truth))
                facts[name] = {k: summary.get(k) for k in ("backend", "precision", "choice", "landslide_count",
                                                           "landslide_area_m2", "model_seconds")}  # fmt: skip
    best = {k: min(v) for k, v in rows.items()}
    sha = sha256_file(DEFAULT_CHECKPOINT)
    kind = cpu_kind()
    view = cpu_view()
    iou_gap = (
        None
        if None in ious["fp32 ONNX"] + ious["bundle, automatic choice"]
        else round(max(ious["fp32 ONNX"]) - max(ious["bundle, automatic choice"]), 2)
    )
    record = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python bench/sample_run.py",
        "scene": SAMPLE_SCENE.name,
        "bundle": str(DEFAULT_MODEL_DIR),
        "model_sha256": sha,
        "cpu_kind": kind,
        "cpu_view": view,
        "landslide_iou": ious,
        "iou_points_lost": iou_gap,
        "goals": {"speedup_at_least_1.4": None, "iou_within_0.5": None if iou_gap is None else iou_gap <= 0.5},
        "seconds_per_run": rows,
        "best_seconds": best,
        "speedup": round(best["fp32 ONNX"] / best["bundle, automatic choice"], 2),
        "last_run": facts,
    }
    print(json.dumps(record, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    record["goals"]["speedup_at_least_1.4"] = record["speedup"] >= 1.4
    write_text_atomic(
        args.out / f"sample_run-{sha[:8]}-{kind}{'-as-avx2' if view else ''}.json", json.dumps(record, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
