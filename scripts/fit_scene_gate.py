"""Give a trained network a scene gate: fit it on the development images, choose its L2 strength,
cut, threshold and floor on five folds, and write the gated checkpoint (lnet_edge.train.scene_gate).

OUT_DIR/best.pt is the gated checkpoint (what scripts/release_check.py and
scripts/release_default.sh read); bench/results/scene_gate-<checkpoint sha256[:8]>.json the
record: the choice for each L2 strength, every (cut, threshold, floor) on the five folds for the
one kept, the network's best without a gate at the same budget, and how many validation landslide
images pass as they are and as WebP. About 12 minutes on a 2-core CPU for edge-s.
Usage: python scripts/fit_scene_gate.py CHECKPOINT OUT_DIR [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from lnet_edge.files import sha256_file, write_text_atomic
from lnet_edge.model.checkpoint import save_checkpoint
from lnet_edge.train.scene_gate import fit_scene_gate

ROOT = Path(__file__).resolve().parents[1]
SETS = ["bijie_native", "bijie_atlan_upscaled", "cas_hokkaido_iburi_atlan512", "sichuan_aerial_atlan1024"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    ckpt, record = fit_scene_gate(
        args.checkpoint, [args.data / s for s in SETS], [args.data / "bijie_negatives"], lambda m: print(m, flush=True)
    )
    sha = sha256_file(args.checkpoint)
    record = {"date": datetime.date.today().isoformat(), "checkpoint_sha256": sha, **record}
    args.out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.out / "best.pt", ckpt)
    out = ROOT / "bench" / "results" / f"scene_gate-{sha[:8]}.json"
    write_text_atomic(out, json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("chosen", "best_without_gate", "validation_landslide_images_passing")}))
    print(f"wrote {args.out / 'best.pt'} and {out}")


if __name__ == "__main__":
    main()
