#!/usr/bin/env bash
# Installs everything the tests need into .venv (CPU torch from local disk, TensorRT-RTX for real
# engine builds) and runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[train,test,tensorrt-rtx,cluster]'
.venv/bin/ruff check lnet_edge tests bench scripts
exec .venv/bin/python -m pytest "$@"
