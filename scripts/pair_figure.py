"""README's before/after picture: a constructed pair from the shipped sample scene.

The after scene is the sample scene as it is. The before scene is the same image with its
smaller ground-truth scars inpainted (OpenCV Telea; the largest scar is kept, so it persists), a
colour change and a georeference 1.5 m east and 1 m south of the after scene's. Both are mapped
with `lnet-edge infer AFTER --before BEFORE --coregister`, and the change quicklook is saved as
docs/change-quicklook.jpg.

Usage: python scripts/pair_figure.py [--data ../shared/data] [--work runs/pair-figure]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import Affine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "lnet_edge/assets/samples/scene/sichuan_landslide003.tif"
LABEL = "sichuan_aerial_atlan1024/masks/LandslideLabel003.png"


def before_scene(truth: np.ndarray, dest: Path) -> None:
    with rasterio.open(SAMPLE) as src:
        rgb, profile, t = np.moveaxis(src.read(), 0, -1), src.profile, src.transform
    n, labels, stats, _ = cv2.connectedComponentsWithStats(truth.astype(np.uint8), connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    hole = ((labels > 0) & (labels != largest)).astype(np.uint8)
    hole = cv2.dilate(hole, np.ones((9, 9), np.uint8))
    rgb = cv2.inpaint(np.ascontiguousarray(rgb), hole, 9, cv2.INPAINT_TELEA)
    rgb = np.clip(rgb * np.array([0.92, 0.97, 1.06]) + np.array([6.0, 3.0, -4.0]), 0, 255).astype(np.uint8)
    profile.update(transform=Affine(t.a, 0, t.c + 1.5, 0, t.e, t.f - 1.0))
    with rasterio.open(dest, "w", **profile) as dst:
        dst.write(np.moveaxis(rgb, -1, 0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--work", type=Path, default=ROOT / "runs/pair-figure")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    truth = cv2.imread(str(args.data / LABEL), cv2.IMREAD_GRAYSCALE) > 0
    before = args.work / "sichuan_landslide003_before.tif"
    before_scene(truth, before)
    out = args.work / "out"
    cmd = ["infer", str(SAMPLE), "--before", str(before), "--coregister", "-o", str(out), "--overwrite"]
    subprocess.run([sys.executable, "-m", "lnet_edge.cli.main", *cmd], check=True)
    png = out / SAMPLE.stem / f"{SAMPLE.stem}_change_quicklook.png"
    image = cv2.imread(str(png))
    cv2.imwrite(str(ROOT / "docs/change-quicklook.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"docs/change-quicklook.jpg from {png}")


if __name__ == "__main__":
    main()
