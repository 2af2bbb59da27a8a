"""How far a tiled field run of a model is from one whole-image pass, on real 640 x 640 crops.

For each model: the crop goes through the real `infer` pipeline (256 px tiles, raised-cosine
blending) at overlaps 64 and 128, and whole through the same runner; reported are the share of
mask pixels that differ, the mean |p_tiled - p_whole|, and the share of whole-image pixels whose
probability is within 0.1 of the threshold (how many pixels a small change can flip). Where the
disagreement sits (near tile seams or everywhere) is summarised by the disagreement within 32 px
of a seam against the rest.

Usage: python bench/tiled_vs_whole.py MODEL [MODEL...] [--data ../shared/data] [--out bench/results]
MODEL: an ONNX file or a checkpoint (a checkpoint needs the [train] extra).
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from lnet_edge.files import write_text_atomic

# (image of the Sichuan aerial set, top-left row/col of the 640 x 640 crop)
CROPS = [("Landslide002.png", 100, 200), ("Landslide003.png", 0, 0), ("Landslide010.png", 0, 0)]
SIZE = 640


def seam_band(size: int, tile: int, overlap: int, width: int = 32) -> np.ndarray:
    """1-D mask of positions within ``width`` px of the middle of any tile overlap."""
    from lnet_edge.field.tiling import tile_origins

    near = np.zeros(size, bool)
    origins = tile_origins(size, tile, overlap)
    for a, b in zip(origins, origins[1:]):
        mid = (b + a + tile) // 2  # centre of the shared band of two neighbours
        near[max(0, mid - width) : mid + width] = True
    return near


def measure(model: Path, data: Path, work: Path) -> list[dict]:
    import cv2
    import rasterio

    from lnet_edge.eval.predict import predict_logits
    from lnet_edge.field.pipeline import InferOptions, output_file, run_scene
    from lnet_edge.field.predict import sigmoid
    from lnet_edge.runners.open import open_model

    rows = []
    runner, config = open_model(model, threads=2)
    with runner:
        for name, r, c in CROPS:
            rgb = cv2.imread(str(data / "sichuan_aerial_atlan1024/images" / name))[..., ::-1]
            crop = np.ascontiguousarray(rgb[r : r + SIZE, c : c + SIZE])
            scene = work / f"{Path(name).stem}.tif"
            with rasterio.open(
                scene, "w", driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8"
            ) as dst:  # no georeference needed: pixel units
                dst.write(np.moveaxis(crop, -1, 0))
            whole = sigmoid(predict_logits(runner, crop, config))
            whole_mask = whole > config.threshold
            for overlap in (64, 128):
                options = InferOptions(batch=3, overlap=overlap, overwrite=True)
                summary = run_scene(scene, work / f"out{overlap}", runner, config, options, {})
                with (
                    rasterio.open(output_file(summary, "mask")) as m,
                    rasterio.open(output_file(summary, "probability")) as p,
                ):
                    tiled_mask, tiled_p = m.read(1) == 1, p.read(1) / 100.0
                differ = tiled_mask != whole_mask
                band = seam_band(SIZE, config.tile, overlap)
                near = band[:, None] | band[None, :]
                rows.append(
                    {
                        "model": model.name,
                        "image": name,
                        "crop": [r, c, SIZE, SIZE],
                        "overlap": overlap,
                        "mask_disagreement": round(float(differ.mean()), 6),
                        "mean_abs_dp": round(float(np.abs(tiled_p - whole).mean()), 5),
                        "borderline_share": round(float((np.abs(whole - config.threshold) < 0.1).mean()), 4),
                        "disagreement_near_seams": round(float(differ[near].mean()), 6),
                        "disagreement_elsewhere": round(float(differ[~near].mean()), 6),
                    }
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--tag", default="", help="appended to the result file name")
    ap.add_argument("--note", default="", help="what the models are (kept in the JSON)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Dataset has no geotransform")  # the crops are in pixel units
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            rows += measure(model, args.data, Path(tmp))
    for row in rows:
        print(
            f"{row['model']:28s} {row['image']:18s} overlap {row['overlap']:3d}: {row['mask_disagreement']:.3%} of mask "
            f"pixels differ (near seams {row['disagreement_near_seams']:.3%}, elsewhere "
            f"{row['disagreement_elsewhere']:.3%}), mean |dp| {row['mean_abs_dp']:.4f}, "
            f"borderline {row['borderline_share']:.1%}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"tiled_vs_whole{'-' + args.tag if args.tag else ''}.json"
    record = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python bench/tiled_vs_whole.py " + " ".join(str(m) for m in args.models),
        "tile": 256,
        "blending": "raised cosine over the overlap",
        "note": args.note,
        "rows": rows,
    }
    write_text_atomic(args.out / name, json.dumps(record, indent=2))
    print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
