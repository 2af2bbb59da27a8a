"""Can the codec be the cue? The non-landslide training scenes (bijie_negatives) are lossy WebP
q95 and every landslide image is lossless, so a model could learn "WebP means no landslide".
This scores the Bijie native test quarter as it is and re-encoded as WebP q95 (OpenCV, as the
negatives were written), with the same model, threshold and metric: F1 should stay within 1 point.

Usage: python bench/codec_check.py [-m MODEL] [--data ../shared/data/bijie_native]
    -> bench/results/codec_check-<model sha256[:8]>.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import tempfile
from pathlib import Path

import cv2

from lnet_edge.data.readers import Sample, list_samples
from lnet_edge.data.split import split_test
from lnet_edge.defaults import DEFAULT_ONNX
from lnet_edge.eval.evaluate import evaluate
from lnet_edge.files import write_text_atomic
from lnet_edge.runners.open import open_model

QUALITY = 95


def recoded(samples: list[Sample], folder: Path) -> list[Sample]:
    """Copies of ``samples`` whose images went through WebP at QUALITY (masks unchanged)."""
    out = []
    for s in samples:
        path = folder / f"{s.image.stem}.webp"
        ok = cv2.imwrite(str(path), cv2.imread(str(s.image), cv2.IMREAD_COLOR), [cv2.IMWRITE_WEBP_QUALITY, QUALITY])
        if not ok:
            raise SystemExit(f"OpenCV could not write {path}")
        out.append(Sample(s.dataset, path, s.mask))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", type=Path, default=DEFAULT_ONNX)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/bijie_native"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    args = ap.parse_args()
    test = split_test(list_samples(args.data))[1]
    runner, config = open_model(args.model)
    rows = {}
    with runner, tempfile.TemporaryDirectory() as tmp:
        for name, samples in (("lossless", test), (f"webp q{QUALITY}", recoded(test, Path(tmp)))):
            o = evaluate(runner, config, samples)["overall"]
            rows[name] = {k: o[k] for k in ("precision", "recall", "f1", "iou")}
    sha = hashlib.sha256(args.model.read_bytes()).hexdigest()
    drop = 100 * (rows["lossless"]["f1"] - rows[f"webp q{QUALITY}"]["f1"])
    report = {
        "model": str(args.model),
        "model_sha256": sha,
        "data": str(args.data),
        "side": "test",
        "images": len(test),
        "threshold": config.threshold,
        "scores": rows,
        "f1_drop_points": drop,
        "goal": "F1 drop within 1 point",
        "met": abs(drop) <= 1.0,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"codec_check-{sha[:8]}.json"
    write_text_atomic(path, json.dumps(report, indent=1))
    print(json.dumps(rows, indent=1), f"\nF1 drop {drop:+.2f} points -> {path}")


if __name__ == "__main__":
    main()
