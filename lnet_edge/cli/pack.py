"""lnet-edge pack: one self-checking folder with every artifact a field device needs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lnet_edge.cli.common import console, user_errors


@user_errors
def pack_command(
    model: Annotated[Path, typer.Option("--model", "-m", help="fp32 .onnx from 'lnet-edge export'.")] = Path(
        "export/lnet-edge-s.onnx"
    ),
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="Image/mask folders: make the fp16 and int8 artifacts when missing."),
    ] = None,
    calibration: Annotated[Path, typer.Option(help="Where 'lnet-edge calibrate' wrote its artifacts.")] = Path(
        "calibration"
    ),
    card: Annotated[Path | None, typer.Option(help="Model card; default: MODEL_CARD.md beside the model.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Bundle folder; default: bundles/NAME.")] = None,
    gate_here: Annotated[
        bool,
        typer.Option(
            "--gate-here",
            help="Re-run the CPU int8 model's accuracy gate on this CPU's int8 kernels (validation tiles of "
            "--data) and record it beside the first; -m may then be a bundle folder, gated in place.",
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files at the output names that lnet-edge did not write.")
    ] = False,
) -> None:
    """Gather the fp32, fp16, int8 QDQ (TensorRT) and CPU int8 ONNX models, the calibration cache
    and report, and the model card into one folder with a bundle.json of sha256s and gate results.
    Missing fp16 or int8 artifacts are made from --data (the accuracy gate included)."""
    from lnet_edge.bundle import calibration_for, check_pack_targets, pack_bundle
    from lnet_edge.calibration.pipeline import artifact_paths
    from lnet_edge.errors import LnetError
    from lnet_edge.export.manifest import read_export_metadata

    if gate_here:
        from lnet_edge.bundle import is_bundle

        if not data:
            raise LnetError(
                "--gate-here scores the CPU int8 model on real tiles: give -d DATA (image/mask folders; their "
                "validation side is used)"
            )
        if is_bundle(model):
            _gate_here(model, data)
            return
    read_export_metadata(model, "fp32")
    name = model.name.removesuffix(".onnx")
    fp16 = model.with_name(f"{name}.fp16.onnx")
    out = out or Path("bundles") / name
    card = card or model.with_name("MODEL_CARD.md")
    check_pack_targets(_files(model, fp16, artifact_paths(model, calibration)), out, card, overwrite)  # before any work
    if not fp16.is_file():
        from lnet_edge.defaults import SAMPLE_TILES
        from lnet_edge.export.fp16 import fp16_from_onnx

        console.print(f"making {fp16} (fp16, checked against fp32 on real tiles)")
        fp16_from_onnx(model, fp16, list(data) if data else [SAMPLE_TILES], overwrite=overwrite)
    paths = calibration_for(model, calibration)
    if paths is None:
        if not data:
            raise LnetError(
                f"no int8 artifacts of {model} in {calibration}/: give -d DATA to make them here, or run "
                f"'lnet-edge calibrate -m {model} -d DATA -o {calibration}' first"
            )
        from lnet_edge.calibration.pipeline import calibration_from_onnx

        console.print(f"calibrating {model} into {calibration}/ (accuracy gate included)")
        calibration_from_onnx(model, calibration, list(data), None, fp16, overwrite=overwrite)
        paths = calibration_for(model, calibration)
    bundle = pack_bundle(_files(model, fp16, paths), out, card, overwrite)
    for a in bundle.artifacts.values():
        gate = "" if a.gate is None else (" gate passed" if a.passed else " gate FAILED")
        console.print(f"  {a.file:40s} {a.precision:5s} {', '.join(a.backends):28s}{gate}", highlight=False)
    console.print(f"bundle: {bundle.root} (copy this folder to the device; 'lnet-edge infer -m {bundle.root}')")
    if gate_here:
        _gate_here(bundle.root, data)


def _files(model: Path, fp16: Path, paths: dict[str, Path]) -> dict[str, Path]:
    """The bundle's files by role, from the calibration artifacts' paths."""
    return {
        "fp32": model,
        "fp16": fp16,
        "int8-qdq": paths["int8-qdq"],
        "int8-cpu": paths["int8-cpu"],
        "calibration-cache": paths["cache"],
        "calibration-report": paths["report"],
    }


def _gate_here(root: Path, data: list[Path]) -> None:
    from lnet_edge.calibration.gate_here import gate_on_this_cpu

    console.print(f"gating the CPU int8 model of {root} on this CPU's int8 kernels")
    g = gate_on_this_cpu(root, list(data))
    verdict = "passed" if g["passed"] else f"FAILED (allowed -{g['max_iou_drop']})"
    console.print(
        f"gate on {g['cpu']}: {verdict}: landslide IoU {-g['iou_drop_points']:+.2f} points against fp32 on "
        f"{g['tiles']['count']} validation tiles; recorded in {root / 'bundle.json'}",
        highlight=False,
    )
