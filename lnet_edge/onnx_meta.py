"""The lnet-edge metadata embedded in an ONNX model, read without exporting anything.

``metadata_props["lnet_edge"]`` of an lnet-edge ONNX model holds one JSON object with its
``format``, ``precision`` (one of PRECISIONS) and ``config`` (ModelConfig.to_dict()); what else
it holds and how it is written is ``export.manifest``'s business. Engines, runners, the CPU int8
checks and the artifact check only read it, so the reading lives here, below all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.contract import check_onnx
from lnet_edge.errors import LnetError

METADATA_KEY = "lnet_edge"
FORMAT = "lnet-edge-onnx"
PRECISIONS = ("fp32", "fp16", "int8-qdq", "int8-cpu")


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
    return metadata_from_props({p.key: p.value for p in model.metadata_props}, path)


def metadata_from_props(props: dict[str, str], path: Path | str) -> dict | None:
    """The lnet-edge manifest in an ONNX model's ``metadata_props``, or None when it has none."""
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
    (given the ONNX ``graph``) the graph keeping the model contract with it (contract.py)."""
    if "config" not in meta:
        raise LnetError(f"{path}: the metadata has no 'config' field: re-export the model with 'lnet-edge export'")
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (LnetError, TypeError, ValueError) as exc:
        raise LnetError(f"{path}: metadata field 'config': {exc}") from None
    if graph is not None:
        check_onnx(graph, config, path)
    return config


def read_wire(path: Path):
    """The ONNX model at ``path`` read without the onnx package (onnx_wire.WireModel), or the
    same clear error as :func:`load_onnx_graph` for a foreign file."""
    from lnet_edge.onnx_wire import WireError, read_model

    try:
        return read_model(path)
    except WireError as exc:
        raise LnetError(
            f"{path} is not an ONNX model (not a readable ONNX protobuf: {exc}): give an .onnx from 'lnet-edge export'"
        ) from exc


def onnx_metadata(path: Path) -> dict | None:
    """The lnet-edge manifest embedded in the ONNX model at ``path``, or None when it has none."""
    return metadata_from_props(read_wire(path).metadata, path)
