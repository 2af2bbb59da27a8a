"""What a build needs to know about its ONNX: hash, lnet-edge metadata, and the precision it holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.contract import check_onnx
from lnet_edge.errors import LnetError
from lnet_edge.files import sha256_file
from lnet_edge.onnx_meta import config_from_metadata, embedded_metadata, load_onnx_graph


@dataclass(frozen=True)
class OnnxInfo:
    path: Path
    sha256: str
    config: ModelConfig
    metadata_precision: str | None
    content_precision: str  # "int8" (has Q/DQ), "fp16" (fp16 weights) or "fp32"
    calibration_sha256: str | None
    defaulted: bool  # no lnet-edge metadata: config is the default RGB model's

    def defaults_note(self) -> str:
        c = self.config
        return (
            f"{self.path} has no lnet-edge metadata: assuming the defaults (bands {list(c.band_names)}, "
            f"normalisation x*{c.norm.scale:.6g} - mean {list(c.norm.mean)} / std {list(c.norm.std)}, "
            f"tile {c.tile}, threshold {c.threshold}); export with 'lnet-edge export' to record the real ones"
        )


def read_onnx(path: Path) -> OnnxInfo:
    """Read ``path`` (graph without external weights) or raise one clear error for a foreign file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise LnetError(
            f"ONNX model {path} does not exist: give the .onnx from 'lnet-edge export' or 'lnet-edge calibrate'"
        )
    model = load_onnx_graph(path)
    if not model.graph.node:
        raise LnetError(f"{path} is not an ONNX model (no graph nodes): give an .onnx from 'lnet-edge export'")
    meta = embedded_metadata(model, path)
    ops = {n.op_type for n in model.graph.node}
    fp16 = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    content = "int8" if {"QuantizeLinear", "DequantizeLinear"} & ops else "fp16" if fp16 else "fp32"
    precision = (meta or {}).get("precision")
    if precision == "int8-cpu":
        raise LnetError(
            f"{path} is the CPU int8 model (uint8 activations, for ONNX Runtime): TensorRT needs the "
            "int8 QDQ ONNX from 'lnet-edge calibrate' (the int8-qdq file)"
        )
    calib = (meta or {}).get("calibration") or {}
    config = config_from_metadata(meta, path, model) if meta else ModelConfig()
    if not meta:
        check_onnx(model, config, path)  # the defaults' contract: a plan records this config
    return OnnxInfo(
        path=path,
        sha256=sha256_file(path),
        config=config,
        metadata_precision={"int8-qdq": "int8"}.get(precision, precision),
        content_precision=content,
        calibration_sha256=calib.get("sha256") if isinstance(calib, dict) else None,
        defaulted=meta is None,
    )
