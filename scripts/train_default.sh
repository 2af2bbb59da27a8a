#!/usr/bin/env bash
# Trains the shipped default model (L-Net, edge-s, RGB) and, beside it, the Table 1 ablations at
# the same width, each with the paper's recipe and a wall-clock limit. Made for one CUDA GPU with
# about 16 CPU cores for data loading; on a CPU drop the ablations and expect hours.
# Usage: scripts/train_default.sh DATA_ROOT OUT_DIR [MINUTES]
set -euo pipefail
root=$1; out=$2; minutes=${3:-6}
data=(-d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" -d "$root/sichuan_aerial_atlan1024")
run() { python3 -m lnet_edge.cli.main train "${data[@]}" --time-limit "$minutes" --seed 0 "$@"; }
run --variant lnet --workers 5 -o "$out/lnet" > "$out/lnet.log" 2>&1 &
for v in unet unet_mff unet_mff_res; do
  run --variant "$v" --workers 3 -o "$out/$v" > "$out/$v.log" 2>&1 &
done
wait
