"""Every artifact a bench times, derived from ONE checkpoint into a work folder.

``WORK/<checkpoint sha256[:16]>/`` holds ``lnet.onnx`` (fp32, ``onnx_from_checkpoint``),
``lnet.fp16.onnx`` (``fp16_from_onnx``) and the int8 models of the calibration stage
(``calibration_from_onnx``: ``lnet.int8-cpu.onnx`` for ONNX Runtime, ``lnet.int8-qdq.onnx`` for
TensorRT). An artifact already there is reused only when its embedded metadata names this
checkpoint (fp32) or the fp32 file's current sha256 as its parent (the others); otherwise it is
made again. An int8 model that fails the accuracy gate is not written: its entries are then
listed as unavailable with the gate's message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.files import sha256_file
from lnet_edge.onnx_meta import onnx_metadata

STEM = "lnet"
SECONDS_FILE = "build_seconds.json"


@dataclass
class Artifacts:
    """The checkpoint, its ONNX models by precision, how long each took to make, and why any is missing."""

    checkpoint: Path
    checkpoint_sha256: str
    config: ModelConfig
    folder: Path
    onnx: dict[str, Path] = field(default_factory=dict)
    build_seconds: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": self.checkpoint_sha256,
            "folder": str(self.folder),
            "onnx": {k: str(v) for k, v in self.onnx.items()},
            "build_seconds": self.build_seconds,
            "missing": self.missing,
        }


def _meta(path: Path) -> dict:
    try:
        return (onnx_metadata(path) or {}) if path.is_file() else {}
    except LnetError:
        return {}


def _fresh_fp32(path: Path, sha: str) -> bool:
    return _meta(path).get("source_checkpoint_sha256") == sha


def _fresh_child(path: Path, fp32: Path) -> bool:
    return (_meta(path).get("parent") or {}).get("sha256") == sha256_file(fp32)


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t, 2)


ALL = ("fp32", "fp16", "int8-cpu", "int8-qdq")


def artifacts_from_checkpoint(
    checkpoint: Path,
    work: Path,
    data: list[Path],
    needed: tuple[str, ...] = ALL,
    say: Callable[[str], None] = lambda _m: None,
) -> Artifacts:
    """Make (or reuse) the ONNX models of ``checkpoint`` named in ``needed`` under ``work`` (fp32
    always: it is the parent of the others and the accuracy reference); ``data``: image/mask
    folders (parity, calibration on the training side, gate on validation)."""
    from lnet_edge.calibration.pipeline import artifact_paths, calibration_from_onnx
    from lnet_edge.export.fp16 import fp16_from_onnx
    from lnet_edge.export.onnx_export import onnx_from_checkpoint
    from lnet_edge.model.checkpoint import load_model

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise LnetError(f"checkpoint {checkpoint} does not exist: give a .pt from 'lnet-edge train'")
    sha = sha256_file(checkpoint)
    folder = Path(work) / sha[:16]
    folder.mkdir(parents=True, exist_ok=True)
    seconds_file = folder / SECONDS_FILE
    seconds = json.loads(seconds_file.read_text()) if seconds_file.is_file() else {}
    art = Artifacts(checkpoint, sha, load_model(checkpoint)[0].config, folder)
    fp32, fp16 = folder / f"{STEM}.onnx", folder / f"{STEM}.fp16.onnx"
    if not _fresh_fp32(fp32, sha):
        say(f"exporting {checkpoint.name} to fp32 ONNX")
        _, seconds["fp32"] = _timed(lambda: onnx_from_checkpoint(checkpoint, fp32, data))
    art.onnx["fp32"] = fp32
    if "fp16" in needed:
        if not _fresh_child(fp16, fp32):
            say("converting to fp16 ONNX")
            _, seconds["fp16"] = _timed(lambda: fp16_from_onnx(fp32, fp16, data))
        art.onnx["fp16"] = fp16
    paths = artifact_paths(fp32, folder)
    int8 = {k: paths[k] for k in ("int8-cpu", "int8-qdq") if k in needed}
    if int8 and not all(_fresh_child(p, fp32) for p in int8.values()):
        say("calibrating int8 models (CPU u8s8 and TensorRT QDQ) with the accuracy gate")
        try:
            _, t = _timed(lambda: calibration_from_onnx(fp32, folder, data))
            seconds["int8-cpu"] = seconds["int8-qdq"] = t
        except LnetError as exc:
            art.missing.update({k: f"no int8 model: {exc}" for k in int8})
    art.onnx.update({k: p for k, p in int8.items() if k not in art.missing})
    seconds_file.write_text(json.dumps(seconds, indent=1) + "\n")
    art.build_seconds = {k: v for k, v in seconds.items() if k in art.onnx}
    return art
