"""A model bundle: the one folder a user copies to a field device.

``NAME/`` holds the fp32 ONNX, the fp16 ONNX, the int8 QDQ ONNX (TensorRT), the CPU int8 ONNX
(ONNX Runtime), the TensorRT calibration cache and report, the model card, and ``bundle.json``:
each artifact's file name, sha256, precision, intended backends and accuracy-gate result.
``bundle.json`` is written last, so a folder without it is not a bundle. Reading a bundle checks
every file against its sha256 and its own metadata, and every path to stay inside the folder: a
missing, changed, misplaced or mislabelled artifact is refused by name.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lnet_edge import __version__
from lnet_edge.artifacts import Precision, Role, kind_of, made_by_lnet_edge
from lnet_edge.config import ModelConfig
from lnet_edge.cpu_int8 import WEIGHT_BITS, check_record, weight_record
from lnet_edge.errors import LnetError
from lnet_edge.files import StagedFiles, check_target, sha256_file

INDEX = "bundle.json"
FORMAT = "lnet-edge-bundle"
FORMAT_VERSION = 1
CARD = "MODEL_CARD.md"


@dataclass(frozen=True)
class Artifact:
    role: Role
    file: str  # relative to the bundle folder
    sha256: str
    precision: str
    backends: tuple[str, ...]
    gate: dict | None  # the accuracy gate's verdict for an int8 model ({"passed", "iou_drop_points", ...})
    gates: dict | None = None  # int8-cpu: more gates by CPU kind ('pack --gate-here'; lnet_edge.cpu_int8)
    weight_bits: int | None = None  # int8-cpu: 7 or 8 (None: not recorded, counts as 8)

    @property
    def passed(self) -> bool:
        return self.gate is None or bool(self.gate.get("passed", False))


@dataclass(frozen=True)
class Bundle:
    root: Path
    name: str
    config: ModelConfig
    artifacts: dict[Role, Artifact]

    def path(self, role: Role) -> Path:
        return self.root / self.artifacts[role].file

    def has(self, role: Role) -> bool:
        return role in self.artifacts


def is_bundle(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / INDEX).is_file()


def read_bundle(root: Path, verify: bool = True) -> Bundle:
    """The bundle at ``root``: every file it names inside ``root`` (links resolved), and with
    ``verify`` every artifact checked against its sha256 and its role and precision against the
    file's own metadata (one error naming bundle.json, the entry and both values)."""
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
            _role(a["role"]): Artifact(
                _role(a["role"]),
                a["file"],
                a["sha256"],
                a["precision"],
                tuple(a["backends"]),
                a.get("gate"),
                a.get("gates"),
                a.get(WEIGHT_BITS),
            )
            for a in data["artifacts"]
        }
    except (LnetError, KeyError, TypeError) as exc:
        raise LnetError(f"{index}: malformed index ({exc}): remake the bundle with 'lnet-edge pack'") from None
    if "fp32" not in artifacts:
        raise LnetError(f"{index} lists no fp32 model: remake the bundle with 'lnet-edge pack'")
    named = {f"entry '{a.role}'": a.file for a in artifacts.values()} | {"model_card": data.get("model_card")}
    for what, file in named.items():
        if file is not None and not _inside(root, file):
            raise LnetError(
                f"{index}: {what} names {file!r}, which is not a file inside the bundle folder {root} (an absolute "
                "path, '..' or a link leading out of it): a bundle holds its own files; remake it with 'lnet-edge pack'"
            )
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
            _check_kind(index, a, path)
    if Role.int8_cpu in artifacts:
        check_record(root, artifacts[Role.int8_cpu], measure=verify)
    return Bundle(root, str(data.get("name", root.name)), config, artifacts)


def _role(text) -> Role:
    if text not in {r.value for r in Role.bundled()}:
        raise LnetError(f"role {text!r} is none of {', '.join(Role.bundled())}")
    return Role(text)


def _inside(root: Path, file) -> bool:
    """Whether ``file`` is a relative path that, links resolved, names something inside ``root``."""
    if not isinstance(file, str) or not file or Path(file).is_absolute():
        return False
    top, target = root.resolve(), (root / file).resolve()
    return target != top and target.is_relative_to(top)


def _check_kind(index: Path, a: Artifact, path: Path) -> None:
    """An entry's role and precision must be what the file itself says (artifacts.kind_of: the
    ONNX metadata, the calibration cache's header, the report's fields)."""
    kind = kind_of(path)
    role = Role(kind) if kind in {r.value for r in Role.bundled()} else None
    if (kind, role.precision if role else None) != (a.role, a.precision):
        says = f"role {role}, precision {role.precision}" if role else "no bundle role (not an lnet-edge artifact)"
        raise LnetError(
            f"{index}: entry '{a.role}' ({a.file}) says role {a.role}, precision {a.precision}, but the file's own "
            f"metadata says {says}: remake the bundle with 'lnet-edge pack'"
        )


def _gate_of(path: Path) -> dict | None:
    from lnet_edge.onnx_meta import onnx_metadata

    meta = onnx_metadata(path) or {}
    gate = meta.get("gate")
    return gate if isinstance(gate, dict) else None


