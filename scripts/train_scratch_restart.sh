#!/usr/bin/env bash
# The from-scratch false-alarm run, second stage: a warm restart. Its weights after the 22 epochs
# of scripts/train_scratch_negatives.sh (INIT, their moving average) start a new cosine cycle from
# lr 5e-4 over EPOCHS more epochs, with everything else as in that run: negatives SHARE of every
# epoch with the hard-negative draw, half of the landslide tiles through lossy WebP q95, a 0.998
# moving average, BCE + Dice, batch 8, seed 0, bf16 where the CPU has bf16 kernels, and the best
# checkpoint and threshold chosen on validation within the false-alarm budget.
# Why: the first stage's weights mark their own training negatives as often as unseen ones
# (docs/accuracy.md, "Not memorised, not learnt"): underfit, and its validation F1 within the
# budget was still rising (46.1 -> 48.4 over epochs 12-18) as the learning rate ran out.
# Each sitting stops after the epoch that passes MINUTES; running it again resumes from last.pt.
# Then: python scripts/release_check.py OUT_DIR
# Usage: scripts/train_scratch_restart.sh [DATA_ROOT] [OUT_DIR] [INIT] [EPOCHS] [MINUTES] [SHARE]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-../shared/data}; out=${2:-runs/scratch-restart}; init=${3:-runs/scratch-negatives/last.pt}
epochs=${4:-20}; minutes=${5:-150}; share=${6:-0.3}
resume=()
if [ -f "$out/last.pt" ]; then resume=(--resume "$out/last.pt"); fi
lnet-edge train -d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" \
  -d "$root/cas_hokkaido_iburi_atlan512" -d "$root/sichuan_aerial_atlan1024" \
  --negatives "$root/bijie_negatives" --negative-share "$share" --hard-negatives 2 --max-false-alarms 0.015,0.15 \
  --webp-share 0.5 --ema 0.998 --variant lnet --preset edge-s --optimizer adamw --loss bce_dice \
  --init "$init" --schedule cosine --lr 5e-4 --epochs "$epochs" --seed 0 --workers 1 --time-limit "$minutes" \
  -o "$out" "${resume[@]}"
