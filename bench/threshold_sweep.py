"""What the threshold trades: validation F1 of each landslide set and false alarms on the
non-landslide scenes' validation side, for every candidate threshold (0.05-0.95), one checkpoint.

Usage: python bench/threshold_sweep.py [CHECKPOINT] [--root ../shared/data]
    -> bench/results/threshold_sweep-<checkpoint sha256[:8]>.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.readers import read_pair
from lnet_edge.defaults import DEFAULT_CHECKPOINT
from lnet_edge.eval.metrics import Confusion, scores
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import write_text_atomic
from lnet_edge.model.checkpoint import load_model
from lnet_edge.runners.torch import TorchRunner
from lnet_edge.train.data import load_split
from lnet_edge.train.trainer import THRESHOLDS, _counts

POSITIVE = ("bijie_native", "bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")
NEGATIVE = "bijie_negatives"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, nargs="?", default=DEFAULT_CHECKPOINT)
    ap.add_argument("--root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    model, ckpt = load_model(args.checkpoint)
    config = ModelConfig.from_dict(ckpt["config"])
    _, val = load_split([args.root / n for n in POSITIVE], config, 0.2, (args.root / NEGATIVE,))
    runner = TorchRunner(model, "cpu").activate()
    counts, marked = {}, []
    for s in val:
        image, mask = read_pair(s, config.bands)
        logits = predict_logits(runner, image, config)
        c = np.array([_counts(logits > math.log(t / (1 - t)), mask) for t in THRESHOLDS])
        counts[s.dataset] = counts.get(s.dataset, 0) + c
        if s.dataset == NEGATIVE:
            marked.append(c[:, 1] / mask.size)
    rows = []
    for i, t in enumerate(THRESHOLDS):
        positive = sum(v[i] for k, v in counts.items() if k != NEGATIVE)
        neg = counts[NEGATIVE][i]
        rows.append(
            {
                "threshold": float(t),
                "f1": scores(Confusion(*positive))["f1"],
                **{f"f1_{k}": scores(Confusion(*v[i]))["f1"] for k, v in counts.items() if k != NEGATIVE},
                "negatives_pixels_marked": float(neg[1] / neg.sum()),
                "negatives_images_over_1pct": float(np.mean(np.array(marked)[:, i] > 0.01)),
            }
        )
    sha = hashlib.sha256(args.checkpoint.read_bytes()).hexdigest()
    report = {
        "checkpoint": str(args.checkpoint),
        "checkpoint_sha256": sha,
        "side": "val",
        "rows": rows,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"threshold_sweep-{sha[:8]}.json"
    write_text_atomic(path, json.dumps(report, indent=1))
    for r in rows[::2]:
        print(
            f"t {r['threshold']:.3f}: F1 {100 * r['f1']:.1f}, negatives {100 * r['negatives_pixels_marked']:.2f} % "
            f"of pixels, {100 * r['negatives_images_over_1pct']:.1f} % of images"
        )
    print(path)


if __name__ == "__main__":
    main()
