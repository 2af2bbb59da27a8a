#!/usr/bin/env bash
# Trains the shipped default model: L-Net, edge-s, RGB, on Bijie + CAS Hokkaido-Iburi + Sichuan,
# with AdamW (lr 1e-3) and BCE + Dice, a wall-clock limit, seed 0. Made for one CUDA GPU with
# about 16 CPU cores for data loading (on 2 CPU cores an epoch takes minutes).
# Usage: scripts/train_default.sh DATA_ROOT OUT_DIR [MINUTES] [WORKERS]
set -euo pipefail
root=$1; out=$2; minutes=${3:-4}; workers=${4:-12}
python3 -m lnet_edge.cli.main train \
  -d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" -d "$root/sichuan_aerial_atlan1024" \
  --variant lnet --preset edge-s --optimizer adamw --loss bce_dice --lr 1e-3 --weight-decay 1e-4 \
  --time-limit "$minutes" --seed 0 --workers "$workers" -o "$out"
