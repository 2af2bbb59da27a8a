"""Speed of the exported models on this CPU: PyTorch eager fp32 vs ONNX Runtime fp32 / fp16 /
int8 (CPU u8s8 and TensorRT-oriented QDQ), batch 1, 256 x 256, the shipped default model.

Targets: ORT fp32 >= 1.5x PyTorch eager fp32, and the CPU int8
model >= 1.5x ORT fp32 with the accuracy gate passed. The int8 models come from the real
calibration pipeline (calibration_from_onnx), so the gate verdict is recorded with the timings.

Runs cycle through the backends in short blocks so that load from other processes on a shared
machine hits every backend alike; medians are reported.

    python bench/export_speed.py --data ../shared/data [--rounds 40] [--threads 2] [--machine NAME]

Writes bench/results/export_speed-<machine>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RGB_SETS = ("bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def cpu_info() -> dict:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = text.splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor())
    flags = next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), [])
    return {"model": model, "logical_cpus": os.cpu_count(), "flags": [f for f in FLAGS if f in flags]}


def build_models(checkpoint: Path, data: list[Path], tmp: Path) -> tuple[dict[str, Path], dict]:
    from lnet_edge.calibration.pipeline import (
        CalibrateOptions,
        artifact_paths,
        calibration_from_onnx,
    )
    from lnet_edge.export.fp16 import fp16_from_onnx
    from lnet_edge.export.onnx_export import onnx_from_checkpoint

    fp32 = onnx_from_checkpoint(checkpoint, tmp / "lnet-edge-s.onnx", data)
    fp16 = fp16_from_onnx(fp32, tmp / "lnet-edge-s.fp16.onnx", data)
    report = calibration_from_onnx(fp32, tmp, data, fp16=fp16, options=CalibrateOptions())
    paths = artifact_paths(fp32, tmp)
    return {
        "ort-fp32": fp32,
        "ort-fp16": fp16,
        "ort-int8-cpu": paths["int8-cpu"],
        "ort-int8-qdq": paths["int8-qdq"],
    }, report["gate"]


def runners(checkpoint: Path, models: dict[str, Path], threads: int) -> dict:
    import onnxruntime as ort
    import torch

    from lnet_edge.model.checkpoint import load_model

    torch.set_num_threads(threads)
    net, _ = load_model(checkpoint)
    x = np.random.default_rng(0).standard_normal((1, 3, 256, 256)).astype(np.float32)
    xt = torch.from_numpy(x)

    def torch_eager():
        with torch.inference_mode():
            net(xt)

    fns = {"torch-eager-fp32": torch_eager}
    for name, path in models.items():
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        fns[name] = ort_call(sess, x)
    return fns


def ort_call(sess, x: np.ndarray):
    return lambda: sess.run(None, {"image": x})


def timed(fns: dict, rounds: int, block: int = 10, warmup: int = 3) -> dict[str, dict]:
    """``rounds`` runs per backend, in blocks of ``block`` after ``warmup`` untimed runs,
    cycling through the backends. Blocks (not one call each) because each runtime's worker
    threads spin for a while after a call and would steal the cores from the next backend."""
    times = {k: [] for k in fns}
    for _ in range(max(1, rounds // block)):
        for name, fn in fns.items():
            for r in range(warmup + block):
                t = time.perf_counter()
                fn()
                if r >= warmup:
                    times[name].append(1000 * (time.perf_counter() - t))
    return {
        k: {"median_ms": float(np.median(v)), "p90_ms": float(np.percentile(v, 90)), "min_ms": float(np.min(v))}
        for k, v in times.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--machine", default=platform.node() or "unknown")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.files import sha256_file

    checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    data = [args.data / s for s in RGB_SETS]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        models, gate = build_models(checkpoint, data, Path(tmp))
        results = timed(runners(checkpoint, models, args.threads), args.rounds)
    med = {k: v["median_ms"] for k, v in results.items()}
    ratios = {
        "ort_fp32_vs_torch_eager": med["torch-eager-fp32"] / med["ort-fp32"],
        "ort_int8_cpu_vs_ort_fp32": med["ort-fp32"] / med["ort-int8-cpu"],
        "ort_int8_qdq_vs_ort_fp32": med["ort-fp32"] / med["ort-int8-qdq"],
        "ort_fp16_vs_ort_fp32": med["ort-fp32"] / med["ort-fp16"],
    }
    targets = {
        "ort_fp32_vs_torch_eager >= 1.5": ratios["ort_fp32_vs_torch_eager"] >= 1.5,
        "ort_int8_cpu_vs_ort_fp32 >= 1.5 with gate passed": ratios["ort_int8_cpu_vs_ort_fp32"] >= 1.5
        and gate["int8-cpu"]["passed"],
    }
    import onnxruntime
    import torch

    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": args.machine,
        "cpu": cpu_info(),
        "threads": args.threads,
        "rounds": args.rounds,
        "input": "batch 1, 3 x 256 x 256, lnet edge-s RGB",
        "checkpoint": {"path": str(checkpoint), "sha256": sha256_file(checkpoint)},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "latency": results,
        "speedups": ratios,
        "targets_met": targets,
        "accuracy_gate": {k: {m: v[m] for m in ("iou", "f1", "flip_rate", "passed")} for k, v in gate.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"export_speed-{args.machine}"
    Path(f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    Path(f"{stem}.md").write_text(markdown(record))
    print(markdown(record))


def markdown(r: dict) -> str:
    cpu = (
        f"CPU: {r['cpu']['model']}, {r['cpu']['logical_cpus']} logical CPUs, flags: {' '.join(r['cpu']['flags'])}; "
        f"{r['threads']} threads; {r['input']} (checkpoint sha256 {r['checkpoint']['sha256'][:12]}); "
        f"{r['rounds']} runs each, in blocks of 10 cycling through the backends."
    )
    load = (
        f"Load average before/after: {r['load_average_before']} / {r['load_average_after']} (shared machine: "
        "other jobs ran at the same time)."
    )
    lines = [
        f"# Export speed on {r['machine']}",
        "",
        cpu,
        load,
        "",
        f"Command: `{r['command']}`",
        "",
        "| backend | median ms | p90 ms | min ms |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {v['median_ms']:.1f} | {v['p90_ms']:.1f} | {v['min_ms']:.1f} |" for k, v in r["latency"].items()
    ]
    lines += ["", "| speed-up | x |", "|---|---|", *(f"| {k} | {v:.2f} |" for k, v in r["speedups"].items())]
    lines += ["", "| target | met |", "|---|---|", *(f"| {k} | {v} |" for k, v in r["targets_met"].items())]
    lines += [
        "",
        "Accuracy gate (validation tiles, ONNX Runtime CPU):",
        "",
        "| model | IoU | F1 | flip rate | passed |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {k} | {100 * v['iou']:.2f} | {100 * v['f1']:.2f} | {100 * v['flip_rate']:.3f} % | {v['passed']} |"
        for k, v in r["accuracy_gate"].items()
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
