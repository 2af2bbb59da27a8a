"""Evaluate a runner on image/mask folders: dataset-level (summed confusion), per dataset and
per image, written as JSON and a markdown table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lnet_edge.config import GATED_LOGIT, ModelConfig, logit
from lnet_edge.data.readers import Sample, read_pair
from lnet_edge.data.scaling import fill_nonfinite
from lnet_edge.eval.alarms import IMAGE_SHARE, MIN_AREA_M2, FalseAlarms, markdown_alarms
from lnet_edge.eval.metrics import Confusion, confusion, scores
from lnet_edge.eval.predict import predict_logits
from lnet_edge.files import write_text_atomic
from lnet_edge.runners.base import Runner


def evaluate(
    runner: Runner,
    config: ModelConfig,
    samples: list[Sample],
    on_image=None,
    factor: float = 1.0,
    tta: bool = False,
    pixel_m: float | None = None,
    min_area_m2: float = MIN_AREA_M2,
) -> dict:
    """Scores at the config's threshold. ``on_image`` is called after each image (progress);
    ``factor`` resamples each image for the model (see predict_logits), ``tta`` flips it;
    ``pixel_m`` (metres per image pixel) gives false-alarm polygons per km².

    A data folder whose masks are all empty is a negative set: it is scored by false alarms
    (eval/alarms.py) and left out of the detection scores, where it would only add an F1 of 0.
    Landslide sets get both: detection scores, and the false alarms on their background.

    A gated model's report (``scene_gate``) counts, per set, the images its gate shut whole (every
    logit at GATED_LOGIT); a gate with a floor lowers shut windows instead, so it counts none."""

    logit_t = logit(config.threshold)
    confusions, alarms, per_image, stretched, nonfinite = {}, {}, [], {}, {}
    count_shut = config.scene_gate is not None and config.scene_gate_floor is None
    for s in samples:
        image, mask = read_pair(s, config.bands)
        if is_stretched(image, config):
            stretched[image.dtype.name] = stretched.get(image.dtype.name, 0) + 1
        image = to_model_range(image, config)  # the stretch leaves NaN and inf out of its percentiles
        image, gaps = fill_nonfinite(image)  # as infer: filled with 0 for the model, scored nowhere
        valid = None
        if gaps.any():
            valid = ~gaps
            nonfinite[s.image.name] = int(np.count_nonzero(gaps))
        logits = predict_logits(runner, image, config, factor, tta)
        pred = logits > logit_t
        c = confusion(pred, mask, valid)
        confusions[s.dataset] = confusions.get(s.dataset, Confusion()) + c
        alarms.setdefault(s.dataset, FalseAlarms(pixel_m, min_area_m2)).add(pred, mask, valid)
        per_image.append({"dataset": s.dataset, "image": s.image.name, **scores(c), **c.to_dict()})
        if count_shut:
            per_image[-1]["gate_shut"] = bool(np.all(logits <= GATED_LOGIT + 1e-3))
        if on_image:
            on_image(s)
    negative = {k for k, c in confusions.items() if c.tp + c.fn == 0}
    detection = {k: c for k, c in confusions.items() if k not in negative}
    total = sum(detection.values(), Confusion())
    background = FalseAlarms(pixel_m, min_area_m2)
    for a in alarms.values():
        background.merge(a)
    return {
        "threshold": config.threshold,
        "scaling": {"rule": scaling_rule(config), "stretched_images": stretched},  # images by dtype
        "nonfinite_pixels": nonfinite,  # image -> NaN/inf pixels, left out of every figure
        "overall": {**scores(total), **total.to_dict(), "images": len(samples) - _count(alarms, negative)}
        if detection
        else None,
        "per_dataset": {k: {**scores(v), **v.to_dict()} for k, v in detection.items()},
        "negative_sets": sorted(negative),
        "false_alarms": {
            "per_dataset": {k: a.to_dict() for k, a in alarms.items()},
            "all": background.to_dict(),
            "image_share": IMAGE_SHARE,
            "pixel_size_m": pixel_m,
        },
        "per_image": per_image,
        "scene_gate": _gate_report(config, per_image),
    }


def _gate_report(config: ModelConfig, per_image: list[dict]) -> dict | None:
    """The gate's cut and floor, and per set the images it shut whole (from ``gate_shut``, which
    only a gate without a floor gets)."""
    if config.scene_gate is None:
        return None
    counted = None
    if config.scene_gate_floor is None:
        counted = {}
        for r in per_image:
            c = counted.setdefault(r["dataset"], {"shut": 0, "images": 0})
            c["shut"] += r["gate_shut"]
            c["images"] += 1
    return {"cut": config.scene_gate, "floor": config.scene_gate_floor, "images_shut": counted}


def _count(alarms: dict, names: set[str]) -> int:
    return sum(alarms[k].images for k in names)


def is_stretched(image: np.ndarray, config: ModelConfig) -> bool:
    """Whether :func:`to_model_range` stretches ``image``: a non-uint8 image for a model trained on 0..255."""
    return config.uint8_range and image.dtype != np.uint8


def to_model_range(image: np.ndarray, config: ModelConfig) -> np.ndarray:
    """A non-uint8 image for a model trained on 0..255 gets the percentile stretch that ``infer``
    gives such scenes (data.scaling.percentile_scaling); anything else is returned unchanged."""
    from lnet_edge.data.scaling import percentile_scaling

    if not is_stretched(image, config):
        return image
    return percentile_scaling(np.moveaxis(image, -1, 0)).apply(image)


def scaling_rule(config: ModelConfig) -> str:
    """How eval brings images to the model's range, in words (eval.json, eval.md and the note)."""
    from lnet_edge.data.scaling import PERCENTILES

    if not config.uint8_range:
        return "images are fed unchanged (the model was not trained on 0..255 imagery)"
    low, high = PERCENTILES
    return (
        f"uint8 images are fed unchanged; any other (e.g. uint16) is stretched per image and band, its "
        f"{low:g} % to {high:g} % percentiles mapped linearly to 0..255 and clipped, as 'lnet-edge infer "
        "--scale auto' does to such scenes: the scores are those of the stretched images, not of 8-bit originals"
    )


