"""The default --change-margin, chosen on validation-side pairs (never the test side that
bench/before_after.py reports): constructed pairs as bench/before_after.py builds them, from the
validation side of each set, mapped once; then the change classes recomputed for each margin and
tolerance from the written probability maps.

Reported per (tolerance, margin): new-landslide IoU against the inpainted scars, and the share of
unchanged ground the single-image map and `new` mark.

Usage: python bench/change_margin.py [--data ../shared/data] [--per-set 8] [--negatives 14]
    -> bench/results/change_margin-<checkpoint sha256[:8]>-<CPU kind>.json
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import rasterio

from lnet_edge.cpu_int8 import cpu_kind
from lnet_edge.defaults import DEFAULT_CHECKPOINT
from lnet_edge.field.change import change_classes, marked_before
from lnet_edge.field.pairing import Grid, Warped
from lnet_edge.files import sha256_file, write_text_atomic

_spec = importlib.util.spec_from_file_location("before_after", Path(__file__).with_name("before_after.py"))
before_after = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(before_after)

MARGINS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
TOLERANCES = (2, 4)


def maps(pair: dict, out: Path) -> tuple:
    """After probability, before probability on the after grid and its validity, in percent."""
    name = pair["after"].stem
    folder = out / name
    with (
        rasterio.open(folder / f"{name}_probability.tif") as a,
        rasterio.open(folder / "before/before_probability.tif") as b,
    ):
        after = a.read(1)
        before, ok = Warped(b, Grid.of(a)).read([1], 0, a.height)
    before = before[..., 0]
    return after, before, ok & (before <= 100)


def sweep(pairs: list[dict], out: Path) -> list[dict]:
    loaded = [(p, *maps(p, out)) for p in pairs]
    rows = []
    for tol in TOLERANCES:
        for margin in MARGINS:
            tp = union = single = new_marked = ground = 0
            for p, ap, bp, bok in loaded:
                aok = ap <= 100
                after = (ap > 50) & aok
                near = marked_before(ap, bp, bok, 50, tol, 100 * margin)
                new = change_classes(after, bp > 50, aok, bok, tol, near) == 1
                unchanged = ~cv2.dilate(p["mask"].astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
                single += int((after & unchanged).sum())
                new_marked += int((new & unchanged).sum())
                ground += int(unchanged.sum())
                if not p["negative"]:
                    tp += int((new & p["mask"]).sum())
                    union += int((new | p["mask"]).sum())
            rows.append({"tolerance_px": tol, "margin": margin, "new_iou": round(tp / max(union, 1), 4),
                         "unchanged_marked_single": round(single / ground, 5),
                         "unchanged_marked_new": round(new_marked / ground, 5),
                         "fewer_marked": round(1 - new_marked / single, 4) if single else None})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--per-set", type=int, default=8)
    ap.add_argument("--negatives", type=int, default=14)
    ap.add_argument("--out", type=Path, default=Path("bench/results"), help="folder of the result file")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        scenes, out = Path(tmp) / "scenes", Path(tmp) / "out"
        scenes.mkdir()
        pairs = before_after.build_pairs(args.data, args.per_set, args.negatives, scenes, rng, side="val")
        before_after.map_pairs(pairs, Path(tmp) / "pairs.csv", out, "--change-margin", "0", quiet=True)
        rows = sweep(pairs, out)
    sha, kind = sha256_file(DEFAULT_CHECKPOINT), cpu_kind()
    record = {
        "date": datetime.date.today().isoformat(),
        "command": "python bench/change_margin.py " + " ".join(sys.argv[1:]),
        "model_sha256": sha,
        "cpu_kind": kind,
        "side": "validation (the test side is bench/before_after.py's)",
        "pairs": len(pairs),
        "landslide_pairs": sum(not p["negative"] for p in pairs),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"change_margin-{sha[:8]}-{kind}.json"
    write_text_atomic(dest, json.dumps(record, indent=1) + "\n")
    print(dest)


if __name__ == "__main__":
    main()
