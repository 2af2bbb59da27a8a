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
) -> None:
    """Gather the fp32, fp16, int8 QDQ (TensorRT) and CPU int8 ONNX models, the calibration cache
    and report, and the model card into one folder with a bundle.json of sha256s and gate results.
    Missing fp16 or int8 artifacts are made from --data (the accuracy gate included)."""
    from lnet_edge.bundle import calibration_for, pack_bundle
    from lnet_edge.errors import LnetError
    from lnet_edge.export.manifest import read_export_metadata

    read_export_metadata(model, "fp32")
    name = model.name.removesuffix(".onnx")
    fp16 = model.with_name(f"{name}.fp16.onnx")
    if not fp16.is_file():
        from lnet_edge.defaults import SAMPLE_TILES
        from lnet_edge.export.fp16 import fp16_from_onnx

        console.print(f"making {fp16} (fp16, checked against fp32 on real tiles)")
        fp16_from_onnx(model, fp16, list(data) if data else [SAMPLE_TILES])
    paths = calibration_for(model, calibration)
    if paths is None:
        if not data:
            raise LnetError(
                f"no int8 artifacts of {model} in {calibration}/: give -d DATA to make them here, or run "
                f"'lnet-edge calibrate -m {model} -d DATA -o {calibration}' first"
            )
        from lnet_edge.calibration.pipeline import calibration_from_onnx

        console.print(f"calibrating {model} into {calibration}/ (accuracy gate included)")
        calibration_from_onnx(model, calibration, list(data), None, fp16)
        paths = calibration_for(model, calibration)
    files = {
        "fp32": model,
        "fp16": fp16,
        "int8-qdq": paths["int8-qdq"],
        "int8-cpu": paths["int8-cpu"],
        "calibration-cache": paths["cache"],
        "calibration-report": paths["report"],
    }
    bundle = pack_bundle(files, out or Path("bundles") / name, card or model.with_name("MODEL_CARD.md"))
    for a in bundle.artifacts.values():
        gate = "" if a.gate is None else (" gate passed" if a.passed else " gate FAILED")
        console.print(f"  {a.file:40s} {a.precision:5s} {', '.join(a.backends):28s}{gate}", highlight=False)
    console.print(f"bundle: {bundle.root} (copy this folder to the device; 'lnet-edge infer -m {bundle.root}')")
