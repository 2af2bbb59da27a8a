"""PyTorch eager fp32/fp16 on a CUDA GPU: the GPU baseline for the same weights as every other
backend. Latency percentiles after an excluded warm-up, compute-only (input already on the
device) and with host-device copies, at a sweep of batch sizes, 256x256 tiles.

Usage: python bench/torch_gpu.py CHECKPOINT OUT.json [--runs 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from lnet_edge.model.checkpoint import load_model


def _time(fn, runs: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--tile", type=int, default=256)
    args = ap.parse_args()
    model, _ = load_model(args.checkpoint)
    props = torch.cuda.get_device_properties(0)
    rows = []
    for precision, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        net = model.to("cuda", dtype=dtype).eval()
        for batch in (1, 8, 32):
            host = np.random.default_rng(0).standard_normal((batch, 3, args.tile, args.tile), dtype=np.float32)
            dev = torch.from_numpy(host).to("cuda", dtype=dtype)
            with torch.inference_mode():
                compute = _time(lambda net=net, dev=dev: net(dev), args.runs)
                copies = _time(
                    lambda net=net, host=host, dtype=dtype: (
                        net(torch.from_numpy(host).to("cuda", dtype=dtype)).float().cpu()
                    ),
                    args.runs,
                )
            for mode, ms in (("compute", compute), ("with_copies", copies)):
                p50, p90, p99 = np.percentile(ms, [50, 90, 99])
                rows.append(
                    {
                        "backend": "torch-cuda",
                        "precision": precision,
                        "batch": batch,
                        "tile": args.tile,
                        "mode": mode,
                        "runs": args.runs,
                        "p50_ms": p50,
                        "p90_ms": p90,
                        "p99_ms": p99,
                        "mean_ms": float(np.mean(ms)),
                        "tiles_per_s": batch * 1e3 / float(np.mean(ms)),
                    }
                )
    result = {
        "gpu": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "host": platform.processor() or platform.machine(),
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20,
        "results": rows,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    for r in rows:
        print(
            f"{r['precision']} b{r['batch']:>2} {r['mode']:<11} p50 {r['p50_ms']:.2f} ms  {r['tiles_per_s']:.0f} tiles/s"
        )


if __name__ == "__main__":
    main()
