"""Open a model file as a Runner plus the ModelConfig that feeds it.

The file type decides the backend: ``.pt`` checkpoints run on PyTorch, ``.onnx`` on ONNX
Runtime, ``.plan`` on TensorRT. The configuration comes from the checkpoint or from the
``lnet_edge`` metadata that ``lnet-edge export`` embeds in an ONNX model.
"""

from __future__ import annotations

from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.runners.base import Runner
from lnet_edge.runners.registry import for_file


def open_model(
    path: Path, device: str = "cpu", threads: int | None = None, cuda_graph: bool = False
) -> tuple[Runner, ModelConfig]:
    """The Runner and configuration of a model file, on the default backend of its suffix
    (``runners.registry``): ``.pt`` PyTorch, ``.onnx`` ONNX Runtime, ``.plan`` TensorRT."""
    path = Path(path)
    if not path.is_file():
        raise LnetError(f"model {path} does not exist: give a .pt checkpoint, an .onnx export or a .plan")
    return for_file(path).open(path, threads=threads, device=device, cuda_graph=cuda_graph)