def scaling_line(report: dict) -> str:
    """The scaling rule and what it did: the first paragraph of eval.md."""
    s = report["scaling"]
    done = ", ".join(f"{n} {dtype}" for dtype, n in s["stretched_images"].items()) or "none"
    text = f"Scaling: {s['rule']}. Images stretched: {done}.\n\n"
    bad = report.get("nonfinite_pixels") or {}
    if bad:
        text += (
            f"NaN or infinite pixels in {len(bad)} images ({sum(bad.values())} pixels): left out of every figure.\n\n"
        )
    return text


def markdown_table(report: dict) -> str:
    """Per-dataset and overall detection scores (percent) of the landslide sets, then the false
    alarms of every set, as markdown tables."""
    text = ""
    if report["overall"] is not None:
        head = "| set | precision | recall | F1 | IoU (landslide, paper's MIoU) | mean IoU (2 classes) |\n"
        head += "|---|---|---|---|---|---|\n"
        rows = [*report["per_dataset"].items(), ("all (summed confusion)", report["overall"])]
        text = head + "".join(
            f"| {name} | {100 * r['precision']:.1f} | {100 * r['recall']:.1f} | {100 * r['f1']:.1f} | "
            f"{100 * r['iou']:.1f} | {100 * r['miou2']:.1f} |\n"
            for name, r in rows
        )
        text += "\n"
    fa = report["false_alarms"]
    rows = {
        (f"{k} (no landslides)" if k in report["negative_sets"] else f"{k} (background)"): v
        for k, v in fa["per_dataset"].items()
    }
    if len(rows) > 1:
        rows["all"] = fa["all"]
    return (
        text + "False alarms (pixels marked where the mask has none):\n\n" + markdown_alarms(rows) + _gate_line(report)
    )


def _gate_line(report: dict) -> str:
    """What a gated model's gate did, in words ("" for a model without one)."""
    gate = report.get("scene_gate")
    if not gate:
        return ""
    if gate["images_shut"] is None:
        return (
            f"\nScene gate: cut {gate['cut']:g}, floor {gate['floor']:g}: in a window it shuts, pixels under the floor "
            "are dropped (shut windows are not counted).\n"
        )
    negative = set(report["negative_sets"])
    parts = [
        f"{v['shut']} of {v['images']} images of {k}{' (no landslides)' if k in negative else ''}"
        for k, v in gate["images_shut"].items()
    ]
    return f"\nScene gate: cut {gate['cut']:g}; shut whole (nothing marked): {', '.join(parts)}.\n"


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """eval.json and eval.md in ``out``, each written under a temporary name, then renamed."""
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "eval.json", out / "eval.md")
    for path, text in zip(paths, (json.dumps(report, indent=1), scaling_line(report) + markdown_table(report))):
        write_text_atomic(path, text)
    return paths
