"""lnet-edge bench: every backend and precision of one checkpoint side by side."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer

from lnet_edge.cli.common import console, user_errors
from lnet_edge.errors import LnetError


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise LnetError(f"--{what} '{text}': give comma-separated integers, e.g. --{what} 1,4") from None


def default_data() -> list[Path]:
    """The RGB sets under $LNET_SHARED_DATA (default ../shared/data) when present."""
    from lnet_edge.export.tiles import RGB_SETS

    root = Path(os.environ.get("LNET_SHARED_DATA", "../shared/data"))
    found = [root / s for s in RGB_SETS if (root / s).is_dir()]
    if not found:
        raise LnetError(
            f"no validation data: {root} has none of {', '.join(RGB_SETS)}; give image/mask folders "
            "with --data (or set LNET_SHARED_DATA)"
        )
    return found


def _command(checkpoint: Path, data: list[Path], out: Path, work: Path, options) -> str:
    args = [
        "lnet-edge",
        "bench",
        str(checkpoint),
        *[a for d in data for a in ("--data", str(d))],
        "--batch",
        ",".join(map(str, options.batches)),
        "--tile",
        ",".join(map(str, options.tiles)),
        "--runs",
        str(options.runs),
        "--warmup",
        str(options.warmup),
        "--gsd",
        str(options.gsd_m),
        "--val-tiles",
        str(options.val_cap),
        "--out",
        str(out),
        "--work",
        str(work),
    ]
    if options.backends:
        args += ["--backends", ",".join(options.backends)]
    if options.threads:
        args += ["--threads", str(options.threads)]
    if options.cuda_graph:
        args.append("--cuda-graph")
    if options.field_scene:
        args += ["--field", str(options.field_scene), "--field-repeats", str(options.field_repeats)]
    if options.machine:
        args += ["--machine", options.machine]
    return shlex.join(args)


@user_errors
def bench_command(
    checkpoint: Annotated[
        Path | None, typer.Argument(help="The .pt every artifact is made from; default: the shipped model.")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            "-d",
            help="Image/mask folder (repeatable): calibration, parity and validation tiles. "
            "Default: the RGB sets under $LNET_SHARED_DATA or ../shared/data.",
        ),
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes to sweep, comma-separated.")] = "1,4",
    tile: Annotated[str, typer.Option(help="Square tile sides to sweep (multiples of 16), comma-separated.")] = "256",
    runs: Annotated[int, typer.Option(help="Timed calls per batch and tile.")] = 30,
    warmup: Annotated[int, typer.Option(help="Untimed calls before them.")] = 5,
    backends: Annotated[
        str | None, typer.Option(help="Only these backends or backend/precision keys, comma-separated (default: all).")
    ] = None,
    gsd: Annotated[float, typer.Option(help="Ground resolution, m/px, for km²/s.")] = 0.5,
    val_tiles: Annotated[int, typer.Option("--val-tiles", help="Validation tiles scored per entry.")] = 48,
    field: Annotated[Path | None, typer.Option(help="Also time the whole infer pipeline on this scene.")] = None,
    field_repeats: Annotated[int, typer.Option(help="Recorded passes over the --field scene.")] = 3,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads (default: the runtime's).")] = None,
    cuda_graph: Annotated[
        bool, typer.Option("--cuda-graph", help="TensorRT, ONNX Runtime CUDA: replay each call as a CUDA graph.")
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the JSON, markdown and PNG go.")] = Path(
        "bench/results"
    ),
    work: Annotated[Path, typer.Option(help="Artifact cache (reused while the checkpoint is unchanged).")] = Path(
        "runs/bench-work"
    ),
    machine: Annotated[str | None, typer.Option(help="Machine name in the file names (default: derived).")] = None,
) -> None:
    """Latency, throughput, memory and accuracy of every backend and precision, written under --out."""
    from lnet_edge.bench.run import BenchOptions, bench_from_checkpoint
    from lnet_edge.defaults import DEFAULT_CHECKPOINT

    checkpoint = checkpoint or DEFAULT_CHECKPOINT
    data = list(data) if data else default_data()
    options = BenchOptions(
        batches=_ints(batch, "batch"),
        tiles=_ints(tile, "tile"),
        runs=runs,
        warmup=warmup,
        backends=tuple(b.strip() for b in (backends or "").split(",") if b.strip()),
        gsd_m=gsd,
        threads=threads,
        val_cap=val_tiles,
        field_scene=field,
        field_repeats=field_repeats,
        machine=machine,
        cuda_graph=cuda_graph,
    )
    command = _command(checkpoint, data, out, work, options)
    report, paths = bench_from_checkpoint(
        checkpoint, data, out, work, options, command, say=lambda m: console.print(f"[dim]{m}[/]", highlight=False)
    )
    _print(report, paths)


def _print(report: dict, paths: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"lnet-edge bench on {report['machine_tag']}")
    for col in ("backend/precision", "batch", "tile", "mode", "p50 ms", "p99 ms", "tiles/s", "IoU", "flip"):
        table.add_column(col)
    for e in (e for e in report["entries"] if e["available"]):
        a = e.get("accuracy") or {}
        flip = a.get("flip_rate")
        for t in e["timings"]:
            table.add_row(
                e["key"],
                str(t["batch"]),
                str(t["tile"]),
                t["mode"],
                f"{t['p50_ms']:.1f}",
                f"{t['p99_ms']:.1f}",
                f"{t['tiles_per_s']:.2f}",
                f"{100 * a['iou']:.2f}" if a else "",
                f"{100 * flip:.3f} %" if flip is not None else "",
            )
    console.print(table)
    for e in (e for e in report["entries"] if not e["available"]):
        console.print(f"{e['key']}: [yellow]unavailable[/]: {escape(e['reason'])}", highlight=False, soft_wrap=True)
    for g in report["goals"]:
        verdict = "-" if g["met"] is None else ("[green]met" if g["met"] else "[red]not met")
        value = "not measured" if g["value"] is None else f"{g['value']:.2f}"
        console.print(
            f"{g['goal']}: {value} ({verdict}[/])" if g["met"] is not None else f"{g['goal']}: {value}", highlight=False
        )
    for kind, path in paths.items():
        console.print(f"{kind}: {path}", highlight=False, soft_wrap=True)
