"""lnet-edge export: checkpoint -> fp32 ONNX (+ fp16 ONNX), each checked on real tiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lnet_edge.cli.common import console, user_errors
from lnet_edge.config import Preset


@user_errors
def export_command(
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", "-c", help=".pt checkpoint; default: the shipped model.")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="Image/mask folder whose validation tiles check parity (repeatable)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="fp32 .onnx path; default: export/<checkpoint name>.onnx.")
    ] = None,
    fp16: Annotated[
        bool, typer.Option("--fp16/--no-fp16", help="Also write <name>.fp16.onnx (fp32 inputs and outputs).")
    ] = True,
    preset: Annotated[Preset | None, typer.Option(help="Refuse a checkpoint of another width preset.")] = None,
    bands: Annotated[int | None, typer.Option(help="Refuse a checkpoint of another input band count.")] = None,
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 17,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files at the output names that lnet-edge did not write.")
    ] = False,
) -> None:
    """Export a checkpoint to ONNX (dynamic batch/height/width, logits out) and check it against
    PyTorch on real tiles; writes NAME.onnx, NAME.onnx.json and, by default, the fp16 model."""
    from lnet_edge.artifacts import check_targets
    from lnet_edge.defaults import DEFAULT_CHECKPOINT, SAMPLE_TILES
    from lnet_edge.errors import LnetError
    from lnet_edge.export.fp16 import fp16_from_onnx
    from lnet_edge.export.manifest import artifact_files
    from lnet_edge.export.onnx_export import ExportOptions, onnx_from_checkpoint

    checkpoint = checkpoint or DEFAULT_CHECKPOINT
    if not data and (SAMPLE_TILES / "images").is_dir():
        data = [SAMPLE_TILES]
    if not data:
        raise LnetError("export checks parity on real tiles: give an image/mask folder with --data")
    out = out or Path("export") / f"{checkpoint.stem}.onnx"
    if out.suffix != ".onnx":
        raise LnetError(f"--out {out} must end in .onnx")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise LnetError(f"--out {out}: {blocker} is a file, not a folder: choose another --out")
    half = out.with_name(f"{out.stem}.fp16.onnx")
    check_targets([*artifact_files(out), *(artifact_files(half) if fp16 else ())], overwrite)  # before any work
    options = ExportOptions(opset=opset, expect_preset=preset.value if preset else None, expect_bands=bands)
    path = onnx_from_checkpoint(checkpoint, out, data, options, overwrite)
    _print_parity(path)
    if fp16:
        _print_parity(fp16_from_onnx(path, half, data, overwrite=overwrite))


def _print_parity(path: Path) -> None:
    import json

    meta = json.loads(Path(f"{path}.json").read_text())
    for c in meta["parity"]["checks"]:
        console.print(
            f"{meta['precision']} vs {meta['parity']['reference']} on real tiles "
            f"{'x'.join(map(str, c['shape']))}: max |logit diff| {c['max_abs_diff']:.3g} "
            f"(allowed {c['allowed']:.3g}), sign agreement {100 * c['sign_agreement']:.4f} %"
        )
    console.print(f"wrote {path} and {path}.json")
