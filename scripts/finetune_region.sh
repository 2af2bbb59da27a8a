#!/usr/bin/env bash
# The paper's Table 3 protocol for a new region, with CAS Hokkaido-Iburi as the region:
#  (a) a model trained without CAS, as is: BASE, a checkpoint that never saw CAS, or "train" to
#      train one here on Bijie native, the upscaled Bijie copies and Sichuan (EPOCHS_BASE epochs);
#  (b) (a) fine-tuned on 70 % of CAS (--init, encoder frozen, the fine-tuning learning rate);
#  (b2) the same with the whole network trained (no --freeze-encoder);
#  (b3) the whole network at the from-scratch learning rate, 1e-3 (only the start differs from (c));
#  (c) the same network trained from scratch on the same 70 %;
# all scored on the other 30 % (the validation side at --val-fraction 0.3). (b) and (c) are
# scored at their last epoch and every model at threshold 0.5: the 30 % is the test, never used
# to choose a checkpoint or a threshold.
# Usage: scripts/finetune_region.sh [DATA_ROOT] [OUT_DIR] [BASE|train] [EPOCHS_REGION] [PRESET] [EPOCHS_BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-../shared/data}; out=${2:-runs/finetune}; base=${3:-train}; region_epochs=${4:-20}
preset=${5:-edge-s}; base_epochs=${6:-30}
region="$root/cas_hokkaido_iburi_atlan512"
common=(--variant lnet --preset "$preset" --optimizer adamw --loss bce_dice --schedule cosine --seed 0 --workers 1)
resume() { if [ -f "$1/last.pt" ]; then echo "--resume $1/last.pt"; fi; }
if [ "$base" = train ]; then
  # shellcheck disable=SC2046
  lnet-edge train -d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" -d "$root/sichuan_aerial_atlan1024" \
    -o "$out/base-no-cas" "${common[@]}" --lr 1e-3 --epochs "$base_epochs" $(resume "$out/base-no-cas")  # never saw CAS
  base="$out/base-no-cas/best.pt"
fi
# One run on 70 % of the region: NAME, then its own options.
region_train() {
  local name=$1; shift
  # shellcheck disable=SC2046
  lnet-edge train -d "$region" --val-fraction 0.3 -o "$out/$name" "${common[@]}" --epochs "$region_epochs" "$@" \
    $(resume "$out/$name")
}
region_train finetuned --init "$base" --freeze-encoder
region_train finetuned-all --init "$base"
region_train finetuned-all-lr1e-3 --init "$base" --lr 1e-3
region_train scratch --lr 1e-3
lnet-edge eval -m "$base" -d "$region" --split val --val-fraction 0.3 --threshold 0.5 -o "$out/eval-base"
for m in finetuned finetuned-all finetuned-all-lr1e-3 scratch; do
  lnet-edge eval -m "$out/$m/last.pt" -d "$region" --split val --val-fraction 0.3 --threshold 0.5 -o "$out/eval-$m"
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
rows = ["| model | precision | recall | F1 | IoU |", "|---|---|---|---|---|"]
names = {"base": "(a) without CAS, as is", "finetuned": "(b) fine-tuned on 70 % of CAS, encoder frozen",
         "finetuned-all": "(b2) fine-tuned on 70 % of CAS, whole network",
         "finetuned-all-lr1e-3": "(b3) fine-tuned on 70 % of CAS, whole network, lr 1e-3", "scratch": "(c) from scratch on the same 70 %"}
for key, label in names.items():
    r = json.loads((out / f"eval-{key}" / "eval.json").read_text())["overall"]
    rows.append(f"| {label} | {100 * r['precision']:.1f} | {100 * r['recall']:.1f} | {100 * r['f1']:.1f} | {100 * r['iou']:.1f} |")
(out / "finetune.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
