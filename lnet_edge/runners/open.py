"""Open a model file as a Runner plus the ModelConfig that feeds it.

The file type decides the backend: ``.pt`` checkpoints run on PyTorch, ``.onnx`` on ONNX
Runtime, ``.plan`` on TensorRT. The configuration comes from the checkpoint or from the
``lnet_edge`` metadata that ``lnet-edge export`` embeds in an ONNX model.
"""

from __future__ import annotations

import json
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.model.config import ModelConfig
from lnet_edge.runners.base import Runner

METADATA_KEY = "lnet_edge"


def load_onnx_graph(path: Path):
    """The ONNX model at ``path`` without external weights, or one clear error for a foreign file."""
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise LnetError(
            f"{path} is not an ONNX model (not a readable ONNX protobuf: {type(exc).__name__}): "
            "give an .onnx from 'lnet-edge export'"
        ) from exc


def embedded_metadata(model) -> dict | None:
    """The lnet-edge manifest embedded in a loaded ONNX model, or None when it has none."""
    props = {p.key: p.value for p in model.metadata_props}
    return json.loads(props[METADATA_KEY]) if METADATA_KEY in props else None


def onnx_metadata(path: Path) -> dict | None:
    """The lnet-edge manifest embedded in the ONNX model at ``path``, or None when it has none."""
    return embedded_metadata(load_onnx_graph(path))


def open_model(path: Path, device: str = "cpu", threads: int | None = None) -> tuple[Runner, ModelConfig]:
    path = Path(path)
    if not path.is_file():
        raise LnetError(f"model {path} does not exist: give a .pt checkpoint or an .onnx export")
    suffix = path.suffix.lower()
    if suffix == ".pt":
        from lnet_edge.model.checkpoint import load_model
        from lnet_edge.runners.torch import TorchRunner

        model, ckpt = load_model(path)
        return TorchRunner(model, device), model.config
    if suffix == ".onnx":
        from lnet_edge.runners.onnxrt import OnnxRuntimeRunner

        meta = onnx_metadata(path)
        if meta is None:
            raise LnetError(f"{path} has no lnet-edge metadata: export it with 'lnet-edge export'")
        return OnnxRuntimeRunner(path, threads, precision=meta.get("precision", "fp32")), ModelConfig.from_dict(
            meta["config"]
        )
    if suffix == ".plan":
        from lnet_edge.runners.tensorrt import TensorRTRunner

        runner = TensorRTRunner(path)  # runs check_plan: manifest vs installed TensorRT and GPU
        return runner, runner.manifest.config
    raise LnetError(f"model {path}: unknown file type '{suffix}', expected .pt, .onnx or .plan")
