"""What a file on disk is, read from its own content, and whether lnet-edge may write over it.

Every artifact lnet-edge writes says what it is: an ONNX model in its embedded ``lnet_edge``
metadata (precision fp32, fp16, int8-qdq or int8-cpu), its manifest ``X.onnx.json`` in the same
object, a TensorRT plan in the manifest beside it (whose sha256 must be the plan's), a plan
manifest, a bundle index and an ONNX manifest in their ``format`` field, a TensorRT calibration
cache in its ``TRT-`` header, a calibration report in its fields and title. :func:`kind_of`
reads that account. The bundle reader checks every entry against it, and the commands that write
into a folder replace only files that prove to be lnet-edge's own unless the user gives
``--overwrite`` (:func:`check_targets`; docs/style.md, 20).

:class:`Role` names what an artifact is for (bundle.json's ``role``, the calibration folder's
files) and :class:`Precision` the precision a model runs at; both are the strings written on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum
from pathlib import Path

from lnet_edge.errors import LnetError
from lnet_edge.files import check_target, sha256_file


class Precision(str, Enum):
    """The numeric precision a model runs at."""

    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"

    def __str__(self) -> str:
        return self.value


class Role(str, Enum):
    """What an artifact is for: its precision, its file name beside the fp32 export and the
    backends bundle.json lists for it (a record for people; the automatic choice reads each
    backend's roles in runners.registry)."""

    fp32 = "fp32"
    fp16 = "fp16"
    int8_qdq = "int8-qdq"  # TensorRT: Q/DQ nodes
    int8_cpu = "int8-cpu"  # ONNX Runtime on the CPU: u8s8 with the weights' range recorded
    calibration_cache = "calibration-cache"  # TensorRT < 10.12
    calibration_report = "calibration-report"
    checkpoint = "checkpoint"  # the .pt every other artifact is made from; never in a bundle

    def __str__(self) -> str:
        return self.value

    @property
    def precision(self) -> Precision:
        return _ROLES[self][0]

    @property
    def suffix(self) -> str:
        return _ROLES[self][1]

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends bundle.json names for this role (its ``backends`` field)."""
        return _ROLES[self][2]

    @property
    def is_onnx(self) -> bool:
        """An ONNX model from 'lnet-edge export' or 'calibrate' (its metadata names the role)."""
        return self.suffix.endswith(".onnx")

    def file(self, stem: str) -> str:
        """'lnet-edge-s.int8-qdq.onnx' for stem 'lnet-edge-s'."""
        return stem + self.suffix

    @classmethod
    def bundled(cls) -> tuple[Role, ...]:
        """The roles a bundle may hold."""
        return tuple(r for r in cls if r is not cls.checkpoint)


_ROLES: dict[Role, tuple[Precision, str, tuple[str, ...]]] = {
    Role.fp32: (Precision.fp32, ".onnx", ("onnxruntime", "tensorrt")),
    Role.fp16: (Precision.fp16, ".fp16.onnx", ("tensorrt", "onnxruntime-cuda")),
    Role.int8_qdq: (Precision.int8, ".int8-qdq.onnx", ("tensorrt",)),
    Role.int8_cpu: (Precision.int8, ".int8-cpu.onnx", ("onnxruntime",)),
    Role.calibration_cache: (Precision.int8, ".int8-qdq.calibration.cache", ("tensorrt<10.12",)),
    Role.calibration_report: (Precision.int8, ".calibration.json", ()),
    Role.checkpoint: (Precision.fp32, ".pt", ()),
}


def stem_of(path: Path) -> str:
    """'lnet-edge-s' for lnet-edge-s.onnx, .fp16.onnx, .int8-qdq.onnx and .int8-cpu.onnx."""
    name = Path(path).name
    models = sorted((r for r in Role if r.is_onnx), key=lambda r: -len(r.suffix))
    return next((name.removesuffix(r.suffix) for r in models if name.endswith(r.suffix)), Path(name).stem)


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
    from lnet_edge.onnx_meta import FORMAT, PRECISIONS, onnx_metadata

    meta = onnx_metadata(path) or {}
    precision = meta.get("precision")
    return precision if meta.get("format") == FORMAT and precision in PRECISIONS else None


def _plan_kind(path: Path) -> str | None:
    """A plan is ours when the manifest beside it (``NAME.plan.json``, engines.manifest) is an
    lnet-edge plan manifest naming this plan's sha256: whether it was made here, not whether it
    loads here (that is engines.check's question)."""
    data = json.loads(path.with_name(path.name + ".json").read_text())
    ours = isinstance(data, dict) and _json_kind(data) == "plan-manifest"
    return "plan" if ours and data.get("plan_sha256") == sha256_file(path) else None


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
