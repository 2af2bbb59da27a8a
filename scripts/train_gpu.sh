#!/usr/bin/env bash
# The false-alarm recipe (scripts/train_negatives.sh) on a CUDA GPU machine that has no ../shared
# and no package registry: unpacks the training data carried in .carry/train.npz into /tmp, runs
# the same options on the GPU in one call (bf16 autocast where the GPU has it), and leaves
# runs/gpu-RECIPE/ (best.pt, last.pt, metrics.csv) for scripts/release_default.sh. The default-model
# checkpoint it starts from is in the checkout (lnet_edge/assets/default).
# Prepare beside ../shared (keep it under 48 MiB: JPEG q85 for the lossless sets, the WebP negatives as
# they are, no test parts):
#   python scripts/pack_data.py pack ../shared/data/{bijie_native,bijie_atlan_upscaled,cas_hokkaido_iburi_atlan512,sichuan_aerial_atlan1024,bijie_negatives} \
#     --skip-test --quality 85 -o .carry/train.npz
# RECIPE (4th): finetune (the above, from the shipped model) or scratch (scripts/train_scratch_negatives.sh's
# options: from scratch, negatives in every epoch with the hard-negative draw, a moving average; 22 epochs).
# Usage there: scripts/train_gpu.sh [EPOCHS] [MINUTES] [SHARE] [RECIPE]   (needs torch, numpy, opencv, typer, rich)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-5}; minutes=${2:-8}; share=${3:-0.4}; recipe=${4:-finetune}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
missing=$(python3 -c "
import importlib.util as u
print(' '.join(m for m in ('torch', 'numpy', 'cv2', 'typer', 'rich') if u.find_spec(m) is None))")
if [ -n "$missing" ]; then echo "train_gpu.sh: missing Python packages: $missing" >&2; exit 2; fi
if [ ! -f .carry/train.npz ]; then echo "train_gpu.sh: no .carry/train.npz: pack it first (see the header)" >&2; exit 2; fi
data=/tmp/lnet-edge-data
python3 scripts/pack_data.py unpack .carry/train.npz -o "$data"
out=runs/gpu-$recipe; resume=()
if [ -f "$out/last.pt" ]; then resume=(--resume "$out/last.pt"); fi
case "$recipe" in
  finetune) options=(--init default --freeze-bn --steps-per-epoch 250 --lr 3e-4) ;;
  scratch) options=(--hard-negatives 2 --max-false-alarms 0.015,0.15 --ema 0.998 --lr 1e-3) ;;
  *) echo "train_gpu.sh: RECIPE is finetune or scratch, not '$recipe'" >&2; exit 2 ;;
esac
python3 -m lnet_edge.cli.main train -d "$data/bijie_native" -d "$data/bijie_atlan_upscaled" \
  -d "$data/cas_hokkaido_iburi_atlan512" -d "$data/sichuan_aerial_atlan1024" --negatives "$data/bijie_negatives" \
  --negative-share "$share" --webp-share 0.5 --variant lnet --preset edge-s --optimizer adamw \
  --loss bce_dice --schedule cosine --epochs "$epochs" --seed 0 --workers 8 --device cuda \
  --time-limit "$minutes" -o "$out" "${options[@]}" "${resume[@]}"
