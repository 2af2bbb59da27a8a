#!/usr/bin/env bash
# The recorded CPU bench of bench/results/bench-<machine>.{json,md,png} (2-core x86 dev/CI machine).
# Run it from anywhere, on a quiet machine (nothing else using the CPU), with lnet-edge installed:
#     bench/run_cpu.sh            # extra options are passed on, e.g. --machine dev-2core-avx512
# About 6-8 minutes on 2 cores: export, fp16, int8 calibration (reused on a rerun while the
# checkpoint is unchanged), then 5 CPU entries x batch {1,4} x tile {128,256}, 30 timed runs
# after 5 warm-up calls, 48 validation tiles, and 3 passes of the field pipeline on the sample scene.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DATA=${LNET_SHARED_DATA:-../shared/data}
SCENE=$("$PY" -c 'import os; from lnet_edge.defaults import SAMPLE_SCENE; print(os.path.relpath(SAMPLE_SCENE))')
exec "$PY" -m lnet_edge.cli.main bench lnet_edge/assets/default/lnet-edge-s.pt \
    --data "$DATA/bijie_atlan_upscaled" --data "$DATA/cas_hokkaido_iburi_atlan512" \
    --data "$DATA/sichuan_aerial_atlan1024" \
    --batch 1,4 --tile 128,256 --runs 30 --warmup 5 --gsd 0.5 --val-tiles 48 \
    --field "$SCENE" --field-repeats 3 --threads 2 \
    --out bench/results --work runs/bench-work "$@"
