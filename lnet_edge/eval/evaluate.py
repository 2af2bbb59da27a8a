"""Evaluate a runner on image/mask folders: dataset-level (summed confusion), per dataset and
per image, written as JSON and a markdown table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig
from lnet_edge.data.readers import Sample, read_pair
from lnet_edge.eval.metrics import Confusion, confusion, scores
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import write_text_atomic
from lnet_edge.runners.base import Runner


def evaluate(
    runner: Runner, config: ModelConfig, samples: list[Sample], on_image=None, factor: float = 1.0, tta: bool = False
) -> dict:
    """Scores at the config's threshold. ``on_image`` is called after each image (progress);
    ``factor`` resamples each image for the model (see predict_logits), ``tta`` flips it."""
    import math

    logit_t = math.log(config.threshold / (1 - config.threshold))
    total, per_set, per_image = Confusion(), {}, []
    for s in samples:
        image, mask = read_pair(s, config.bands)
        image = to_model_range(image, config)
        c = confusion(predict_logits(runner, image, config, factor, tta) > logit_t, mask)
        total = total + c
        per_set[s.dataset] = per_set.get(s.dataset, Confusion()) + c
        per_image.append({"dataset": s.dataset, "image": s.image.name, **scores(c), **c.to_dict()})
        if on_image:
            on_image(s)
    return {
        "threshold": config.threshold,
        "overall": {**scores(total), **total.to_dict(), "images": len(samples)},
        "per_dataset": {k: {**scores(v), **v.to_dict()} for k, v in per_set.items()},
        "per_image": per_image,
    }


def to_model_range(image: np.ndarray, config: ModelConfig) -> np.ndarray:
    """A non-uint8 image for a model trained on 0..255 gets the percentile stretch that ``infer``
    gives such scenes (io.percentile_scaling); anything else is returned unchanged."""
    from lnet_edge.field.io import percentile_scaling

    if not config.uint8_range or image.dtype == np.uint8:
        return image
    return percentile_scaling(np.moveaxis(image, -1, 0)).apply(image)


def markdown_table(report: dict) -> str:
    """Per-dataset and overall scores (percent) as a markdown table."""
    head = "| set | precision | recall | F1 | IoU (landslide, paper's MIoU) | mean IoU (2 classes) |\n"
    head += "|---|---|---|---|---|---|\n"
    rows = [*report["per_dataset"].items(), ("all (summed confusion)", report["overall"])]
    return head + "".join(
        f"| {name} | {100 * r['precision']:.1f} | {100 * r['recall']:.1f} | {100 * r['f1']:.1f} | "
        f"{100 * r['iou']:.1f} | {100 * r['miou2']:.1f} |\n"
        for name, r in rows
    )


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """eval.json and eval.md in ``out``, each written under a temporary name, then renamed."""
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "eval.json", out / "eval.md")
    for path, text in zip(paths, (json.dumps(report, indent=1), markdown_table(report))):
        write_text_atomic(path, text)
    return paths
