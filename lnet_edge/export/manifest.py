"""The lnet-edge metadata of an exported ONNX model: embedded and written beside it.

The same JSON object lives in ``metadata_props["lnet_edge"]`` of ``X.onnx`` and in the manifest
``X.onnx.json``. It always holds ``config`` (ModelConfig.to_dict()) and ``precision``
(fp32 | fp16 | int8-qdq | int8-cpu), which ``onnx_meta.config_from_metadata`` reads for every backend, plus the
facts a field engineer needs without opening the model: bands and their order, normalisation, tile size,
decision threshold, the source checkpoint's sha256 and the lnet-edge version that made it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lnet_edge import __version__
from lnet_edge.config import TILE_MULTIPLE, ModelConfig
from lnet_edge.contract import INPUT_NAME, OUTPUT_NAME
from lnet_edge.errors import LnetError
from lnet_edge.onnx_meta import (
    FORMAT,
    METADATA_KEY,
    PRECISIONS,
    config_from_metadata,
    embedded_metadata,
    load_onnx_graph,
)


def export_metadata(config: ModelConfig, precision: str, checkpoint_sha256: str, **extra: Any) -> dict:
    """The metadata object of one artifact; ``extra`` adds stage facts (options, parity, ...)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} not in {PRECISIONS}")
    return {
        "format": FORMAT,
        "format_version": 1,
        "precision": precision,
        "config": config.to_dict(),
        "preset": config.preset,
        "variant": config.variant.value,
        "input": {
            "name": INPUT_NAME,
            "layout": "NCHW",
            "dtype": "float32",
            "multiple_of": TILE_MULTIPLE,
            "bands": list(config.bands),
            "band_names": list(config.band_names),
        },
        "output": {"name": OUTPUT_NAME, "layout": "N1HW", "dtype": "float32", "kind": "logits"},
        "normalization": {
            "formula": "(x_raw * scale - mean[band]) / std[band]",
            "scale": config.norm.scale,
            "mean": list(config.norm.mean),
            "std": list(config.norm.std),
        },
        "tile": config.tile,
        "threshold": config.threshold,
        "source_checkpoint_sha256": checkpoint_sha256,
        "lnet_edge_version": __version__,
        **extra,
    }


def embed_metadata(model, meta: dict) -> None:
    """Set (or replace) the ``lnet_edge`` entry of an onnx.ModelProto's metadata_props."""
    keep = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)


def save_artifact(model, out: Path, meta: dict, overwrite: bool = False) -> Path:
    """Embed ``meta``, write ``out`` and ``out.json`` under this run's ``.part`` names, then
    rename both. A file already at either name is replaced only when it is an earlier lnet-edge
    output, or with ``overwrite``; a failure before the renames leaves no partial artifact behind.
    """
    import onnx

    from lnet_edge.artifacts import made_by_lnet_edge
    from lnet_edge.files import StagedFiles

    out = Path(out)
    embed_metadata(model, meta)
    with StagedFiles(out.parent, overwrite, made_by_lnet_edge) as stage:
        onnx.save(model, str(stage.part(out.name)))
        stage.part(manifest_path(out).name).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        stage.commit()
    return out


def artifact_files(onnx_path: Path) -> tuple[Path, Path]:
    """What :func:`save_artifact` writes for ``onnx_path``: the model and its manifest."""
    return Path(onnx_path), manifest_path(onnx_path)


def manifest_path(onnx_path: Path) -> Path:
    return Path(onnx_path).with_name(Path(onnx_path).name + ".json")


def read_export_metadata(path: Path, precision: str | None = None) -> dict:
    """The metadata of an lnet-edge export; a clear LnetError for anything else.

    ``precision`` (optional) is the precision the caller needs, e.g. "fp32" for calibration.
    """
    path = Path(path)
    if not path.is_file():
        raise LnetError(f"ONNX model {path} does not exist: make one with 'lnet-edge export'")
    graph = load_onnx_graph(path)
    meta = embedded_metadata(graph, path)
    if meta is None or meta.get("format") != FORMAT:
        raise LnetError(
            f"{path} is not an lnet-edge export (no '{METADATA_KEY}' metadata): "
            "make the ONNX model with 'lnet-edge export' from a checkpoint"
        )
    config_from_metadata(meta, path, graph)  # every field checked, as user input
    if precision is not None and meta.get("precision") != precision:
        raise LnetError(
            f"{path} is a {meta.get('precision')} model but a {precision} one is needed: "
            f"give the {precision} export (lnet-edge export writes NAME.onnx as fp32)"
        )
    return meta


def config_of(meta: dict) -> ModelConfig:
    return ModelConfig.from_dict(meta["config"])
