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
    from lnet_edge.bundle import is_bundle
    from lnet_edge.deploy import bundle_from_onnx
    from lnet_edge.errors import LnetError

    if gate_here:
        if not data:
            raise LnetError(
                "--gate-here scores the CPU int8 model on real tiles: give -d DATA (image/mask folders; their "
                "validation side is used)"
            )
        if is_bundle(model):
            _gate_here(model, data)
            return
    bundle = bundle_from_onnx(model, data, calibration, card, out, overwrite, say=console.print)
    for a in bundle.artifacts.values():
        gate = "" if a.gate is None else (" gate passed" if a.passed else " gate FAILED")
        console.print(f"  {a.file:40s} {a.precision:5s} {', '.join(a.backends):28s}{gate}", highlight=False)
    console.print(f"bundle: {bundle.root} (copy this folder to the device; 'lnet-edge infer -m {bundle.root}')")
    if gate_here:
        _gate_here(bundle.root, data)


def _gate_here(root: Path, data: list[Path]) -> None:
    from lnet_edge.gate_here import gate_on_this_cpu

    console.print(f"gating the CPU int8 model of {root} on this CPU's int8 kernels")
    g = gate_on_this_cpu(root, list(data))
    verdict = "passed" if g["passed"] else f"FAILED (allowed -{g['max_iou_drop']})"
    console.print(
        f"gate on {g['cpu']}: {verdict}: landslide IoU {-g['iou_drop_points']:+.2f} points against fp32 on "
        f"{g['tiles']['count']} validation tiles; recorded in {root / 'bundle.json'}",
        highlight=False,
    )
