"""What one training step costs on this CPU, by width and by how it runs: the step `train` takes
(L-Net, AdamW, BCE + Dice, batch 8 of 256 px tiles from the Bijie native training side) in fp32
with contiguous tensors, fp32 channels-last, bf16 autocast + channels-last (`train`'s default
where the CPU has bf16 kernels), and each of the last two through ``torch.compile``.

Medians of STEPS timed steps after WARMUP untimed ones; a compiled row also records its first
call (the compile). Run it on a quiet CPU: another job sharing the cores makes every ratio noise.

Usage: python bench/train_speed.py [--data ../shared/data/bijie_native] [--presets edge-xs edge-s]
    -> bench/results/train_speed-<cpu kind>.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from lnet_edge.config import ModelConfig
from lnet_edge.cpu_int8 import cpu_kind, cpu_view
from lnet_edge.data.readers import list_samples
from lnet_edge.data.split import split_samples
from lnet_edge.files import write_text_atomic
from lnet_edge.machine import cpu_facts
from lnet_edge.model.lnet import LNet
from lnet_edge.train.data import TileDataset
from lnet_edge.train.trainer import bce_dice_loss, bf16_is_fast

WARMUP, STEPS, BATCH = 2, 6, 8
WAYS = {  # name: (channels-last, bf16 autocast, torch.compile)
    "fp32": (False, False, False),
    "fp32 channels-last": (True, False, False),
    "bf16 channels-last": (True, True, False),
    "fp32 channels-last, compiled": (True, False, True),
    "bf16 channels-last, compiled": (True, True, True),
}


def batch(data: Path, config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    samples = split_samples(list_samples(data))[0][:40]
    tiles = TileDataset(samples, config, 0)
    idx = np.random.default_rng(0).choice(len(tiles), BATCH, replace=False)
    return torch.stack([tiles[i][0] for i in idx]), torch.stack([tiles[i][1] for i in idx])


def time_steps(config: ModelConfig, x, y, channels_last: bool, bf16: bool, compiled: bool) -> dict:
    torch.manual_seed(0)
    model = LNet(config).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    step_model = torch.compile(model) if compiled else model
    optim = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4)
    x = x.contiguous(memory_format=fmt)
    seconds = []
    for _ in range(WARMUP + STEPS):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = step_model(x)
        loss = bce_dice_loss(logits.float(), y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        seconds.append(time.perf_counter() - t)
    return {
        "seconds_per_step": round(statistics.median(seconds[WARMUP:]), 3),
        "first_step_seconds": round(seconds[0], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/bijie_native"))
    ap.add_argument("--presets", nargs="+", default=["edge-xs", "edge-s"])
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    fast_bf16 = bf16_is_fast("cpu")
    rows = {}
    for preset in args.presets:
        config = ModelConfig(preset=preset)
        x, y = batch(args.data, config)
        for name, (cl, bf16, compiled) in WAYS.items():
            if bf16 and not fast_bf16:
                continue  # torch's reference bf16 kernels: 4x slower than fp32 (bf16_is_fast)
            r = time_steps(config, x, y, cl, bf16, compiled)
            rows.setdefault(preset, {})[name] = r
            base = rows[preset]["fp32"]["seconds_per_step"]
            print(f"{preset} {name}: {r['seconds_per_step']:.3f} s a step ({base / r['seconds_per_step']:.2f}x fp32), "
                  f"first step {r['first_step_seconds']} s", flush=True)  # fmt: skip
    kind = cpu_kind()
    report = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python bench/train_speed.py",
        "step": f"L-Net, AdamW, BCE + Dice, batch {BATCH} of 256 px, median of {STEPS} after {WARMUP}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_kind": kind,
        "cpu_view": cpu_view(),
        "cpu_model": cpu_facts().get("model"),
        "bf16_kernels": fast_bf16,
        "rows": rows,
        "speedup_vs_fp32": {
            p: {n: round(r["fp32"]["seconds_per_step"] / v["seconds_per_step"], 2) for n, v in r.items()}
            for p, r in rows.items()
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"train_speed-{kind}.json"
    write_text_atomic(path, json.dumps(report, indent=1) + "\n")
    print(path)


if __name__ == "__main__":
    main()
