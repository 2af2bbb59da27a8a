"""Where the shipped default model and samples live inside the package."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
DEFAULT_MODEL_DIR = ASSETS / "default"
DEFAULT_ONNX = DEFAULT_MODEL_DIR / "lnet-edge-s.onnx"
DEFAULT_CHECKPOINT = DEFAULT_MODEL_DIR / "lnet-edge-s.pt"
SAMPLE_TILES = ASSETS / "samples" / "tiles"
SAMPLE_SCENE = ASSETS / "samples" / "scene" / "sichuan_landslide003.tif"
