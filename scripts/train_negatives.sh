#!/usr/bin/env bash
# The false-alarm recipe: fine-tunes the shipped L-Net edge-s on the four RGB landslide sets with
# non-landslide Bijie scenes taking SHARE of each epoch and half of the landslide tiles passed
# through lossy WebP q95 (as the negatives are), BatchNorm statistics kept from the shipped model
# (--freeze-bn), at most STEPS batches an epoch, AdamW lr 3e-4 with cosine decay over EPOCHS,
# BCE + Dice, batch 8, seed 0. The checkpoint and threshold are chosen on validation, negatives
# included. Each sitting stops after the epoch that passes MINUTES; running it again resumes from
# last.pt and appends to OUT_DIR/metrics.csv.
# LR (3e-4) and EMA (none; a decay such as 0.998 validates and saves a moving average of the
# weights) are for a gentler fine-tuning that keeps more of the shipped model's Bijie scores:
#   scripts/train_negatives.sh ../shared/data runs/ema-ft 5 80 0.15 1 250 1e-4 0.998
# Then: scripts/release_default.sh OUT_DIR
# Usage: scripts/train_negatives.sh [DATA_ROOT] [OUT_DIR] [EPOCHS] [MINUTES] [SHARE] [WORKERS] [STEPS] [LR] [EMA]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-../shared/data}; out=${2:-runs/negatives}; epochs=${3:-5}; minutes=${4:-150}; share=${5:-0.4}
workers=${6:-1}; steps=${7:-250}; lr=${8:-3e-4}
ema=(); if [ -n "${9:-}" ]; then ema=(--ema "$9"); fi
resume=()
if [ -f "$out/last.pt" ]; then resume=(--resume "$out/last.pt"); fi
lnet-edge train -d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" \
  -d "$root/sichuan_aerial_atlan1024" --negatives "$root/bijie_negatives" --negative-share "$share" \
  --webp-share 0.5 --init default --freeze-bn --variant lnet --preset edge-s --optimizer adamw --loss bce_dice \
  --schedule cosine --lr "$lr" --epochs "$epochs" --steps-per-epoch "$steps" --seed 0 --workers "$workers" --time-limit "$minutes" \
  -o "$out" "${ema[@]}" "${resume[@]}"
