"""Give a trained network a scene gate: fit it on the development images, choose its L2 strength,
cut, threshold and floor on five folds, and write the gated checkpoint (lnet_edge.train.scene_gate).

OUT_DIR/best.pt is the gated checkpoint (what scripts/release_check.py and
scripts/release_default.sh read); bench/results/scene_gate-<checkpoint sha256[:8]>.json the
record (…-meanmax.json for the mean-and-max descriptor): the choice for each L2 strength, every
(cut, threshold, floor) on the five folds for the one kept, the network's best without a gate at
the same budget, and how many validation landslide images pass as they are and as WebP. A record's
test-quarter scores (added after scripts/release_check.py) are kept when the refit gives the
same gated network (configuration and weights: lnet_edge.model.checkpoint.network_digest), and
dropped, with a line saying so, when it does not.
About 12 minutes on a 2-core CPU for edge-s.

The mean-and-max gate on the shipped weights, as scored on the test quarters:
    python scripts/fit_scene_gate.py lnet_edge/assets/default/lnet-edge-s.pt runs/gate-shipped \
        --descriptor mean-max --c 0.2
Usage: python scripts/fit_scene_gate.py CHECKPOINT OUT_DIR [--data ../shared/data]
           [--descriptor weighted|mean-max] [--c C ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from lnet_edge.config import GATE_DESCRIPTORS
from lnet_edge.files import sha256_file, write_text_atomic
from lnet_edge.model.checkpoint import network_digest, save_checkpoint
from lnet_edge.train.scene_gate import CS, fit_scene_gate

ROOT = Path(__file__).resolve().parents[1]
SETS = ["bijie_native", "bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--descriptor", choices=GATE_DESCRIPTORS, default=None, help="default: the checkpoint's own")
    ap.add_argument("--c", type=float, nargs="+", default=list(CS), help=f"L2 strengths tried (default {CS})")
    args = ap.parse_args()
    ckpt, record = fit_scene_gate(
        args.checkpoint,
        [args.data / s for s in SETS],
        [args.data / "bijie_negatives"],
        lambda m: print(m, flush=True),
        descriptor=args.descriptor,
        cs=tuple(args.c),
    )
    sha = sha256_file(args.checkpoint)
    record = {"date": datetime.date.today().isoformat(), "checkpoint_sha256": sha, **record}
    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out / "best.pt", ckpt)
    suffix = "-meanmax" if record["descriptor"] == "mean-max" else ""
    out = ROOT / "bench" / "results" / f"scene_gate-{sha[:8]}{suffix}.json"
    scored = json.loads(out.read_text()).get("test_quarters") if out.is_file() else None
    if scored and scored.get("gated_network_digest") == network_digest(ckpt):
        record["test_quarters"] = scored  # the same configuration and weights: its test scores still hold
    elif scored:
        print(f"{out.name}: the test-quarter scores of the earlier fit are dropped (another gated network)")
    write_text_atomic(out, json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("chosen", "best_without_gate", "validation_landslide_images_passing")}))
    print(f"wrote {args.out / 'best.pt'} and {out}")


if __name__ == "__main__":
    main()
