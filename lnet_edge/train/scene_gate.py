"""Fit a trained network's scene gate (lnet_edge.model.gate) and choose its cut and threshold.

Every development image (the training and validation sides of each folder; the test quarters are
never read) gives the network's descriptor of it, whole, as ``eval`` sees it. Landslide images
count twice, as they are and re-encoded as WebP q95, because every non-landslide scene is WebP:
the codec must not be the cue. A logistic regression (L2 of strength C, one of CS; each landslide
folder's images weighted by the square root of how much fewer they are than Bijie native's, as
``--balance sqrt`` weighs them) learns whether an image holds any landslide pixel.

C, the cut, the pixel threshold and the floor (the probability a pixel still needs inside a window
the gate shuts; none: a shut window stays empty) are chosen on five folds (grouped by image): each
image's gate score comes from the fold that held it out; the choice kept is the one of best F1 over
the landslide folders' validation images (summed confusion) whose non-landslide scenes, all of the
development ones, stay within the budget (1.0 % of pixels, 12 % of images over 1 %: a margin under
the release's 1.5 % / 15 %, since the test quarter marks more than validation). The gate shipped
is then fitted on every development image.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from lnet_edge.config import ModelConfig, logit
from lnet_edge.errors import LnetError

CS = (0.05, 0.2, 1.0)  # L2 strengths tried
FOLDS = 5
BUDGET = (0.010, 0.12)  # development negatives: share of pixels, share of images over 1 %
CUTS = tuple(round(0.05 * i, 2) for i in range(1, 20))
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(8, 20))
FLOORS = (0.9, 0.95, 0.98, None)  # None: a shut window stays empty
SCORED = tuple(sorted({*THRESHOLDS, *(f for f in FLOORS if f is not None)}))  # probabilities counted per image


@dataclass
class Described:
    """One development image as the gate sees it."""

    folder: str
    image: str
    side: str  # train | val
    webp: bool
    label: bool  # holds any landslide pixel
    x: np.ndarray  # the descriptor, float64


def describe_image(model, config: ModelConfig, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(descriptor, HxW float32 logits before the gate) of one whole image, fed as ``eval`` feeds
    it (eval.predict.whole_image_input)."""
    import torch

    from lnet_edge.eval.evaluate import to_model_range
    from lnet_edge.eval.predict import whole_image_input

    h, w = image.shape[:2]
    x = whole_image_input(to_model_range(image, config), config)
    with torch.no_grad():
        logits, d = model.ungated(torch.from_numpy(x), with_descriptor=True)
    return d[0].double().numpy(), logits[0, 0, :h, :w].float().numpy()


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2 logistic regression on raw features ``x`` (standardised inside,
    folded back): minimises sum(weight * log(1 + exp(-s * f))) + |beta|^2 / (2 c), s = +-1."""
    import torch

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-12] = 1.0
    z = torch.from_numpy((x - mean) / scale)
    s = torch.from_numpy(np.where(y, 1.0, -1.0))
    wt = torch.from_numpy(np.asarray(weight, np.float64))
    beta = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([beta, bias], max_iter=1000, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def objective():
        opt.zero_grad()
        loss = (wt * torch.nn.functional.softplus(-s * (z @ beta + bias))).sum() + (beta @ beta) / (2 * c)
        loss.backward()
        return loss

    opt.step(objective)
    b = beta.detach().numpy() / scale
    return b, float(bias.item() - b @ mean)


def set_weights(rows: list[Described]) -> np.ndarray:
    """1 for non-landslide scenes and Bijie-sized folders; sqrt(largest / size) for smaller
    landslide folders, so each weighs nearer its share under ``--balance sqrt``."""
    sizes: dict[str, int] = {}
    for r in rows:
        if r.label:
            sizes[r.folder] = sizes.get(r.folder, 0) + 1
    largest = max(sizes.values(), default=1)
    return np.array([math.sqrt(largest / sizes[r.folder]) if r.label else 1.0 for r in rows])


def out_of_fold(
    rows: list[Described], x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float, folds: int = FOLDS
) -> dict[tuple[str, str, bool], float]:
    """Gate probability of every row from the fold that held its image out (``x``, ``y``,
    ``weight``: the rows' descriptors, labels and set weights, stacked)."""
    keys = sorted({(r.folder, r.image) for r in rows})
    fold = dict(zip(keys, np.random.default_rng(0).integers(0, folds, len(keys))))
    out = {}
    for f in range(folds):
        held = np.array([fold[(r.folder, r.image)] == f for r in rows])
        b, b0 = fit_logistic(x[~held], y[~held], weight[~held], c)
        p = 1.0 / (1.0 + np.exp(-(x[held] @ b + b0)))
        out.update({(r.folder, r.image, r.webp): float(q) for r, q in zip((r for r, h in zip(rows, held) if h), p)})
    return out


@dataclass
class Scored:
    """Per image, at each of SCORED: [tp, fp, fn, tn]."""

    folder: str
    image: str
    negative: bool
    counts: np.ndarray  # (len(SCORED), 4)
    size: int


def score_image(folder: str, image: str, logits: np.ndarray, mask: np.ndarray, negative: bool) -> Scored:
    from lnet_edge.eval.metrics import confusion

    rows = [astuple(confusion(logits > logit(t), mask)) for t in SCORED]
    return Scored(folder, image, negative, np.array(rows, np.int64), int(mask.size))


def grid(scored: list[Scored], gate: dict[tuple[str, str], float]) -> list[dict]:
    """F1 over the landslide images, per folder, and the negatives' false alarms, for every
    (cut, threshold, floor); cut 0 is the network without a gate. In a window the gate shuts, a
    pixel is marked only at or above the floor (never, with no floor)."""
    from lnet_edge.eval.metrics import Confusion, scores

    neg = [s for s in scored if s.negative]
    total_neg = sum(s.size for s in neg)
    table = []
    for cut in (0.0, *CUTS):
        shut = [gate[(s.folder, s.image)] < cut for s in scored]
        for floor in FLOORS if cut > 0 else (None,):
            for t in THRESHOLDS:
                if floor is not None and floor <= t:
                    continue
                i = SCORED.index(t)
                per, total = {}, np.zeros(4, np.int64)
                marked = []
                for s, off in zip(scored, shut):
                    if not off:
                        c = s.counts[i]
                    elif floor is not None:
                        c = s.counts[SCORED.index(floor)]
                    else:  # all its landslide pixels missed, nothing marked
                        missed = s.counts[0][[0, 2]].sum()
                        c = np.array([0, 0, missed, s.size - missed], np.int64)
                    if s.negative:
                        marked.append(c[1])
                    else:
                        per[s.folder] = per.get(s.folder, 0) + c
                        total += c
                table.append(
                    {
                        "cut": cut,
                        "threshold": t,
                        "floor": floor,
                        **{k: round(v, 5) for k, v in scores(Confusion(*map(int, total))).items()},
                        "per_set": {k: round(scores(Confusion(*map(int, v)))["f1"], 5) for k, v in sorted(per.items())},
                        "fa_pixels": round(sum(marked) / max(total_neg, 1), 5),
                        "fa_images": round(
                            float(np.mean([m > 0.01 * s.size for m, s in zip(marked, neg)])) if neg else 0.0, 5
                        ),
                    }
                )
    return table


def within_budget(table: list[dict], budget: tuple[float, float] = BUDGET) -> list[dict]:
    return [r for r in table if r["fa_pixels"] <= budget[0] and r["fa_images"] <= budget[1]]


def choose(table: list[dict], budget: tuple[float, float] = BUDGET) -> dict:
    """The row of best F1 over the landslide images within the budget (ties: the lower cut, then
    the higher floor)."""
    ok = within_budget(table, budget)
    if not ok:
        raise LnetError(
            f"no cut and threshold keeps the non-landslide scenes within {100 * budget[0]:g} % of pixels and "
            f"{100 * budget[1]:g} % of images over 1 %: the network marks too much for a gate to help"
        )
    return max(ok, key=lambda r: (r["f1"], -r["cut"], 1.0 if r.get("floor") is None else r["floor"]))


def gated_checkpoint(ckpt: dict, weights: np.ndarray, bias: float, row: dict, record: dict) -> dict:
    """The checkpoint ``ckpt`` with its gate: weights, cut, floor and threshold in the configuration, and
    the five folds' figures as its validation metrics."""
    import torch

    reads = ModelConfig.from_dict(ckpt["config"]).scene_gate_descriptor  # what the fitting described
    gate = {"scene_gate": row["cut"], "scene_gate_floor": row.get("floor"), "scene_gate_descriptor": reads}
    config = ModelConfig.from_dict({**ckpt["config"], **gate, "threshold": row["threshold"]})
    state = dict(ckpt["state_dict"])
    state["gate.linear.weight"] = torch.from_numpy(weights[None].astype(np.float32))
    state["gate.linear.bias"] = torch.tensor([bias], dtype=torch.float32)
    metrics = {k: row[k] for k in ("precision", "recall", "f1", "iou", "iou_background", "miou2")}
    metrics.update(threshold=row["threshold"], fa_pixels=row["fa_pixels"], fa_images=row["fa_images"])
    keep = ("epoch", "options", "split", "format", "format_version")
    return {
        **{k: ckpt[k] for k in keep if k in ckpt},
        "config": config.to_dict(),
        "state_dict": state,
        "metrics": metrics,
        "metrics_per_dataset": {k: {"f1": v} for k, v in row["per_set"].items()},
        "scene_gate": record,
    }


def fit_scene_gate(
    checkpoint: Path,
    folders: list[Path],
    negatives: list[Path],
    progress=print,
    descriptor: str | None = None,
    cs: tuple[float, ...] = CS,
) -> tuple[dict, dict]:
    """(gated checkpoint, record) for ``checkpoint`` from the development images of ``folders``
    (landslide sets) and ``negatives`` (non-landslide scenes). ``descriptor`` (one of
    GATE_DESCRIPTORS; the checkpoint's own by default) and ``cs`` (the L2 strengths tried)
    reproduce a gate fitted before either changed."""
    from lnet_edge.data.readers import list_samples, read_pair
    from lnet_edge.data.split import split_samples
    from lnet_edge.model.checkpoint import load_model
    from lnet_edge.model.lnet import LNet
    from lnet_edge.train.data import recode_webp

    model, ckpt = load_model(checkpoint)
    if model.config.scene_gate is not None:
        raise LnetError(f"checkpoint {checkpoint} already has a scene gate: give the network it was fitted to")
    if descriptor is not None and descriptor != model.config.scene_gate_descriptor:
        ckpt = {**ckpt, "config": {**ckpt["config"], "scene_gate_descriptor": descriptor}}
        described = LNet(ModelConfig.from_dict(ckpt["config"]))  # the descriptor holds no weights
        described.load_state_dict(model.state_dict())
        model = described.eval()
    config = model.config
    rows: list[Described] = []
    scored: list[Scored] = []
    for folder in [*folders, *negatives]:
        negative = folder in negatives
        train, val = split_samples(list_samples(folder))
        for side, samples in (("train", train), ("val", val)):
            for s in samples:
                image, mask = read_pair(s, config.bands)
                mask = mask.astype(bool)
                held = bool(mask.any())
                d, logits = describe_image(model, config, image)
                rows.append(Described(s.dataset, s.key, side, False, held, d))
                if negative or side == "val":  # what the choice is scored on
                    scored.append(score_image(s.dataset, s.key, logits, mask, negative))
                if not negative:
                    webp = describe_image(model, config, recode_webp(image))[0]
                    rows.append(Described(s.dataset, s.key, side, True, held, webp))
            progress(f"described {folder.name} {side}: {len(samples)} images")
    x, y, weight = np.stack([r.x for r in rows]), np.array([r.label for r in rows]), set_weights(rows)
    tried = []
    for c in cs:
        oof = out_of_fold(rows, x, y, weight, c)
        table = grid(scored, {(s.folder, s.image): oof[(s.folder, s.image, False)] for s in scored})
        if within_budget(table):
            tried.append((choose(table), c, oof, table))
            progress(f"C {c}: five-fold F1 {100 * tried[-1][0]['f1']:.1f} within the budget")
    if not tried:
        choose(table)  # raises, saying why
    row, c, oof, table = max(tried, key=lambda t: (t[0]["f1"], -t[1]))
    no_gate = max(within_budget([r for r in table if r["cut"] == 0.0]), key=lambda r: r["f1"], default=None)
    val_pos = [r for r in rows if r.label and r.side == "val"]

    def passing(webp: bool) -> float:
        return round(
            float(np.mean([oof[(r.folder, r.image, webp)] >= row["cut"] for r in val_pos if r.webp == webp])), 4
        )

    passed = {"lossless": passing(False), "webp": passing(True)}
    b, b0 = fit_logistic(x, y, weight, c)
    record = {
        "checkpoint": str(checkpoint),
        "descriptor": config.scene_gate_descriptor,
        "descriptor_size": x.shape[1],
        "c": c,
        "chosen_per_c": {str(ci): r for r, ci, _, _ in tried},
        "folds": FOLDS,
        "budget_development_negatives": {"pixels": BUDGET[0], "images_over_1pct": BUDGET[1]},
        "images": {
            "landslide": sum(1 for r in rows if r.label and not r.webp),
            "negative": sum(1 for r in rows if not r.label),
        },
        "chosen": row,
        "best_without_gate": no_gate,
        "validation_landslide_images_passing": passed,
        "table": table,
    }
    return gated_checkpoint(ckpt, b, b0, row, {k: v for k, v in record.items() if k != "table"}), record
