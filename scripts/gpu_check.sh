#!/usr/bin/env bash
# CUDA-only checks of lnet_edge/cuda.py (device + pinned memory, streams, async
# copies, CUDA-graph capture and replay, error reporting) on a machine with a CUDA GPU.
# Needs python with numpy, pytest and cuda-python; no TensorRT and no lnet-edge install needed.
# Usage: scripts/gpu_check.sh            (PYTHON=/path/to/python to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - <<'PYEOF'
import sys
from lnet_edge import cuda as cm
rt = cm.cudart()
if rt is None:
    sys.exit("FAIL: cuda-python is not installed (pip install cuda-python)")
import cuda.bindings
print("cuda-python", cuda.bindings.__version__, "| runtime", rt.cudaRuntimeGetVersion()[1], "| driver", rt.cudaDriverGetVersion()[1])
if cm.device_count() == 0:
    sys.exit("FAIL: no CUDA device visible: " + str(rt.cudaGetDeviceCount()[0]))
d = cm.device_info(0)
print(f"device 0: {d.name}, compute capability {d.compute_capability}, {d.memory_mib} MiB")
PYEOF
"$PY" -m pytest -v -rs -p no:cacheprovider tests/runners/test_cuda_memory.py
