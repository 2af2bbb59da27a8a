#!/usr/bin/env bash
# Turns a training run's best.pt into the shipped default model: compact checkpoint (with the
# training GSD range in its configuration; the threshold chosen on validation is already there),
# fp32 ONNX export (checked against PyTorch on real tiles), and its scores: validation over the
# four RGB sets, and the Bijie native test quarter.
# Usage: scripts/release_default.sh RUN_DIR [DATA_ROOT]
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1; root=${2:-../shared/data}
dst=lnet_edge/assets/default
data=(-d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" -d "$root/sichuan_aerial_atlan1024")
# GSD of the training imagery: Bijie 0.8 m (native) and finer (upscaled), Sichuan 0.2-1.0 m, CAS sub-metre
python -c "from lnet_edge.model.checkpoint import release_checkpoint as r; r('$run/best.pt', '$dst/lnet-edge-s.pt', gsd=(0.2, 1.0))"
lnet-edge export -c "$dst/lnet-edge-s.pt" "${data[@]}" -o "$dst/lnet-edge-s.onnx" --no-fp16
lnet-edge eval -m "$dst/lnet-edge-s.onnx" "${data[@]}" --split val -o "$run/eval-val"
lnet-edge eval -m "$dst/lnet-edge-s.onnx" -d "$root/bijie_native" --split test -o "$run/eval-test"
cp "$run/metrics.csv" "$dst/training-metrics.csv"
cp "$run/eval-val/eval.json" "$dst/eval-val.json"
cp "$run/eval-test/eval.json" "$dst/eval-test.json"
