#!/usr/bin/env bash
# The paper's Table 3 protocol for a new region, with CAS Hokkaido-Iburi as the region:
#  (a) a variant of the default model trained without CAS, as is;
#  (b) (a) fine-tuned on 70 % of CAS (--init, encoder frozen, the fine-tuning learning rate);
#  (c) the same network trained from scratch on the same 70 %;
# all scored on the other 30 % (the validation side at --val-fraction 0.3). (b) and (c) are
# scored at their last epoch: the 30 % is the test, never used to choose a checkpoint.
# Usage: scripts/finetune_region.sh [DATA_ROOT] [OUT_DIR] [EPOCHS_BASE] [EPOCHS_REGION]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-../shared/data}; out=${2:-runs/finetune}; base_epochs=${3:-30}; region_epochs=${4:-20}
region="$root/cas_hokkaido_iburi_atlan512"
common=(--variant lnet --preset edge-s --optimizer adamw --loss bce_dice --schedule cosine --seed 0 --workers 1)
resume() { if [ -f "$1/last.pt" ]; then echo "--resume $1/last.pt"; fi; }
# shellcheck disable=SC2046
lnet-edge train -d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" -d "$root/sichuan_aerial_atlan1024" \
  -o "$out/base-no-cas" "${common[@]}" --lr 1e-3 --epochs "$base_epochs" $(resume "$out/base-no-cas")  # from scratch: never saw CAS
# shellcheck disable=SC2046
lnet-edge train -d "$region" --val-fraction 0.3 -o "$out/finetuned" "${common[@]}" --epochs "$region_epochs" \
  --init "$out/base-no-cas/best.pt" --freeze-encoder $(resume "$out/finetuned")
# shellcheck disable=SC2046
lnet-edge train -d "$region" --val-fraction 0.3 -o "$out/scratch" "${common[@]}" --lr 1e-3 --epochs "$region_epochs" \
  $(resume "$out/scratch")
for m in base-no-cas/best.pt finetuned/last.pt scratch/last.pt; do
  lnet-edge eval -m "$out/$m" -d "$region" --split val --val-fraction 0.3 -o "$out/eval-$(dirname "$m")"
done
