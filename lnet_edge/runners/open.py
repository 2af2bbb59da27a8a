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


def embedded_metadata(model, path: Path | str = "the ONNX model") -> dict | None:
    """The lnet-edge manifest embedded in a loaded ONNX model, or None when it has none."""
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        return None
    try:
        meta = json.loads(props[METADATA_KEY])
    except ValueError as exc:
        raise LnetError(
            f"{path}: the '{METADATA_KEY}' metadata is not valid JSON ({exc}): re-export the model"
        ) from None
    if not isinstance(meta, dict):
        raise LnetError(f"{path}: the '{METADATA_KEY}' metadata is a {type(meta).__name__}, not an object")
    return meta


def config_from_metadata(meta: dict, path: Path, graph=None) -> ModelConfig:
    """The ModelConfig in an artifact's metadata, checked as user input: every field valid, and
    (given the ONNX ``graph``) the band count and tile size agreeing with the graph's input."""
    if "config" not in meta:
        raise LnetError(f"{path}: the metadata has no 'config' field: re-export the model with 'lnet-edge export'")
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (LnetError, TypeError, ValueError) as exc:
        raise LnetError(f"{path}: metadata field 'config': {exc}") from None
    if graph is not None and graph.graph.input:
        dims = [
            d.dim_value if d.HasField("dim_value") else None for d in graph.graph.input[0].type.tensor_type.shape.dim
        ]
        if len(dims) == 4:
            if dims[1] is not None and dims[1] != config.in_channels:
                raise LnetError(
                    f"{path}: metadata field 'config.bands' lists {config.in_channels} bands but the graph "
                    f"takes {dims[1]} channels: restore the metadata or re-export the model"
                )
            for d in dims[2:]:
                if d is not None and d != config.tile:
                    raise LnetError(
                        f"{path}: metadata field 'config.tile' is {config.tile} but the graph takes {d} px: "
                        "restore the metadata or re-export the model"
                    )
    return config


def onnx_metadata(path: Path) -> dict | None:
    """The lnet-edge manifest embedded in the ONNX model at ``path``, or None when it has none."""
    return embedded_metadata(load_onnx_graph(path), path)


def open_model(
    path: Path, device: str = "cpu", threads: int | None = None, cuda_graph: bool = False
) -> tuple[Runner, ModelConfig]:
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

        graph = load_onnx_graph(path)
        meta = embedded_metadata(graph, path)
        if meta is None:
            raise LnetError(f"{path} has no lnet-edge metadata: export it with 'lnet-edge export'")
        config = config_from_metadata(meta, path, graph)
        return OnnxRuntimeRunner(path, threads, precision=str(meta.get("precision", "fp32"))), config
    if suffix == ".plan":
        from lnet_edge.runners.tensorrt import TensorRTRunner

        runner = TensorRTRunner(path, cuda_graph=cuda_graph)  # runs check_plan: manifest vs installed TensorRT and GPU
        return runner, runner.manifest.config
    raise LnetError(f"model {path}: unknown file type '{suffix}', expected .pt, .onnx or .plan")
