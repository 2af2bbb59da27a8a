"""How far a threshold (or a core rule) can trade landslides for false alarms: every model given is
run once over the validation side of the four landslide sets and of bijie_negatives, and its
probability maps are scored at several plain thresholds and with hysteresis (pixels above LOW
kept only in components reaching HIGH somewhere).

Reported per rule: F1 over all landslide sets (summed confusion) and per set, and on the
negatives the share of pixels marked and of images with more than 1 % marked: the release
targets of the false-alarm campaign are read against these (validation only, never test).

Usage: python bench/false_alarm_sweep.py MODEL... [--data ../shared/data]
    -> bench/results/false_alarm_sweep-<date>-<CPU kind>.json (one entry per model)
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from lnet_edge.cpu_int8 import cpu_kind
from lnet_edge.data.readers import list_samples, read_pair
from lnet_edge.data.split import split_samples
from lnet_edge.eval.evaluate import to_model_range
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import sha256_file, write_text_atomic
from lnet_edge.runners.open import open_model

SETS = ("bijie_native", "bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024")
NEGATIVES = "bijie_negatives"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
HYSTERESIS = ((0.4, 0.95), (0.5, 0.9), (0.5, 0.95), (0.5, 0.98), (0.6, 0.98))


def probabilities(model: Path, data: Path) -> dict[str, list]:
    """Per set, (probability as uint8 0..255, mask) of every validation image."""
    runner, config = open_model(model)
    maps: dict[str, list] = {}
    with runner:
        for name in (*SETS, NEGATIVES):
            for s in split_samples(list_samples(data / name), 0.2)[1]:
                image, mask = read_pair(s, config.bands)
                logits = predict_logits(runner, to_model_range(image, config), config)
                p = np.rint(255 / (1 + np.exp(-logits))).astype(np.uint8)
                maps.setdefault(name, []).append((p, mask.astype(bool)))
    return maps


def marked(p: np.ndarray, low: float, high: float | None) -> np.ndarray:
    m = p > round(255 * low)
    if high is None:
        return m
    n, labels = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
    if n <= 1:
        return m
    peak = np.zeros(n, np.uint8)
    np.maximum.at(peak, labels.ravel(), p.ravel())
    keep = peak >= round(255 * high)
    keep[0] = False
    return keep[labels]


def score(maps: dict[str, list], low: float, high: float | None) -> dict:
    out, tp, fp, fn = {}, 0, 0, 0
    for name in SETS:
        a = b = c = 0
        for p, m in maps.get(name, []):
            q = marked(p, low, high)
            a, b, c = a + int((q & m).sum()), b + int((q & ~m).sum()), c + int((~q & m).sum())
        out[name] = round(2 * a / max(2 * a + b + c, 1), 4)
        tp, fp, fn = tp + a, fp + b, fn + c
    counts = [(int(marked(p, low, high).sum()), p.size) for p, _ in maps[NEGATIVES]]
    pixels = sum(c for c, _ in counts) / sum(n for _, n in counts)  # over all negative pixels, as eval counts
    over = np.mean([c / n > 0.01 for c, n in counts])
    return {"rule": f"> {low}" + (f", core >= {high}" if high else ""), "f1_all": round(2 * tp / (2 * tp + fp + fn), 4),
            "f1": out, "fa_pixels": round(pixels, 5), "fa_images": round(float(over), 4)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"), help="folder of the result file")
    args = ap.parse_args()
    entries = []
    for model in args.models:
        maps = probabilities(model, args.data)
        rules = [(t, None) for t in THRESHOLDS] + list(HYSTERESIS)
        rows = [score(maps, low, high) for low, high in rules]
        for r in rows:
            print(model.name, r["rule"], r["f1_all"], r["fa_pixels"], r["fa_images"], flush=True)
        entries.append({"model": str(model), "sha256": sha256_file(model), "rows": rows})
    kind, day = cpu_kind(), datetime.date.today().isoformat()
    record = {"date": day, "cpu_kind": kind, "side": "validation", "command": "python bench/false_alarm_sweep.py "
              + " ".join(sys.argv[1:]), "models": entries}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"false_alarm_sweep-{day}-{kind}.json"
    write_text_atomic(dest, json.dumps(record, indent=1) + "\n")
    print(dest)


if __name__ == "__main__":
    main()
