"""README command 1, timed: the shipped sample scene mapped with the shipped model's fp32 ONNX
against the shipped bundle's automatic choice, alternating, in one process per run (what a user
waits for: model load and the whole field pipeline).

Usage: python bench/sample_run.py [--repeats 3]   -> bench/results/sample_run.json
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

from lnet_edge.defaults import DEFAULT_MODEL_DIR, DEFAULT_ONNX, SAMPLE_SCENE
from lnet_edge.files import write_text_atomic


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
    args = ap.parse_args()
    rows: dict[str, list] = {"fp32 ONNX": [], "bundle, automatic choice": []}
    facts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, model in (("fp32 ONNX", DEFAULT_ONNX), ("bundle, automatic choice", None)):
                seconds, summary = run(model, Path(tmp) / f"{r}-{len(rows[name])}-{name[:4]}")
                rows[name].append(round(seconds, 2))
                facts[name] = {k: summary.get(k) for k in ("backend", "precision", "choice", "landslide_count",
                                                           "landslide_area_m2", "model_seconds")}  # fmt: skip
    best = {k: min(v) for k, v in rows.items()}
    record = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python bench/sample_run.py",
        "scene": SAMPLE_SCENE.name,
        "bundle": str(DEFAULT_MODEL_DIR),
        "seconds_per_run": rows,
        "best_seconds": best,
        "speedup": round(best["fp32 ONNX"] / best["bundle, automatic choice"], 2),
        "last_run": facts,
    }
    print(json.dumps(record, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "sample_run.json", json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
