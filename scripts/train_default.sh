#!/usr/bin/env bash
# Trains the shipped default model's recipe: L-Net edge-s, RGB, from scratch on the four RGB sets
# (Bijie native, the upscaled Bijie copies, CAS Hokkaido-Iburi, Sichuan), AdamW lr 1e-3 with
# cosine decay over EPOCHS, BCE + Dice, batch 8, seed 0, bf16 autocast on the CPU. Each sitting
# stops after the epoch that passes MINUTES; running it again resumes from last.pt.
# Then: scripts/release_default.sh OUT_DIR
# Usage: scripts/train_default.sh [DATA_ROOT] [OUT_DIR] [EPOCHS] [MINUTES] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-../shared/data}; out=${2:-runs/default}; epochs=${3:-22}; minutes=${4:-105}; workers=${5:-1}
resume=()
if [ -f "$out/last.pt" ]; then resume=(--resume "$out/last.pt"); fi
lnet-edge train -d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" \
  -d "$root/sichuan_aerial_atlan1024" --variant lnet --preset edge-s --optimizer adamw --loss bce_dice \
  --schedule cosine --lr 1e-3 --epochs "$epochs" --seed 0 --workers "$workers" --time-limit "$minutes" \
  -o "$out" "${resume[@]}"
