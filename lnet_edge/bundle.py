"""A model bundle: the one folder a user copies to a field device.

``NAME/`` holds the fp32 ONNX, the fp16 ONNX, the int8 QDQ ONNX (TensorRT), the CPU int8 ONNX
(ONNX Runtime), the TensorRT calibration cache and report, the model card, and ``bundle.json``:
each artifact's file name, sha256, precision, intended backends and accuracy-gate result.
``bundle.json`` is written last, so a folder without it is not a bundle. Reading a bundle checks
every file against its sha256: a missing or changed artifact is refused by name.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from lnet_edge import __version__
from lnet_edge.config import ModelConfig
from lnet_edge.errors import LnetError
from lnet_edge.files import sha256_file, write_text_atomic

INDEX = "bundle.json"
FORMAT = "lnet-edge-bundle"
FORMAT_VERSION = 1
CARD = "MODEL_CARD.md"

# role -> (precision, the backends it is made for)
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fp32": ("fp32", ("onnxruntime", "tensorrt")),
    "fp16": ("fp16", ("tensorrt", "onnxruntime-cuda")),
    "int8-qdq": ("int8", ("tensorrt",)),
    "int8-cpu": ("int8", ("onnxruntime",)),
    "calibration-cache": ("int8", ("tensorrt<10.12",)),
    "calibration-report": ("int8", ()),
}


@dataclass(frozen=True)
class Artifact:
    role: str
    file: str  # relative to the bundle folder
    sha256: str
    precision: str
    backends: tuple[str, ...]
    gate: dict | None  # the accuracy gate's verdict for an int8 model ({"passed", "iou_drop_points", ...})

    @property
    def passed(self) -> bool:
        return self.gate is None or bool(self.gate.get("passed", False))


@dataclass(frozen=True)
class Bundle:
    root: Path
    name: str
    config: ModelConfig
    artifacts: dict[str, Artifact]

    def path(self, role: str) -> Path:
        return self.root / self.artifacts[role].file

    def has(self, role: str) -> bool:
        return role in self.artifacts


def is_bundle(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / INDEX).is_file()


def read_bundle(root: Path, verify: bool = True) -> Bundle:
    """The bundle at ``root``, every artifact checked against its sha256 (``verify``)."""
    root = Path(root)
    index = root / INDEX
    try:
        data = json.loads(index.read_text())
    except (OSError, ValueError) as exc:
        raise LnetError(f"{index} cannot be read ({exc}): remake the bundle with 'lnet-edge pack'") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LnetError(f"{index} is not an lnet-edge bundle index: remake the bundle with 'lnet-edge pack'")
    if not isinstance(data.get("format_version"), int) or data["format_version"] > FORMAT_VERSION:
        raise LnetError(
            f"{index} has format_version {data.get('format_version')!r}, newer than this lnet-edge reads "
            f"({FORMAT_VERSION}): upgrade lnet-edge (pip install -U lnet-edge) or pack with this version"
        )
    try:
        config = ModelConfig.from_dict(data["config"])
        artifacts = {
            a["role"]: Artifact(a["role"], a["file"], a["sha256"], a["precision"], tuple(a["backends"]), a.get("gate"))
            for a in data["artifacts"]
        }
    except (LnetError, KeyError, TypeError) as exc:
        raise LnetError(f"{index}: malformed index ({exc}): remake the bundle with 'lnet-edge pack'") from None
    if "fp32" not in artifacts:
        raise LnetError(f"{index} lists no fp32 model: remake the bundle with 'lnet-edge pack'")
    if verify:
        for a in artifacts.values():
            path = root / a.file
            if not path.is_file():
                raise LnetError(f"bundle {root}: {a.file} ({a.role}) is missing: copy the whole bundle folder again")
            got = sha256_file(path)
            if got != a.sha256:
                raise LnetError(
                    f"bundle {root}: {a.file} ({a.role}) changed: sha256 {got[:16]}... but the index says "
                    f"{a.sha256[:16]}...; copy the bundle again or remake it with 'lnet-edge pack'"
                )
    return Bundle(root, str(data.get("name", root.name)), config, artifacts)


def _gate_of(path: Path) -> dict | None:
    from lnet_edge.export.manifest import onnx_metadata

    meta = onnx_metadata(path) or {}
    gate = meta.get("gate")
    return gate if isinstance(gate, dict) else None


def pack_bundle(files: dict[str, Path], out: Path, card: Path | None = None) -> Bundle:
    """Copy ``files`` (role -> path; "fp32" required) and the model card into ``out`` and write
    ``bundle.json`` last. An existing bundle at ``out`` is replaced only when the new one is
    complete (built beside it, then swapped)."""
    from lnet_edge.export.manifest import config_of, read_export_metadata

    fp32 = Path(files["fp32"])
    config = config_of(read_export_metadata(fp32, "fp32"))
    name = fp32.name.removesuffix(".onnx")
    out = Path(out)
    tmp = out.with_name(out.name + ".packing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        entries = []
        for role, src in files.items():
            src = Path(src)
            if not src.is_file():
                raise LnetError(f"{src} ({role}) does not exist: make it first ('lnet-edge export' or 'calibrate')")
            if src.resolve() != (tmp / src.name).resolve():
                shutil.copy2(src, tmp / src.name)
            precision, backends = ROLES[role]
            gate = _gate_of(tmp / src.name) if role in ("int8-qdq", "int8-cpu") else None
            entries.append({"role": role, "file": src.name, "sha256": sha256_file(tmp / src.name),
                            "precision": precision, "backends": list(backends), "gate": gate})  # fmt: skip
        if card is not None and Path(card).is_file():
            shutil.copy2(card, tmp / CARD)
        index = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name,
            "lnet_edge_version": __version__,
            "config": config.to_dict(),
            "model_card": CARD if (tmp / CARD).is_file() else None,
            "artifacts": entries,
        }
        write_text_atomic(tmp / INDEX, json.dumps(index, indent=1) + "\n")
        if out.exists():
            old = out.with_name(out.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_bundle(out)


def calibration_for(fp32: Path, folder: Path) -> dict[str, Path] | None:
    """The calibration artifacts in ``folder`` made from exactly this fp32 ONNX (by sha256), or None."""
    from lnet_edge.calibration.pipeline import artifact_paths
    from lnet_edge.export.manifest import onnx_metadata

    paths = artifact_paths(fp32, folder)
    if not all(paths[k].is_file() for k in ("int8-qdq", "int8-cpu", "cache", "report")):
        return None
    want = sha256_file(fp32)
    for key in ("int8-qdq", "int8-cpu"):
        parent = (onnx_metadata(paths[key]) or {}).get("parent") or {}
        if parent.get("sha256") != want:
            return None
    return paths
