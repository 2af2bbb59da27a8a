"""What the threshold trades: validation F1 of each landslide set and false alarms on the
non-landslide scenes' validation side, for every candidate threshold (0.05-0.95), one checkpoint.

Also a core rule (``core_rows``): pixels above LOW kept only in components (8-connected) whose
highest probability reaches HIGH, for the pairs in CORES: a weak blob on a field goes, a scar's
fringe around a confident core stays.

With ``--tta`` every image is scored as the mean of its four flips' logits (``--tta`` of eval and
infer), written beside the plain sweep with a ``-tta`` suffix.

Usage: python bench/threshold_sweep.py [CHECKPOINT] [--root ../shared/data] [--tta]
    -> bench/results/threshold_sweep-<checkpoint sha256[:8]>[-tta].json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from lnet_edge.config import ModelConfig, logit
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
CORES = ((0.4, 0.95), (0.5, 0.9), (0.5, 0.95), (0.5, 0.98), (0.6, 0.98))  # (LOW, HIGH)


def core_marked(prob: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels above ``low`` in components whose highest probability is at least ``high``."""
    above = prob > low
    n, labels = cv2.connectedComponents(above.view(np.uint8), connectivity=8)
    peak = np.zeros(n, np.float32)
    np.maximum.at(peak, labels.ravel(), prob.ravel())
    keep = peak >= high
    keep[0] = False
    return keep[labels]


def _rows(counts: dict, marked: list, labels: list[dict]) -> list[dict]:
    """One row per rule (``labels``: what each column of the counts was made by)."""
    rows = []
    for i, label in enumerate(labels):
        positive = sum(v[i] for k, v in counts.items() if k != NEGATIVE)
        neg = counts[NEGATIVE][i]
        rows.append(
            {
                **label,
                "f1": scores(Confusion(*positive))["f1"],
                **{f"f1_{k}": scores(Confusion(*v[i]))["f1"] for k, v in counts.items() if k != NEGATIVE},
                "negatives_pixels_marked": float(neg[1] / neg.sum()),
                "negatives_images_over_1pct": float(np.mean(np.array(marked)[:, i] > 0.01)),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, nargs="?", default=DEFAULT_CHECKPOINT)
    ap.add_argument("--root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--tta", action="store_true", help="score the mean of the four flips' logits")
    args = ap.parse_args()
    model, ckpt = load_model(args.checkpoint)
    config = ModelConfig.from_dict(ckpt["config"])
    _, val = load_split([args.root / n for n in POSITIVE], config, 0.2, (args.root / NEGATIVE,))
    runner = TorchRunner(model, "cpu").activate()
    counts, marked = {}, []
    for s in val:
        image, mask = read_pair(s, config.bands)
        logits = predict_logits(runner, image, config, tta=args.tta)
        prob = 1 / (1 + np.exp(-logits))
        preds = [logits > logit(t) for t in THRESHOLDS] + [core_marked(prob, *c) for c in CORES]
        c = np.array([_counts(p, mask) for p in preds])
        counts[s.dataset] = counts.get(s.dataset, 0) + c
        if s.dataset == NEGATIVE:
            marked.append(c[:, 1] / mask.size)
    labels = [{"threshold": float(t)} for t in THRESHOLDS] + [{"low": lo, "core": hi} for lo, hi in CORES]
    every = _rows(counts, marked, labels)
    rows, core_rows = every[: len(THRESHOLDS)], every[len(THRESHOLDS) :]
    sha = hashlib.sha256(args.checkpoint.read_bytes()).hexdigest()
    report = {
        "checkpoint": str(args.checkpoint),
        "checkpoint_sha256": sha,
        "side": "val",
        "tta": args.tta,
        "rows": rows,
        "core_rows": core_rows,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"threshold_sweep-{sha[:8]}{'-tta' if args.tta else ''}.json"
    write_text_atomic(path, json.dumps(report, indent=1))
    for r in rows[::2]:
        print(
            f"t {r['threshold']:.3f}: F1 {100 * r['f1']:.1f}, negatives {100 * r['negatives_pixels_marked']:.2f} % "
            f"of pixels, {100 * r['negatives_images_over_1pct']:.1f} % of images"
        )
    for r in core_rows:
        print(
            f"> {r['low']} with a core >= {r['core']}: F1 {100 * r['f1']:.1f}, negatives "
            f"{100 * r['negatives_pixels_marked']:.2f} % of pixels, {100 * r['negatives_images_over_1pct']:.1f} % of images"
        )
    print(path)


if __name__ == "__main__":
    main()
