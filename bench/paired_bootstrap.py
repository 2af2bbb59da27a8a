"""How much of an F1 difference between two models is the test images' luck? Resamples the images
of two `lnet-edge eval` runs over the same folder and split (their eval.json files: per-image
confusion counts) with replacement, the same draw for both, and reports the spread of each F1
(summed confusion, as eval reports it) and of their difference.

Usage: python bench/paired_bootstrap.py BASE/eval.json OTHER/eval.json [--dataset bijie_native]
           [--draws 10000] [--name NAME]
    -> bench/results/paired_bootstrap-<NAME>.json
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

from lnet_edge.files import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]


def per_image(path: Path, dataset: str) -> dict[str, tuple[int, int, int]]:
    """image -> (tp, fp, fn) of ``dataset``'s images in an eval.json."""
    rows = json.loads(path.read_text())["per_image"]
    counts = {r["image"]: (r["tp"], r["fp"], r["fn"]) for r in rows if r["dataset"] == dataset}
    if not counts:
        raise SystemExit(f"{path} holds no per-image counts of {dataset}")
    return counts


def f1(c: np.ndarray) -> np.ndarray:
    """F1 of summed (tp, fp, fn) along the last axis."""
    return 2 * c[..., 0] / np.maximum(2 * c[..., 0] + c[..., 1] + c[..., 2], 1)


def bootstrap(base: dict, other: dict, draws: int, seed: int = 0) -> dict:
    if set(base) != set(other):
        raise SystemExit("the two eval runs did not score the same images: give the same folder and split")
    keys = sorted(base)
    a, b = (np.array([c[k] for k in keys], np.float64) for c in (base, other))
    idx = np.random.default_rng(seed).integers(0, len(keys), (draws, len(keys)))
    fa, fb = f1(a[idx].sum(axis=1)), f1(b[idx].sum(axis=1))
    diff = fb - fa
    return {
        "images": len(keys),
        "draws": draws,
        "f1_base": round(float(f1(a.sum(axis=0))), 5),
        "f1_other": round(float(f1(b.sum(axis=0))), 5),
        "difference": round(float(f1(b.sum(axis=0)) - f1(a.sum(axis=0))), 5),
        "sd_f1_base": round(float(fa.std()), 5),
        "sd_difference": round(float(diff.std()), 5),
        "difference_95": [round(float(q), 5) for q in np.percentile(diff, [2.5, 97.5])],
    }


def run_name(eval_json: Path) -> str:
    """RUN of RUN/eval-test/eval.json: the first folder above the file not named eval*, so two
    candidates scored the usual way never share (and overwrite) one record."""
    named = (p for p in eval_json.resolve().parents if p.name and not p.name.startswith("eval"))
    folder = next(named, eval_json.parent)
    return folder.name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("other", type=Path)
    ap.add_argument("--dataset", default="bijie_native")
    ap.add_argument("--draws", type=int, default=10000)
    ap.add_argument(
        "--name",
        default=None,
        help="result file name (default: the other run's folder, RUN of RUN/eval-test/eval.json)",
    )
    args = ap.parse_args()
    result = bootstrap(per_image(args.base, args.dataset), per_image(args.other, args.dataset), args.draws)
    name = args.name or run_name(args.other)
    record = {
        "date": datetime.date.today().isoformat(),
        "base": str(args.base),
        "other": str(args.other),
        "dataset": args.dataset,
        **result,
    }
    out = ROOT / "bench" / "results" / f"paired_bootstrap-{name}.json"
    write_text_atomic(out, json.dumps(record, indent=1) + "\n")
    print(json.dumps(result))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
