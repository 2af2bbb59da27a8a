#!/usr/bin/env bash
# Turns a training run's best.pt into the shipped default model: compact checkpoint, fp32 ONNX
# export (checked against PyTorch on real tiles) and its evaluation on the validation split.
# Usage: scripts/release_default.sh RUN_DIR [DATA_ROOT]
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1; root=${2:-../shared/data}
dst=lnet_edge/assets/default
data=(-d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" -d "$root/sichuan_aerial_atlan1024")
python -c "from lnet_edge.model.checkpoint import release_checkpoint as r; r('$run/best.pt', '$dst/lnet-edge-s.pt')"
lnet-edge export -c "$dst/lnet-edge-s.pt" "${data[@]}" -o "$dst/lnet-edge-s.onnx" --no-fp16
lnet-edge eval -m "$dst/lnet-edge-s.onnx" "${data[@]}" --split val -o "$run/eval-val"
cp "$run/metrics.csv" "$dst/training-metrics.csv"
