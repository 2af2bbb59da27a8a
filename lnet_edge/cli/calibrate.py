"""lnet-edge calibrate: int8 models (TensorRT QDQ + calibration cache, ONNX Runtime CPU) from
real tiles, gated on accuracy against the fp32 model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lnet_edge.calibration.quantize import Method
from lnet_edge.cli.common import console, user_errors


@user_errors
def calibrate_command(
    data: Annotated[
        list[Path],
        typer.Option(
            "--data", "-d", help="Image/mask folder; its training side gives the calibration tiles (repeatable)."
        ),
    ],
    model: Annotated[Path, typer.Option("--model", "-m", help="fp32 .onnx from 'lnet-edge export'.")] = Path(
        "export/lnet-edge-s.onnx"
    ),
    val_data: Annotated[
        list[Path] | None,
        typer.Option("--val-data", help="Folders for the accuracy gate (validation side); default: --data."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the int8 models, cache and report.")] = Path(
        "calibration"
    ),
    method: Annotated[Method, typer.Option(help="Calibration method of the TensorRT QDQ model.")] = Method.entropy,
    tiles: Annotated[int, typer.Option(help="Calibration tiles (stratified: with and without landslides).")] = 32,
    batch: Annotated[int, typer.Option(help="Calibration batch size.")] = 8,
    gate_tiles: Annotated[int, typer.Option(help="Validation tiles scored by the accuracy gate.")] = 48,
    max_iou_drop: Annotated[
        float, typer.Option(help="Gate: largest landslide IoU drop (points) of an int8 model below fp32.")
    ] = 1.0,
    auto_fallback: Annotated[
        bool, typer.Option("--auto-fallback", help="Leave the worst layers in float until the gate passes.")
    ] = False,
    fp16: Annotated[
        Path | None, typer.Option(help="fp16 .onnx to score too; default: <model>.fp16.onnx beside it, if present.")
    ] = None,
    trt_version: Annotated[
        str | None,
        typer.Option(help="TensorRT the calibration cache is for; default: the installed one, else 10.3 (JetPack 6)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files at the output names that lnet-edge did not write.")
    ] = False,
) -> None:
    """Make NAME.int8-qdq.onnx (TensorRT), NAME.int8-qdq.calibration.cache (TensorRT < 10.12),
    NAME.int8-cpu.onnx (ONNX Runtime CPU) and NAME.calibration.json/.md."""
    from lnet_edge.cache_header import version_tag
    from lnet_edge.calibration.gate import GateOptions
    from lnet_edge.calibration.pipeline import (
        CalibrateOptions,
        artifact_paths,
        calibration_from_onnx,
        markdown_path,
        report_markdown,
    )
    from lnet_edge.calibration.quantize import CpuInt8Options, QdqOptions
    from lnet_edge.calibration.trt_cache import installed_tensorrt_version

    if trt_version is not None:
        version_tag(trt_version)  # a clear error for a malformed version, before any work

    sibling = model.with_name(f"{model.stem}.fp16.onnx")
    fp16 = fp16 or (sibling if sibling.is_file() else None)
    options = CalibrateOptions(
        tiles=tiles,
        qdq=QdqOptions(method=method, batch=batch),
        cpu=CpuInt8Options(batch=batch),
        gate=GateOptions(tiles=gate_tiles, max_iou_drop=max_iou_drop, auto_fallback=auto_fallback),
        trt_version=trt_version or installed_tensorrt_version(),
    )
    report = calibration_from_onnx(model, out, data, val_data or None, fp16, options, overwrite=overwrite)
    console.print(report_markdown(report))
    paths = artifact_paths(model, out)
    for path in [*paths.values(), markdown_path(paths)]:
        console.print(f"wrote {path}")
