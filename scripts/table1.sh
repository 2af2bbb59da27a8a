#!/usr/bin/env bash
# The paper's Table 1 on Bijie native: the four variants (unet, unet_mff, unet_mff_res, lnet)
# trained with one recipe, width, epoch count and seed, each scored on the fixed test quarter.
# Resumable: a variant with a last.pt continues where it stopped (each sitting is limited to
# MINUTES per variant), one with a finished run is only re-scored.
# Usage: scripts/table1.sh [DATA_ROOT] [OUT_DIR] [EPOCHS] [MINUTES] [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-../shared/data}; out=${2:-runs/table1}; epochs=${3:-40}; minutes=${4:-600}; preset=${5:-edge-s}
for v in unet unet_mff unet_mff_res lnet; do
  run="$out/$v"
  resume=()
  if [ -f "$run/last.pt" ]; then resume=(--resume "$run/last.pt"); fi
  lnet-edge train -d "$root/bijie_native" -o "$run" --variant "$v" --preset "$preset" \
    --optimizer adamw --loss bce_dice --schedule cosine --lr 1e-3 --epochs "$epochs" --seed 0 \
    --workers 1 --time-limit "$minutes" "${resume[@]}"
  lnet-edge eval -m "$run/best.pt" -d "$root/bijie_native" --split test -o "$run/eval-test"
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
# Dong et al. 2022, Table 1: precision, recall, F1, MIoU (= landslide IoU) on their own test set
paper = {"unet": (84.39, 80.89, 82.60, 70.36), "unet_mff": (87.52, 81.42, 84.36, 72.95),
         "unet_mff_res": (88.34, 82.65, 85.40, 74.52), "lnet": (88.54, 83.54, 85.97, 75.18)}
rows = ["| variant | precision | recall | F1 | IoU | epochs | paper P / R / F1 / IoU |", "|---|---|---|---|---|---|---|"]
for v, p in paper.items():
    report = json.loads((out / v / "eval-test" / "eval.json").read_text())["overall"]
    epochs = len(json.loads((out / v / "metrics.json").read_text()))
    rows.append(f"| {v} | {100 * report['precision']:.1f} | {100 * report['recall']:.1f} | {100 * report['f1']:.1f} | "
                f"{100 * report['iou']:.1f} | {epochs} | {' / '.join(f'{x:.1f}' for x in p)} |")
(out / "table1.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
