#!/usr/bin/env bash
# Turns a training run's best.pt into the shipped default model, a bundle in
# lnet_edge/assets/default: compact checkpoint (with the training GSD range in its configuration;
# the threshold chosen on validation is already there), fp32 ONNX export (checked against PyTorch
# on real tiles), int8 calibration with its accuracy gate (TensorRT QDQ model, CPU int8 model,
# TensorRT cache), bundle.json, and the scores: validation over the four RGB sets, the Bijie
# native test quarter, and false alarms on the non-landslide Bijie scenes' validation and test
# parts (0.8 m pixels). The shipped bundle leaves out the fp16 ONNX to keep the package small
# ('lnet-edge pack' bundles include it).
# DEST (the shipped bundle's folder by default) is for a rehearsal: another folder that holds a
# MODEL_CARD.md gets the bundle and scores instead, and the shipped one is left as it is.
# Usage: scripts/release_default.sh RUN_DIR [DATA_ROOT] [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1; root=${2:-../shared/data}
dst=${3:-lnet_edge/assets/default}
if [ ! -f "$dst/MODEL_CARD.md" ]; then echo "release_default.sh: $dst has no MODEL_CARD.md to keep" >&2; exit 2; fi
if [ ! -f "$run/metrics.csv" ]; then
  echo "release_default.sh: $run has no metrics.csv (the learning curve the bundle ships): copy the run's, or" \
    "for a gate fitted to the shipped weights lnet_edge/assets/default/training-metrics.csv" >&2
  exit 2
fi
work="$run/release"
data=(-d "$root/bijie_native" -d "$root/bijie_atlan_upscaled" -d "$root/cas_hokkaido_iburi_atlan512" -d "$root/sichuan_aerial_atlan1024")
rm -rf "$work"; mkdir -p "$work"
# GSD of the training imagery: Bijie 0.8 m (native) and finer (upscaled), Sichuan 0.2-1.0 m, CAS sub-metre
python -c "from lnet_edge.model.checkpoint import release_checkpoint as r; r('$run/best.pt', '$work/lnet-edge-s.pt', gsd=(0.2, 1.0))"
lnet-edge export -c "$work/lnet-edge-s.pt" "${data[@]}" -o "$work/lnet-edge-s.onnx" --no-fp16
lnet-edge calibrate -m "$work/lnet-edge-s.onnx" "${data[@]}" -o "$work/calibration"
python - "$work" "$dst" <<'PY'
import sys
from pathlib import Path
from lnet_edge.bundle import calibration_for, pack_bundle
work, dst = Path(sys.argv[1]), Path(sys.argv[2])
fp32 = work / "lnet-edge-s.onnx"
cal = calibration_for(fp32, work / "calibration")  # the int8 models, calibration cache and report, by role
pack_bundle({"fp32": fp32, **cal}, work / "bundle", dst / "MODEL_CARD.md")
PY
lnet-edge eval -m "$work/lnet-edge-s.onnx" "${data[@]}" --split val -o "$run/eval-val"
lnet-edge eval -m "$work/lnet-edge-s.onnx" -d "$root/bijie_native" --split test -o "$run/eval-test"
for side in val test; do
  lnet-edge eval -m "$work/lnet-edge-s.onnx" -d "$root/bijie_negatives" --split "$side" --pixel-size 0.8 \
    -o "$run/eval-negatives-$side"
done
# swap the new bundle in, keeping the model card
cp "$dst/MODEL_CARD.md" "$work/bundle/MODEL_CARD.md"
rm -f "$dst"/*.onnx "$dst"/*.onnx.json "$dst"/*.cache "$dst"/*.calibration.json "$dst"/bundle.json
cp "$work/bundle"/* "$dst"/
cp "$work/lnet-edge-s.pt" "$dst/lnet-edge-s.pt"
cp "$run/metrics.csv" "$dst/training-metrics.csv"
cp "$run/eval-val/eval.json" "$dst/eval-val.json"
cp "$run/eval-test/eval.json" "$dst/eval-test.json"
cp "$run/eval-negatives-val/eval.json" "$dst/eval-negatives-val.json"
cp "$run/eval-negatives-test/eval.json" "$dst/eval-negatives-test.json"
