"""What resolution matching and test-time augmentation buy, on held-out images with ground truth.

1. GSD: the Bijie native test quarter (0.8 m) and the Sichuan validation images (taken as 0.5 m)
   downsampled 3x and 5x with their masks (area resampling; a mask pixel is landslide when at
   least half of it was), scored as they are (``--gsd none``) and resampled to the model's
   training GSD (``--gsd auto``, the default).
2. TTA: the same images at native resolution without and with the four flips: IoU and seconds.

Usage: python bench/gsd_tta.py [--model lnet_edge/assets/default/lnet-edge-s.onnx] [--data ../shared/data]
Writes bench/results/gsd_tta.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import cv2
import numpy as np

from lnet_edge.config import logit
from lnet_edge.data.readers import Sample, list_samples, read_pair
from lnet_edge.data.split import split_samples, split_test
from lnet_edge.eval.metrics import Confusion, confusion, scores
from lnet_edge.eval.predict import predict_logits
from lnet_edge.field.resolution import resample_factor
from lnet_edge.files import write_text_atomic
from lnet_edge.runners.open import open_model

SETS = {"bijie_native": 0.8, "sichuan_aerial_atlan1024": 0.5}  # metres per pixel, approximately


def held_out(data: Path) -> list[tuple[Sample, float]]:
    native = split_test(list_samples(data / "bijie_native"))[1]
    sichuan = split_samples(list_samples(data / "sichuan_aerial_atlan1024"))[1]
    return [(s, SETS["bijie_native"]) for s in native] + [(s, SETS["sichuan_aerial_atlan1024"]) for s in sichuan]


def downsample(image: np.ndarray, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k == 1:
        return image, mask
    h, w = max(1, image.shape[0] // k), max(1, image.shape[1] // k)
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    small = small[:, :, None] if small.ndim == 2 else small
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
    return small, m.astype(np.uint8)


def score(runner, config, items, k: int, gsd: str, tta: bool = False) -> dict:
    logit_t = logit(config.threshold)
    total, t0 = Confusion(), time.perf_counter()
    for sample, metres in items:
        image, mask = downsample(*read_pair(sample, config.bands), k)
        factor, _ = resample_factor(metres * k, config, gsd)
        total = total + confusion(predict_logits(runner, image, config, factor, tta) > logit_t, mask)
    s = scores(total)
    return {"downsampled": k, "gsd": gsd, "tta": tta, "iou": round(s["iou"], 4), "f1": round(s["f1"], 4),
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("lnet_edge/assets/default/lnet-edge-s.onnx"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    runner, config = open_model(args.model, threads=2)
    items = held_out(args.data)
    rows = []
    with runner:
        for k in (1, 3, 5):
            for gsd in ("none", "auto") if k > 1 else ("none",):
                rows.append(score(runner, config, items, k, gsd))
                print(rows[-1], flush=True)
        rows.append(score(runner, config, items, 1, "none", tta=True))
        print(rows[-1], flush=True)
    record = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": f"python bench/gsd_tta.py --model {args.model}",
        "model_gsd_m": config.gsd,
        "threshold": config.threshold,
        "images": {
            "bijie_native test quarter": sum(m == 0.8 for _, m in items),
            "sichuan validation": sum(m == 0.5 for _, m in items),
        },
        "machine": "2-core x86 CPU, ONNX Runtime CPU, 2 threads",
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "gsd_tta.json", json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
