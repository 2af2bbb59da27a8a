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
exec scripts/train_scratch_negatives.sh "$root" "$out" "${4:-20}" "${5:-150}" "${6:-0.3}" "$init" 5e-4