def pack_bundle(files: dict[str, Path], out: Path, card: Path | None = None, overwrite: bool = False) -> Bundle:
    """Copy ``files`` (role -> path; "fp32" required) and the model card into ``out`` and write
    ``bundle.json`` last. Each file must be what its role says (its own metadata; the model
    contract for the ONNX models). ``out`` may be new, empty, an earlier bundle or any folder:
    what it holds is kept, and a file at a name the bundle uses is replaced only when lnet-edge
    wrote it (or with ``overwrite``). Files are written under this run's ``.part`` names and
    renamed into place at the end, ``bundle.json`` last; nothing else in ``out`` is touched."""
    from lnet_edge.export.manifest import config_of, read_export_metadata

    files = {Role(role): Path(src) for role, src in files.items()}
    fp32 = files[Role.fp32]
    config = config_of(read_export_metadata(fp32, Role.fp32.value))
    name = fp32.name.removesuffix(Role.fp32.suffix)
    out = Path(out)
    for role, src in files.items():
        _check_source(role, src)
    with StagedFiles(out, overwrite, _earlier_output(out)) as stage:
        entries = []
        for role, src in files.items():
            copy = _stage_copy(stage, src, src.name)
            gate = _gate_of(copy) if role.is_onnx and role.precision is Precision.int8 else None
            entries.append({"role": role.value, "file": src.name, "sha256": sha256_file(copy),
                            "precision": role.precision.value, "backends": list(role.backends), "gate": gate})  # fmt: skip
            if role is Role.int8_cpu:
                entries[-1].update(weight_record(src))  # the same bytes; an error names the user's file
        has_card = card is not None and Path(card).is_file()
        if has_card:
            _stage_copy(stage, Path(card), CARD)
        index = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": name,
            "lnet_edge_version": __version__,
            "config": config.to_dict(),
            "model_card": CARD if has_card else None,
            "artifacts": entries,
        }
        stage.part(INDEX).write_text(json.dumps(index, indent=1) + "\n")
        stage.commit()
    return read_bundle(out)


def _check_source(role: Role, src: Path) -> None:
    """A file to pack must exist and be, by its own metadata, the artifact its role names."""
    from lnet_edge.export.manifest import read_export_metadata

    if not src.is_file():
        raise LnetError(f"{src} ({role}) does not exist: make it first ('lnet-edge export' or 'calibrate')")
    if role not in Role.bundled():
        raise LnetError(f"{src}: a bundle holds no {role}; give its ONNX models and calibration files")
    if role.is_onnx:
        read_export_metadata(src, role.value)  # format, configuration, model contract and precision
    elif kind_of(src) != role:
        raise LnetError(f"{src} is not a {role} written by 'lnet-edge calibrate': give the {role} file it made")


def check_pack_targets(files: dict[Role, Path], out: Path, card: Path | None = None, overwrite: bool = False) -> None:
    """Refuse, before any work, what :func:`pack_bundle` would refuse to write at ``out``."""
    out = Path(out)
    ours = _earlier_output(out)
    pairs = [(Path(p).name, Path(p)) for p in files.values()]
    if card is not None and Path(card).is_file():
        pairs.append((CARD, Path(card)))
    for name, src in [*pairs, (INDEX, None)]:
        if src is None or not _same(out / name, src):
            check_target(out / name, overwrite, ours)


def _same(final: Path, src: Path) -> bool:
    """Whether ``final`` is ``src`` itself (packing into the folder that holds it)."""
    return final.is_file() and not final.is_symlink() and src.exists() and os.path.samefile(final, src)


def _stage_copy(stage: StagedFiles, src: Path, name: str) -> Path:
    """Stage a copy of ``src`` as ``name`` in the bundle; returns the file to hash (``src`` itself
    when it already is that file)."""
    final = stage.folder / name
    if _same(final, src):
        return final
    part = stage.part(name)
    shutil.copy2(src, part)
    return part


def _earlier_output(out: Path):
    """Whether a file in ``out`` is lnet-edge's: an artifact by its own content, or a file that the
    bundle index already there lists (its model card)."""
    try:
        index = json.loads((out / INDEX).read_text())
        listed = {index.get("model_card")} | {a.get("file") for a in index.get("artifacts", [])}
        listed = listed if index.get("format") == FORMAT else set()
    except (OSError, ValueError, AttributeError, TypeError):
        listed = set()
    return lambda path: made_by_lnet_edge(path) or path.name in listed


def calibration_for(fp32: Path, folder: Path) -> dict[Role, Path] | None:
    """The calibration artifacts in ``folder`` made from exactly this fp32 ONNX (by sha256), or None."""
    from lnet_edge.calibration.pipeline import artifact_paths
    from lnet_edge.onnx_meta import onnx_metadata

    paths = artifact_paths(fp32, folder)
    if not all(p.is_file() for p in paths.values()):
        return None
    want = sha256_file(fp32)
    for role in (Role.int8_qdq, Role.int8_cpu):
        parent = (onnx_metadata(paths[role]) or {}).get("parent") or {}
        if parent.get("sha256") != want:
            return None
    return paths
