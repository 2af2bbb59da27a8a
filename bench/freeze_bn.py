"""Why fine-tuning keeps the BatchNorm statistics (``train --freeze-bn``): the shipped model
fine-tuned on non-landslide Bijie tiles alone, 30 AdamW steps (lr 3e-4, batch 8, bf16 autocast
where the CPU has it), with BatchNorm in training mode and with it frozen; the share of pixels
marked on 24 of those training scenes (eval mode, threshold 0.5) is recorded every 10 steps.

Usage: python bench/freeze_bn.py [--data ../shared/data/bijie_negatives]
    -> bench/results/freeze_bn.json
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np
import torch

from lnet_edge.config import ModelConfig
from lnet_edge.data.readers import list_samples, read_pair
from lnet_edge.data.split import split_samples
from lnet_edge.defaults import DEFAULT_CHECKPOINT
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import write_text_atomic
from lnet_edge.machine import cpu_facts
from lnet_edge.model.checkpoint import load_model
from lnet_edge.runners.torch import TorchRunner
from lnet_edge.train.data import TileDataset
from lnet_edge.train.trainer import bce_dice_loss, bf16_is_fast

STEPS, SCENES = 30, 24


def marked(model, samples, config) -> float:
    model.eval()
    runner = TorchRunner(model, "cpu").activate()
    return float(np.mean([(predict_logits(runner, read_pair(s, config.bands)[0], config) > 0).mean() for s in samples]))


def run(freeze: bool, samples, scored) -> list[float]:
    torch.manual_seed(0)
    model, ckpt = load_model(DEFAULT_CHECKPOINT)
    config = ModelConfig.from_dict(ckpt["config"])
    tiles = TileDataset(samples, config, 0, negatives=frozenset({samples[0].dataset}))
    optim = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4)
    amp = bf16_is_fast("cpu")
    curve = [marked(model, scored, config)]
    for step in range(STEPS):
        model.eval() if freeze else model.train()  # eval mode: BatchNorm normalises with its running statistics
        idx = np.random.default_rng(step).choice(len(tiles), 8)
        x = torch.stack([tiles[i][0] for i in idx]).contiguous(memory_format=torch.channels_last)
        y = torch.stack([tiles[i][1] for i in idx])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        loss = bce_dice_loss(logits.float(), y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 10 == 9:
            curve.append(marked(model, scored, config))
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/bijie_negatives"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    train = split_samples(list_samples(args.data))[0][:48]
    curves = {name: run(name == "frozen", train, train[:SCENES]) for name in ("training mode", "frozen")}
    report = {
        "what": f"share of pixels marked on {SCENES} training negatives after 0, 10, 20, 30 steps",
        "curves": curves,
        "cpu_flags": cpu_facts().get("flags"),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "freeze_bn.json", json.dumps(report, indent=1))
    for name, c in curves.items():
        print(f"BatchNorm {name}: " + " -> ".join(f"{100 * v:.2f} %" for v in c))


if __name__ == "__main__":
    main()
