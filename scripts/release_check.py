"""Does a training run's best checkpoint meet the release targets of a new default model?

Scores RUN_DIR/best.pt at its stored threshold (chosen on validation) on the two test quarters:
the Bijie native landslide images and the non-landslide Bijie scenes (0.8 m pixels). Its
validation figures come from the checkpoint itself (the epoch that was kept). The shipped
model's figures come from its bundle (eval-val.json, eval-test.json). Targets:

- negatives' test quarter: at most 1.5 % of pixels marked, at most 15 % of images over 1 %;
- Bijie native test quarter: F1 >= 76, IoU >= 61;
- validation over all landslide sets: F1 at least the shipped model's;
- no landslide set's validation F1 more than 3 points below the shipped model's;
- failing these, the fallback: the false-alarm targets, and at most 1 F1 point lost on the Bijie
  native test quarter.

Writes RUN_DIR/release_check.json and prints one line per target. With --record, also writes the
test scores into a record under bench/results (a scene gate's scene_gate-*.json) as its
test_quarters, with the gated network's digest, which scripts/fit_scene_gate.py compares on a refit.
Usage: python scripts/release_check.py RUN_DIR [--data ../shared/data] [--reuse] [--record JSON]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from lnet_edge.defaults import DEFAULT_MODEL_DIR
from lnet_edge.files import sha256_file, write_text_atomic
from lnet_edge.model.checkpoint import network_digest, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MAX_FA_PIXELS, MAX_FA_IMAGES = 0.015, 0.15
MIN_TEST_F1, MIN_TEST_IOU = 0.76, 0.61
SET_SLACK, FALLBACK_LOSS = 0.03, 0.01


def evaluate(checkpoint: Path, data: Path, out: Path, reuse: bool) -> dict:
    if not (reuse and (out / "eval.json").is_file()):
        cmd = ["eval", "-m", str(checkpoint), "-d", str(data), "--split", "test", "--pixel-size", "0.8", "-o", str(out)]
        subprocess.run([sys.executable, "-m", "lnet_edge.cli.main", *cmd], check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "eval.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--reuse", action="store_true", help="keep test evaluations already in RUN_DIR")
    ap.add_argument("--record", type=Path, help="a bench/results record to hold these test scores")
    args = ap.parse_args()
    if args.record is not None and not args.record.is_file():
        raise SystemExit(f"--record {args.record}: no such record; give the scene_gate-*.json the fitter wrote")
    best = args.run / "best.pt"
    ckpt = read_checkpoint(best)
    val_f1 = float(ckpt["metrics"]["f1"])
    val_sets = {k: float(v["f1"]) for k, v in ckpt["metrics_per_dataset"].items() if "f1" in v}
    shipped_val = json.loads((DEFAULT_MODEL_DIR / "eval-val.json").read_text())
    shipped_test = json.loads((DEFAULT_MODEL_DIR / "eval-test.json").read_text())["overall"]
    test_eval = evaluate(best, args.data / "bijie_native", args.run / "eval-test", args.reuse)
    test = test_eval["overall"]
    alarms = evaluate(best, args.data / "bijie_negatives", args.run / "eval-negatives-test", args.reuse)
    fa = alarms["false_alarms"]["all"]

    fa_ok = fa["pixels"] <= MAX_FA_PIXELS and fa["images_over_1pct"] <= MAX_FA_IMAGES
    checks = {
        "false alarms, negatives' test quarter": (
            fa_ok,
            f"{100 * fa['pixels']:.2f} % of pixels (<= 1.5), {100 * fa['images_over_1pct']:.1f} % of images (<= 15)",
        ),
        "Bijie native test quarter": (
            test["f1"] >= MIN_TEST_F1 and test["iou"] >= MIN_TEST_IOU,
            f"F1 {100 * test['f1']:.1f} (>= 76), IoU {100 * test['iou']:.1f} (>= 61)",
        ),
        "validation, all landslide sets": (
            val_f1 >= shipped_val["overall"]["f1"],
            f"F1 {100 * val_f1:.1f} (>= {100 * shipped_val['overall']['f1']:.1f})",
        ),
    }
    for name, f1 in val_sets.items():
        floor = shipped_val["per_dataset"][name]["f1"] - SET_SLACK
        checks[f"validation, {name}"] = (f1 >= floor, f"F1 {100 * f1:.1f} (>= {100 * floor:.1f})")
    fallback = fa_ok and test["f1"] >= shipped_test["f1"] - FALLBACK_LOSS
    checks["fallback: false alarms and <= 1 F1 point lost on the Bijie test quarter"] = (
        fallback,
        f"F1 {100 * test['f1']:.1f} (>= {100 * (shipped_test['f1'] - FALLBACK_LOSS):.1f})",
    )
    report = {
        "checkpoint": str(best),
        "checkpoint_sha256": sha256_file(best),
        "epoch": int(ckpt["epoch"]) + 1,
        "threshold": float(ckpt["config"]["threshold"]),
        "test": {k: float(v) for k, v in test.items() if isinstance(v, float)},
        "false_alarms_test": fa,
        "validation_f1": val_f1,
        "validation_f1_per_set": val_sets,
        "checks": {k: {"met": ok, "figures": text} for k, (ok, text) in checks.items()},
        "releasable": all(ok for k, (ok, _) in checks.items() if not k.startswith("fallback")) or fallback,
    }
    write_text_atomic(args.run / "release_check.json", json.dumps(report, indent=1) + "\n")
    if args.record is not None:
        record = json.loads(args.record.read_text())
        record["test_quarters"] = {
            "command": f"python scripts/release_check.py {args.run}",
            "gated_network_digest": network_digest(ckpt),
            "bijie_native_test": report["test"],
            "negatives_test_false_alarms": fa,
            "scene_gate": test_eval.get("scene_gate"),
            "checks": report["checks"],
            "releasable": report["releasable"],
        }
        write_text_atomic(args.record, json.dumps(record, indent=1) + "\n")
    print(f"{best} (epoch {report['epoch']}, threshold {report['threshold']:g})")
    for name, (ok, text) in checks.items():
        print(f"  {'met    ' if ok else 'not met'}  {name}: {text}")
    print(f"releasable: {report['releasable']}  ({args.run / 'release_check.json'})")


if __name__ == "__main__":
    main()
