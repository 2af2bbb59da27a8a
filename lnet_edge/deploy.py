"""From an export to what a device runs: a TensorRT plan (``lnet-edge build``) or a bundle
(``lnet-edge pack``), each made from the artifacts it finds, the missing ones made first.

An fp32 export's int8 models are found by the fp32 file's sha256 (the bundle beside it, or the
calibration folder; :func:`lnet_edge.bundle.calibration_for`), else calibrated from the data
given, accuracy gate included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lnet_edge.artifacts import Precision, Role, stem_of
from lnet_edge.bundle import Bundle, calibration_for, check_pack_targets, is_bundle, pack_bundle, read_bundle
from lnet_edge.errors import LnetError

Say = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


def _plan_role(precision: Precision) -> Role:
    """The bundle artifact a plan of ``precision`` is built from: TensorRT's role of that precision."""
    from lnet_edge.runners.registry import backend_named

    return next(r for r in backend_named("tensorrt").roles if r.precision is precision)


def onnx_for_plan(
    source: Path,
    precision: Precision | None,
    cache: Path | None = None,
    data: list[Path] | None = None,
    calibration: Path = Path("calibration"),
    overwrite: bool = False,
    say: Say = _quiet,
) -> tuple[Path, str]:
    """(the ONNX to build, the model's name) for ``source``: a bundle gives its artifact of
    ``precision`` (fp16 when none is given); an fp32 ONNX at int8 without a calibration ``cache``
    gives its int8 QDQ model, found in its bundle or among the calibration artifacts made from it
    (by sha256), or calibrated now from ``data`` (accuracy gate included); any other ONNX is built
    as it is."""
    from lnet_edge.onnx_meta import onnx_metadata

    source = Path(source)
    if source.is_dir():
        if not is_bundle(source):
            raise LnetError(f"{source} is a folder but not a bundle (no bundle.json): give an .onnx or a bundle")
        bundle = read_bundle(source)
        role = _plan_role(precision or Precision.fp16)
        if not bundle.has(role):
            raise LnetError(
                f"{source} holds no {role} model: build another --precision, or remake it with 'lnet-edge pack'"
            )
        if not bundle.artifacts[role].passed:
            raise LnetError(f"the int8 model of {source} failed its accuracy gate: build --precision fp16 instead")
        return bundle.path(role), bundle.name
    name = stem_of(source)
    if precision is not Precision.int8 or cache is not None:
        return source, name
    if (onnx_metadata(source) or {}).get("precision") != Role.fp32.value:
        return source, name  # an int8 QDQ model already (or refused by the build with its reason)
    if is_bundle(source.parent):
        bundle = read_bundle(source.parent)
        if bundle.has(Role.int8_qdq) and bundle.artifacts[Role.fp32].file == source.name:
            return bundle.path(Role.int8_qdq), name
    found = calibration_for(source, calibration)
    if found is None and data:
        from lnet_edge.calibration.pipeline import calibration_from_onnx

        say(f"no int8 model of {source} yet: calibrating on {', '.join(map(str, data))} (gate included)")
        calibration_from_onnx(source, calibration, list(data), overwrite=overwrite)
        found = calibration_for(source, calibration)
    if found is None:
        raise LnetError(
            f"--int8: no int8 model made from {source} in {calibration}/ (and no bundle beside it): make it with "
            f"'lnet-edge calibrate -m {source} -d DATA -o {calibration}', or add -d DATA here"
        )
    say(f"int8: using {found[Role.int8_qdq]} (calibrated from {source.name})")
    return found[Role.int8_qdq], name


def plan_from_source(
    source: Path,
    out: Path | None,
    options,
    data: list[Path] | None = None,
    calibration: Path = Path("calibration"),
    overwrite: bool = False,
    progress=None,
    warn: Say | None = None,
    say: Say = _quiet,
) -> Path:
    """Build the plan of ``source`` (an ONNX model or a bundle; :func:`onnx_for_plan`) with
    ``options`` (engines.options.BuildOptions; precision None: the ONNX's own) at ``out``
    (default: engines/NAME-PRECISION.plan); returns the plan."""
    from lnet_edge.engines.build import plan_from_onnx
    from lnet_edge.engines.onnx_info import read_onnx

    onnx, name = onnx_for_plan(source, options.precision, options.calibration_cache, data, calibration, overwrite, say)
    if options.precision is None:
        info = read_onnx(onnx)
        options = options.with_(precision=Precision(info.metadata_precision or info.content_precision))
    out = Path(out) if out else Path("engines") / f"{name}-{options.precision.value}.plan"
    return plan_from_onnx(onnx, out, options, progress=progress, warn=warn, overwrite=overwrite)


def bundle_from_onnx(
    model: Path,
    data: list[Path] | None = None,
    calibration: Path = Path("calibration"),
    card: Path | None = None,
    out: Path | None = None,
    overwrite: bool = False,
    say: Say = _quiet,
) -> Bundle:
    """Pack the fp32 export ``model`` with its fp16 and int8 artifacts and the model card (default:
    MODEL_CARD.md beside it) into ``out`` (default: bundles/NAME). The fp16 model is made when
    missing (checked on ``data``, else the sample tiles), the int8 ones calibrated on ``data``
    (gate included). Files at ``out`` that lnet-edge did not write are refused before any work."""
    from lnet_edge.calibration.pipeline import MADE, artifact_paths
    from lnet_edge.export.manifest import read_export_metadata

    model = Path(model)
    read_export_metadata(model, Role.fp32.value)
    name = model.name.removesuffix(Role.fp32.suffix)
    fp16 = model.with_name(Role.fp16.file(name))
    out = Path(out) if out else Path("bundles") / name
    card = card or model.with_name("MODEL_CARD.md")

    def files(paths: dict[Role, Path]) -> dict[Role, Path]:
        return {Role.fp32: model, Role.fp16: fp16, **{role: paths[role] for role in MADE}}

    check_pack_targets(files(artifact_paths(model, calibration)), out, card, overwrite)  # before any work
    if not fp16.is_file():
        from lnet_edge.defaults import SAMPLE_TILES
        from lnet_edge.export.fp16 import fp16_from_onnx

        say(f"making {fp16} (fp16, checked against fp32 on real tiles)")
        fp16_from_onnx(model, fp16, list(data) if data else [SAMPLE_TILES], overwrite=overwrite)
    paths = calibration_for(model, calibration)
    if paths is None:
        if not data:
            raise LnetError(
                f"no int8 artifacts of {model} in {calibration}/: give -d DATA to make them here, or run "
                f"'lnet-edge calibrate -m {model} -d DATA -o {calibration}' first"
            )
        from lnet_edge.calibration.pipeline import calibration_from_onnx

        say(f"calibrating {model} into {calibration}/ (accuracy gate included)")
        calibration_from_onnx(model, calibration, list(data), None, fp16, overwrite=overwrite)
        paths = calibration_for(model, calibration)
    return pack_bundle(files(paths), out, card, overwrite)
