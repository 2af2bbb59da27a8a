"""The false-alarm picture for README and the model card: the same quiet ground mapped by two
models, one row each.

The scenes: the shipped sample scene (a Sichuan landslide with a town on its right; its
landslide mask is drawn as an outline, and its panel says how much of the scars is found
and how much of the rest is marked) and six non-landslide Bijie scenes from the negatives'
test quarter, never trained on: a construction site, a road by a river, villages, terraces and a
bare field. Each model maps whole images on ONNX Runtime (or PyTorch for a checkpoint) at its own
stored threshold; marked pixels are red, and each panel says the share it marks.

Usage: python scripts/false_alarm_figure.py BEFORE_MODEL AFTER_MODEL [--labels "A" "B"]
           [--data ../shared/data] [-o docs/false-alarms.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from lnet_edge.data.readers import read_image
from lnet_edge.eval.predict import predict_logits
from lnet_edge.field.predict import sigmoid
from lnet_edge.runners.open import open_model

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "lnet_edge/assets/samples/scene/sichuan_landslide003.tif"
SAMPLE_MASK = "sichuan_aerial_atlan1024/masks/LandslideLabel003.png"
QUIET = ("nls_0258", "nls_0236", "nls_0192", "nls_0458", "nls_0176", "nls_0246")  # test quarter
PANEL = 300  # px, the side of each panel
RED = np.array([40, 40, 230], np.float32)  # BGR


def panel(rgb: np.ndarray, marked: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    """A PANEL x PANEL picture: the scene in BGR, marked pixels tinted red, the truth outlined."""
    bgr = rgb[:, :, ::-1].astype(np.float32)
    bgr[marked] = 0.45 * bgr[marked] + 0.55 * RED
    bgr = np.clip(bgr, 0, 255).astype(np.uint8)
    if truth is not None:
        contours, _ = cv2.findContours(truth.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(bgr, contours, -1, (0, 230, 255), max(1, rgb.shape[0] // 200))
    return cv2.resize(bgr, (PANEL, PANEL), interpolation=cv2.INTER_AREA)


def caption(image: np.ndarray, text: str, y: int, scale: float = 0.5) -> None:
    cv2.putText(image, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(image, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs=2, help="the model before, the model after (.onnx or .pt)")
    ap.add_argument("--labels", nargs=2, default=("before", "after"))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("-o", "--out", type=Path, default=ROOT / "docs/false-alarms.jpg")
    args = ap.parse_args()

    scenes = [(SAMPLE, cv2.imread(str(args.data / SAMPLE_MASK), cv2.IMREAD_GRAYSCALE) > 0)]
    scenes += [(args.data / "bijie_negatives/images" / f"{n}.webp", None) for n in QUIET]
    images = [read_image(path) for path, _ in scenes]
    rows = []
    for model, label in zip(args.models, args.labels):
        runner, config = open_model(model)
        panels = []
        with runner:
            probs = [sigmoid(predict_logits(runner, im[:, :, list(config.bands)], config)) for im in images]
        for (path, truth), image, prob in zip(scenes, images, probs):
            marked = prob > config.threshold
            p = panel(image, marked, truth)
            if truth is None:
                text = f"{100 * marked.mean():.1f} % marked"
            else:
                text = f"scars {100 * marked[truth].mean():.0f} % found, elsewhere {100 * marked[~truth].mean():.1f} %"
            caption(p, text, PANEL - 10)
            panels.append(p)
            print(f"{label}: {path.name}: {text} (threshold {config.threshold:g})")
        caption(panels[0], f"{label} (threshold {config.threshold:g})", 20, 0.55)
        rows.append(np.hstack(panels))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"{args.out}")


if __name__ == "__main__":
    main()
