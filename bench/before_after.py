"""Does the before scene take the false alarms away? Constructed before/after pairs from real
scenes with ground truth, mapped by `lnet-edge infer --pairs`.

No public pre/post-event pair at these resolutions is at hand, so the pairs are built:
- the after scene is a held-out image as it is, given an illustrative UTM georeference at its
  set's pixel size;
- for a landslide image, the before scene is the same image with its landslide pixels (dilated
  by 3 px) inpainted (OpenCV Telea), so the event "made" exactly the ground-truth scars;
- for a non-landslide image (bijie_negatives), the before scene is the same image: unchanged
  ground, where every pixel marked `new` is a false alarm;
- every before scene gets a colour change (per-band gain and offset) and a georeference off by
  1-3 m in a seeded random direction (a misregistration); every other one is also resampled to a
  1.25x coarser pixel, so the warp onto the after grid is exercised.

Reported: `new` IoU against the ground truth beside the single-image map's IoU on the after
scene; the share of unchanged ground marked by the single-image map and by `new` (the goal:
`new` marks at least 80 % fewer); the shift estimate's error in metres.

Usage: python bench/before_after.py [--data ../shared/data] [--per-set 6] [--negatives 12]
    -> bench/results/before_after-<checkpoint sha256[:8]>-<CPU kind>.json
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import Affine

from lnet_edge.data.readers import list_samples, read_mask
from lnet_edge.data.split import split_samples, split_test
from lnet_edge.files import write_text_atomic

SETS = {  # folder -> pixel size (m) given to its scenes; which held-out side is used
    "bijie_native": (0.8, "test"),
    "sichuan_aerial_atlan1024": (0.5, "val"),
    "cas_hokkaido_iburi_atlan512": (3.0, "val"),
}
NEGATIVES = ("bijie_negatives", 0.8)
CRS = "EPSG:32648"
GAIN, OFFSET = np.array([0.92, 0.97, 1.06]), np.array([6.0, 3.0, -4.0])  # the before scene's colour change


def held_out(folder: Path, side: str, n: int) -> list:
    samples = list_samples(folder)
    chosen = split_test(samples)[1] if side == "test" else split_samples(split_test(samples)[0], 0.2)[1]
    step = max(len(chosen) // n, 1)
    return chosen[::step][:n]


def write_geotiff(path: Path, rgb: np.ndarray, transform: Affine) -> None:
    profile = {"driver": "GTiff", "width": rgb.shape[1], "height": rgb.shape[0], "count": 3, "dtype": "uint8",
               "crs": CRS, "transform": transform}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.moveaxis(rgb, -1, 0))


def make_pair(sample, pixel: float, index: int, folder: Path, negative: bool, rng) -> dict:
    """Write after.tif and before.tif for one sample; return what was built."""
    rgb = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)[:, :, ::-1]
    mask = read_mask(sample.mask) > 0
    origin = (500000.0 + 10000.0 * index, 3500000.0)
    after = folder / f"{index:03d}_{sample.image.stem}_after.tif"
    write_geotiff(after, np.ascontiguousarray(rgb), Affine(pixel, 0, origin[0], 0, -pixel, origin[1]))
    before_rgb = rgb.copy()
    if not negative and mask.any():
        hole = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8))
        before_rgb = cv2.inpaint(np.ascontiguousarray(rgb), hole, 7, cv2.INPAINT_TELEA)
    before_rgb = np.clip(before_rgb * GAIN + OFFSET, 0, 255).astype(np.uint8)
    coarse = index % 2 == 1
    before_pixel = pixel
    if coarse:
        size = (round(rgb.shape[1] / 1.25), round(rgb.shape[0] / 1.25))
        before_rgb = cv2.resize(before_rgb, size, interpolation=cv2.INTER_AREA)
        before_pixel = pixel * rgb.shape[1] / size[0]
    length, angle = rng.uniform(1.0, 3.0), rng.uniform(0, 2 * np.pi)
    east, north = length * np.cos(angle), length * np.sin(angle)
    before = folder / f"{index:03d}_{sample.image.stem}_before.tif"
    t = Affine(before_pixel, 0, origin[0] + east, 0, -before_pixel, origin[1] + north)
    write_geotiff(before, np.ascontiguousarray(before_rgb), t)
    return {"set": sample.dataset, "image": sample.image.name, "after": after, "before": before, "mask": mask,
            "negative": negative, "pixel_m": pixel, "shift_east_m": east, "shift_north_m": north}  # fmt: skip


def score(pair: dict, out: Path) -> dict:
    """The pair's figures from its output folder."""
    name = pair["after"].stem
    folder = out / name
    summary = json.loads((folder / f"{name}_change_summary.json").read_text())
    with rasterio.open(folder / f"{name}_mask.tif") as src:
        single = src.read(1) == 1
    with rasterio.open(folder / f"{name}_change.tif") as src:
        new = src.read(1) == 1
    truth = pair["mask"]
    unchanged = ~cv2.dilate(truth.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    est = summary["shift"]
    row = {k: pair[k] for k in ("set", "image", "negative", "pixel_m")}
    row |= {
        "single_marked_unchanged": int((single & unchanged).sum()),
        "new_marked_unchanged": int((new & unchanged).sum()),
        "unchanged_pixels": int(unchanged.sum()),
        "shift_error_m": float(np.hypot(est["east_m"] - pair["shift_east_m"], est["north_m"] - pair["shift_north_m"])),
    }
    if not pair["negative"]:
        for key, pred in (("single", single), ("new", new)):
            row[f"{key}_tp"] = int((pred & truth).sum())
            row[f"{key}_union"] = int((pred | truth).sum())
    return row


def summarise(rows: list[dict]) -> dict:
    pos = [r for r in rows if not r["negative"]]

    def iou(key):
        return sum(r[f"{key}_tp"] for r in pos) / max(sum(r[f"{key}_union"] for r in pos), 1)

    ground = sum(r["unchanged_pixels"] for r in rows)
    single = sum(r["single_marked_unchanged"] for r in rows) / ground
    new = sum(r["new_marked_unchanged"] for r in rows) / ground
    errors = np.array([r["shift_error_m"] for r in rows])
    by_set = {}
    for name in sorted({r["set"] for r in pos}):
        part = [r for r in pos if r["set"] == name]
        by_set[name] = {
            key: round(sum(r[f"{key}_tp"] for r in part) / max(sum(r[f"{key}_union"] for r in part), 1), 4)
            for key in ("new", "single")
        }
    return {
        "iou_by_set": by_set,
        "pairs": len(rows),
        "landslide_pairs": len(pos),
        "new_iou": round(iou("new"), 4),
        "single_image_iou": round(iou("single"), 4),
        "unchanged_marked_single": round(single, 5),
        "unchanged_marked_new": round(new, 5),
        "fewer_marked": round(1 - new / single, 4) if single else None,
        "goal_80_percent_fewer_met": bool(single and 1 - new / single >= 0.8),
        "shift_error_m_median": round(float(np.median(errors)), 3),
        "shift_error_m_max": round(float(errors.max()), 3),
    }


def build_pairs(data: Path, per_set: int, negatives: int, scenes: Path, rng, side: str | None = None) -> list[dict]:
    """Constructed pairs from each set's held-out images, written into ``scenes``: the sides of
    SETS and the negatives' test quarter, or ``side`` ("val") for every set."""
    pairs = []
    for name, (pixel, own) in SETS.items():
        for s in held_out(data / name, side or own, per_set):
            pairs.append(make_pair(s, pixel, len(pairs), scenes, False, rng))
    for s in held_out(data / NEGATIVES[0], side or "test", negatives):
        pairs.append(make_pair(s, NEGATIVES[1], len(pairs), scenes, True, rng))
    return pairs


def map_pairs(pairs: list[dict], listing: Path, out: Path, *options: str, quiet: bool = False) -> None:
    """The pairs listed in ``listing`` (CSV) and mapped into ``out`` by `lnet-edge infer --pairs`."""
    with listing.open("w", newline="") as f:
        csv.writer(f).writerows([["after", "before"], *[[p["after"], p["before"]] for p in pairs]])
    cmd = ["infer", "--pairs", str(listing), "-o", str(out), *options]
    subprocess.run([sys.executable, "-m", "lnet_edge.cli.main", *cmd], check=True, capture_output=quiet)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--per-set", type=int, default=6)
    ap.add_argument("--negatives", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("bench/results"), help="folder of the result file")
    ap.add_argument("--keep", type=Path, help="build the pairs and outputs here (kept) instead of a temporary folder")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        scenes, out = work / "scenes", work / "out"
        scenes.mkdir(parents=True, exist_ok=True)
        pairs = build_pairs(args.data, args.per_set, args.negatives, scenes, rng)
        map_pairs(pairs, work / "pairs.csv", out, "--overwrite")
        rows = [score(p, out) for p in pairs]
        first = json.loads(next(out.glob("*/*_summary.json")).read_text())
        precision = f"{first.get('backend')} {first.get('precision')}"
    from lnet_edge.cpu_int8 import cpu_kind
    from lnet_edge.defaults import DEFAULT_CHECKPOINT
    from lnet_edge.files import sha256_file

    sha, kind = sha256_file(DEFAULT_CHECKPOINT), cpu_kind()
    report = {
        "date": datetime.date.today().isoformat(),
        "model": "the shipped bundle, automatic choice",
        "model_sha256": sha,
        "precision": precision,
        "cpu_kind": kind,
        "command": "python bench/before_after.py " + " ".join(sys.argv[1:]),
        "pairs_are": "constructed: the before scene is the after scene with its ground-truth landslides inpainted "
        "(none for non-landslide scenes), a colour change, a 1-3 m georeference offset and, for every other pair, "
        "a 1.25x coarser pixel",
        "summary": summarise(rows),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    dest = args.out / f"before_after-{sha[:8]}-{kind}.json"
    write_text_atomic(dest, json.dumps(report, indent=1) + "\n")
    print(dest)
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
