"""Lazy imports of optional heavy dependencies, each with the pip command that fixes it."""

from __future__ import annotations

import importlib
from types import ModuleType

from lnet_edge.errors import LnetError

# module name -> the install command that provides it
PIP_HINTS = {
    "torch": "pip install 'lnet-edge[train]' (CPU: pip install torch==2.13.0)",
    "onnxsim": "pip install 'lnet-edge[train]'",
    "onnxconverter_common": "pip install 'lnet-edge[train]'",
    "matplotlib": "pip install matplotlib",
    "tensorrt": "install TensorRT from JetPack or NVIDIA's index (pip install 'lnet-edge[tensorrt]')",
    "tensorrt_rtx": "pip install 'lnet-edge[tensorrt-rtx]'",
    "cuda": "pip install cuda-python",
    "pycuda": "pip install pycuda",
}


def lazy_import(name: str) -> ModuleType:
    """Import ``name`` or raise :class:`LnetError` naming the pip command that provides it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        hint = PIP_HINTS.get(top, f"pip install {top}")
        raise LnetError(f"this needs the Python package '{top}', which is not installed: {hint}") from exc
