"""What a file on disk is, read from its own content, and whether lnet-edge may write over it.

Every artifact lnet-edge writes says what it is: an ONNX model in its embedded ``lnet_edge``
metadata (precision fp32, fp16, int8-qdq or int8-cpu), its manifest ``X.onnx.json`` in the same
object, a TensorRT plan in the manifest beside it (whose sha256 must be the plan's), a plan
manifest, a bundle index and an ONNX manifest in their ``format`` field, a TensorRT calibration
cache in its ``TRT-`` header, a calibration report in its fields and title. :func:`kind_of`
reads that account. The bundle reader checks every entry against it, and the commands that write
into a folder replace only files that prove to be lnet-edge's own unless the user gives
``--overwrite`` (:func:`check_targets`; docs/style.md, 20).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.files import check_target, sha256_file

CALIBRATION_REPORT_TITLE = "# Calibration report: "  # calibration.pipeline.report_markdown
JSON_FORMATS = {
    "lnet-edge-onnx": "onnx-manifest",
    "lnet-edge-plan-manifest": "plan-manifest",
    "lnet-edge-bundle": "bundle-index",
}


def kind_of(path: Path) -> str | None:
    """The kind of lnet-edge artifact ``path`` proves to be by its content: an ONNX model's
    precision ("fp32", "fp16", "int8-qdq", "int8-cpu"), "plan", "calibration-cache",
    "calibration-report", "calibration-report-md", "onnx-manifest", "plan-manifest" or
    "bundle-index"; None for anything else (a foreign or unreadable file, a folder)."""
    path = Path(path)
    try:
        if not path.is_file():
            return None
        name = path.name
        if name.endswith(".onnx"):
            return _onnx_kind(path)
        if name.endswith(".plan"):
            return _plan_kind(path)
        if name.endswith(".json"):
            return _json_kind(json.loads(path.read_text()))
        if name.endswith(".cache"):
            with open(path, encoding="utf-8") as f:
                return "calibration-cache" if f.readline().startswith("TRT-") else None
        if name.endswith(".md"):
            with open(path, encoding="utf-8") as f:
                return "calibration-report-md" if f.readline().startswith(CALIBRATION_REPORT_TITLE) else None
    except (LnetError, OSError, ValueError):  # unreadable, not JSON, not text: not ours
        return None
    return None


def _onnx_kind(path: Path) -> str | None:
    from lnet_edge.export.manifest import FORMAT, PRECISIONS, onnx_metadata

    meta = onnx_metadata(path) or {}
    precision = meta.get("precision")
    return precision if meta.get("format") == FORMAT and precision in PRECISIONS else None


def _plan_kind(path: Path) -> str | None:
    from lnet_edge.engines.manifest import read_manifest

    return "plan" if read_manifest(path).plan_sha256 == sha256_file(path) else None


def _json_kind(data) -> str | None:
    if not isinstance(data, dict):
        return None
    if data.get("format") in JSON_FORMATS:
        return JSON_FORMATS[data["format"]]
    if {"fp32", "calibration", "gate"} <= set(data):  # calibration.pipeline's report
        return "calibration-report"
    return None


def made_by_lnet_edge(path: Path) -> bool:
    return kind_of(path) is not None


def check_targets(paths: Iterable[Path], overwrite: bool) -> None:
    """Refuse, before any work, to write over a file that lnet-edge did not make (without
    ``overwrite``) or over a folder (ever): see files.check_target."""
    for path in paths:
        check_target(Path(path), overwrite, made_by_lnet_edge)
