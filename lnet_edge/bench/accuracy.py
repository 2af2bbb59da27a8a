"""Accuracy of each entry on real validation tiles, the calibration gate's way.

Tiles: the validation side of the project's split (:func:`lnet_edge.data.split.split_samples`)
of the given image/mask folders, at the model's tile size, capped to the ``cap`` tiles whose key
hashes lowest (deterministic, independent of folder order: ``export.tiles.tiles_from_folders``).
Scores: F1 and landslide IoU against the masks, and the pixel flip rate against the
predictions of the reference entry (ONNX Runtime fp32), through ``calibration.gate.score``
(which uses :mod:`lnet_edge.eval.metrics`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lnet_edge.calibration.gate import score
from lnet_edge.config import ModelConfig, logit
from lnet_edge.export.tiles import batch_of, tiles_from_folders, tiles_sha256

REFERENCE = "onnxruntime/fp32"


def validation_set(data: list[Path], config: ModelConfig, cap: int, out: Path) -> tuple[np.ndarray, dict]:
    """Save the normalised validation batch to ``out`` (.npy, read by the workers); return the
    masks and a description of the tile set."""
    tiles = tiles_from_folders(data, config, "val", limit=cap)
    np.save(out, batch_of(tiles, config))
    masks = np.stack([t.mask for t in tiles])
    return masks, {
        "tiles": len(tiles),
        "cap": cap,
        "size": config.tile,
        "side": "val",
        "folders": [Path(d).name for d in data],
        "sha256": tiles_sha256(tiles),
        "landslide_pixel_fraction": float(masks.astype(bool).mean()),
    }


def accuracy_table(logits: dict[str, Path], masks: np.ndarray, threshold: float) -> dict[str, dict]:
    """entry key -> {f1, iou, precision, recall, flip_rate, iou_drop_points} (flip rate and IoU
    drop against REFERENCE; None where the reference did not run)."""
    arrays = {k: np.load(p) for k, p in logits.items()}
    ref_logits = arrays.get(REFERENCE)
    ref_pred = None if ref_logits is None else ref_logits[:, 0] > logit(threshold)
    ref = None if ref_logits is None else score(ref_logits, masks, None, threshold)
    out = {}
    for key, lg in arrays.items():
        s = score(lg, masks, ref_pred, threshold)
        if ref is None:
            s["flip_rate"] = None
        s["iou_drop_points"] = None if ref is None else 100 * (ref["iou"] - s["iou"])
        out[key] = s
    return out
